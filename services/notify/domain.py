"""What notify decides, as plain functions: which message, to whom, on which medium.

Nothing here knows Flask, the broker or the database.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from services.common.vocabulary import LANGUAGES

EMAIL, SMS, WEBHOOK = "email", "sms", "webhook"
MEDIA = (EMAIL, SMS, WEBHOOK)

# The event types notify receives (contract section 2); a subscription may ask for these.
DELIVERABLE_TYPES = (
    "ticket.created",
    "ticket.customer_replied",
    "ticket.queued",
    "ticket.assigned",
    "ticket.status_changed",
    "ticket.transferred",
    "ticket.resolved",
    "ticket.reopened",
    "ticket.sla_breached",
    "ticket.message_added",
    "ticket.turn_near",
    "survey.requested",
    "problem.detected",
    "appointment.moved",
)

# Secrets that open a customer's request or survey stay between Loket and that customer:
# the organisation's systems get the event without them.
REDACTED_FIELDS = ("tracking_token", "survey_token", "reply_token")

SMS_MAX_CHARS = 306  # two concatenated SMS parts


@dataclass(frozen=True)
class Contact:
    """How to reach a requester, as `ticket.created` told it."""

    name: str
    email: str | None
    phone: str | None
    language: str
    preferred_contact: str

    @classmethod
    def from_requester(cls, requester: Mapping[str, Any]) -> Contact:
        language = requester.get("language")
        return cls(
            name=requester.get("name") or "",
            email=requester.get("email") or None,
            phone=requester.get("phone") or None,
            language=language if language in LANGUAGES else LANGUAGES[0],
            preferred_contact=requester.get("preferred_contact") or EMAIL,
        )


CUSTOMER_MEDIA = (EMAIL, SMS)
NOT_CONFIGURED = {
    EMAIL: "no mail transport is configured (LOKET_SMTP_URL)",
    SMS: "no SMS gateway is configured (LOKET_SMS_GATEWAY_URL)",
}


def choose_medium(contact: Contact, available: Iterable[str]) -> tuple[str, str] | None:
    """The requester's preferred medium, else e-mail, else SMS; None for nobody to reach.

    `none` means the requester asked not to be messaged. A preference for a phone call
    cannot be served by a message, so it falls back like any other.
    """
    if contact.preferred_contact == "none":
        return None
    available = set(available)
    reachable = {EMAIL: contact.email, SMS: contact.phone}
    order = [contact.preferred_contact, EMAIL, SMS]
    for medium in order:
        if medium in available and reachable.get(medium):
            return medium, reachable[medium]
    return None


def customer_message(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The template that tells the customer about this event, or None when nothing does.

    Internal matters (queued, SLA breaches, notes agents keep to themselves, the customer's
    own reply) are not news to the customer.
    """
    if event_type == "ticket.created":
        if data.get("resolved_on_contact"):
            return None
        if data.get("appointment"):
            return "appointment"
        if data.get("callback"):
            return "callback"
        # A call-back for no particular time (a caller who hung up, say): they keep their
        # place, and may choose a time.
        return "callback_any_time" if data.get("channel") == "callback" else "received"
    if event_type == "ticket.assigned":
        return "in_progress"
    if event_type == "ticket.status_changed":
        return _status_message(data)
    if event_type == "ticket.resolved":
        # A contact solved on the spot: the customer was there; the survey follows.
        return None if data.get("created_at") == data.get("resolved_at") else "resolved"
    if event_type == "notify.appointment_reminder":
        return "appointment_reminder"
    if event_type == "appointment.moved":
        return "appointment_moved"
    if event_type == "ticket.turn_near":
        return "turn_near"
    return {
        "ticket.message_added": "update",
        "ticket.transferred": "transferred",
        "ticket.reopened": "reopened",
        "survey.requested": "survey",
    }.get(event_type)


def _status_message(data: Mapping[str, Any]) -> str | None:
    to, came_from = data.get("to"), data.get("from")
    if to == "waiting_on_customer" and data.get("reason") == "callback_not_reached":
        return "callback_new_time"
    if to == "waiting_on_customer":
        return "waiting_on_customer"
    if to == "cancelled":
        return "cancelled"
    if to in ("resolved", "closed") or came_from == "resolved":
        return None  # `ticket.resolved` and `ticket.reopened` say it better
    return "update" if data.get("public_note") else None


# Subscriptions

_PATTERN_RE = re.compile(r"^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$")


def pattern_matches(pattern: str, event_type: str) -> bool:
    """`*` is every event; `ticket.*` every ticket event; otherwise the exact type."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def is_known_pattern(pattern: str) -> bool:
    """A pattern that can ever match: a typo must not subscribe to silence."""
    return bool(_PATTERN_RE.match(pattern)) and any(
        pattern_matches(pattern, t) for t in DELIVERABLE_TYPES
    )


def subscribed(patterns: Iterable[str], event_type: str) -> bool:
    return any(pattern_matches(p, event_type) for p in patterns)


REFUSED_BY_POLICY = "refused by policy: the receiver's address is not public"


def webhook_address_allowed(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    allowed_networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> bool:
    """Webhooks go to public addresses: never loopback, link-local (cloud metadata at
    169.254.169.254), private, shared or reserved ones, unless the operator named the
    network (LOKET_WEBHOOK_ALLOWED_NETWORKS)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed_networks):
        return True
    return address.is_global and not address.is_multicast


def reply_address(mailbox: str, reference: str, token: str) -> str:
    """`desk+lkt-000123.<token>@example.org`: a reply to it is the requester's (decision
    0017); sub-addressing delivers it to the desk's own mailbox."""
    local, _, domain = mailbox.rpartition("@")
    return f"{local}+{reference.lower()}.{token}@{domain}"


def webhook_body(envelope: Mapping[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in envelope["data"].items() if k not in REDACTED_FIELDS}
    return {**envelope, "data": data}


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`X-Loket-Signature`: HMAC-SHA256 of "<t>.<body>", as the contract says."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


# Retries

PERMANENT = "permanent"
RETRYABLE = "retryable"


def webhook_verdict(status: int) -> str | None:
    """None for delivered; a 4xx (but a timeout or throttling) is not worth repeating."""
    if 200 <= status < 300:
        return None
    if status in (408, 425, 429) or status >= 500:
        return RETRYABLE
    return PERMANENT


def smtp_verdict(code: int) -> str:
    """SMTP replies 4xx are transient by definition (RFC 5321); 5xx are final."""
    return RETRYABLE if 400 <= code < 500 else PERMANENT


def next_delay_ms(delays_ms: tuple[int, ...], attempt: int) -> int | None:
    """The wait before attempt `attempt + 1`, or None when attempts are used up."""
    return delays_ms[attempt - 1] if attempt <= len(delays_ms) else None


# What agents and logs may see of a recipient


def mask_email(address: str) -> str:
    """The domain is after the last "@": a quoted local part may hold one of its own."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local and domain else "***"


def mask_phone(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return f"***{digits[-2:]}" if len(digits) >= 4 else "***"


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def masked(medium: str, recipient: str) -> str:
    return {EMAIL: mask_email, SMS: mask_phone, WEBHOOK: mask_url}[medium](recipient)


def short_text(text: str, limit: int = SMS_MAX_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_EMAIL_IN_TEXT = re.compile(r"(?:\"[^\"]*\"|[^\s<>@\"']+)@[^\s<>@\"']+")
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s-]{6,}\d")


def scrub(text: str) -> str:
    """A receiver's error message with the addresses in it masked, fit for logs and agents."""
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group()), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)[:500]
