"""Intake's rules, free of Flask, SQL and the broker: priority, references, tokens, and
the events a new request or a customer's reply causes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from services.common.events import isoformat, to_utc
from services.common.hashing import secret_digest
from services.common.vocabulary import DEFAULT_LANGUAGE, language
from services.intake.catalogue import UNCLASSIFIED, Catalogue, Category
from services.intake.inbound_email import InboundEmail

REFERENCE_PREFIX = "LKT-"


def derive_priority(
    default: int,
    impact: str | None,
    urgency: str | None,
    matrix: Mapping[str, Mapping[str, int]],
) -> int:
    """ITIL impact x urgency; the category's default when the customer did not say both."""
    if impact is None or urgency is None:
        return default
    return int(matrix[impact][urgency])


def reference_for(sequence: int) -> str:
    """References are derived from the request's sequence number, never stored apart."""
    return f"{REFERENCE_PREFIX}{sequence:06d}"


def sequence_of(reference: str) -> int | None:
    digits = reference.removeprefix(REFERENCE_PREFIX)
    if not reference.startswith(REFERENCE_PREFIX) or len(digits) < 6 or not digits.isdigit():
        return None
    return int(digits)


def new_tracking_token() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def new_reply_token() -> str:
    """130 random bits in lower-case base32: mail systems may lower-case an address."""
    return base64.b32encode(secrets.token_bytes(17)).decode().rstrip("=").lower()[:26]


def body_digest(body: Any) -> str:
    """The same JSON document in any key order or spacing gives the same digest."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class NewRequest:
    id: str
    tracking_token: str
    reply_token: str
    row: dict[str, Any]


def new_request(
    submitted: Mapping[str, Any],
    category: Category,
    catalogue: Catalogue,
    submitted_by: str,
    now: datetime,
    default_language: str = DEFAULT_LANGUAGE,
) -> NewRequest:
    """A request as the desk stores it: queue and priority come from the catalogue; a
    requester who named no language is addressed in the desk's."""
    token = new_tracking_token()
    reply_token = new_reply_token()
    started = submitted.get("contact_started_at")
    callback = submitted.get("callback")
    row = {
        "id": str(uuid.uuid4()),
        "tracking_token_sha256": secret_digest(token),
        "reply_token_sha256": secret_digest(reply_token),
        "submitted_by": submitted_by,
        "channel": submitted["channel"],
        "category": category.id,
        "queue": category.queue,
        "priority": derive_priority(
            category.default_priority,
            submitted.get("impact"),
            submitted.get("urgency"),
            catalogue.priority_matrix,
        ),
        "impact": submitted.get("impact"),
        "urgency": submitted.get("urgency"),
        "subject": submitted["subject"],
        "description": submitted["description"],
        "fields": dict(submitted.get("fields") or {}),
        "requester": {
            **submitted["requester"],
            "language": language(submitted["requester"].get("language"), default_language),
        },
        "callback": {k: isoformat(to_utc(v)) for k, v in callback.items()} if callback else None,
        "resolved_on_contact": bool(submitted.get("resolved_on_contact")),
        "resolution": submitted.get("resolution"),
        "contact_started_at": to_utc(started) if started else None,
        "contact_wait_seconds": submitted.get("contact_wait_seconds"),
        "attachments": submitted.get("attachments"),
        "created_at": now,
        # Resolved at the counter or on the phone: settled from the start (a reply reopens
        # it within the reopen window, and starts anew after it).
        **settled_state("resolved" if submitted.get("resolved_on_contact") else None, now),
    }
    return NewRequest(row["id"], token, reply_token, row)


SETTLED = frozenset({"resolved", "closed"})


def settled_state(status: str | None, at: datetime) -> dict[str, Any]:
    """What intake keeps of the queue's status: enough to tell where a reply goes."""
    if status is None:
        return {"status": None, "status_at": None, "settled_at": None}
    return {"status": status, "status_at": at, "settled_at": at if status in SETTLED else None}


def reply_starts_anew(
    status: str | None, settled_at: datetime | None, at: datetime, reopen_window: timedelta
) -> bool:
    """A reply to a closed request, or to one resolved longer ago than the reopen window,
    becomes a new request that refers to the old one; the queue reopens one resolved
    within the window (both read the desk's `reopen_window_days`)."""
    if status == "closed":
        return True
    return (
        status == "resolved" and settled_at is not None and at - to_utc(settled_at) > reopen_window
    )


def follow_up_request(
    request: Mapping[str, Any],
    catalogue: Catalogue,
    channel: str,
    subject: str,
    message: str,
    attachments: Any = None,
) -> dict[str, Any]:
    """The new request a late reply becomes: the old one's category (while the catalogue
    still has it), answers and requester, and its reference in `fields.related_reference`
    for the agent to look it up."""
    category = request["category"]
    return {
        "channel": channel,
        "category": category if category in catalogue.categories else UNCLASSIFIED,
        "impact": request["impact"],
        "urgency": request["urgency"],
        "subject": subject or request["subject"],
        "description": message,
        "fields": {**(request["fields"] or {}), "related_reference": reference_for(request["seq"])},
        "requester": dict(request["requester"]),
        "attachments": attachments or None,
    }


def request_from_email(
    email: InboundEmail,
    catalogue: Catalogue,
    default_language: str,
    related_reference: str | None = None,
    detect_language: Callable[[str], str | None] = lambda _text: None,
) -> dict[str, Any]:
    """An e-mail is never refused: it becomes an unclassified request, and the customer
    is invited to complete the form. One that names a request it may not add to refers to
    it instead (`fields.related_reference`), for the agent to judge. Its language is the
    one it declares, else the one it is written in, else the desk's default."""
    language = email.language if email.language in ("nl", "en") else None
    language = language or detect_language(f"{email.subject}\n{email.body}") or default_language
    return {
        "channel": "email",
        "category": UNCLASSIFIED,
        "subject": email.subject or "(no subject)",
        "description": email.body or "(no text)",
        "fields": {"related_reference": related_reference} if related_reference else {},
        "requester": {
            "name": email.sender_name,
            "email": email.sender_address,
            "phone": None,
            "language": language,
            "preferred_contact": "email",
        },
        "attachments": email.attachments or None,
    }


def email_identity(email: InboundEmail) -> str:
    """What makes two deliveries the same message: its Message-ID, its sender and its
    content. A Message-ID alone is chosen by the sender, so anyone could predict or reuse
    one (and once got another message's answer and tracking token back)."""
    parts = (email.message_id, email.sender_address, email.subject, email.body)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


# `desk+lkt-000123.<reply token>@example.org`: the Reply-To notify writes (decision 0017).
REPLY_ADDRESS = re.compile(r"\+(lkt-\d{6,})\.([a-z2-7]{26})@", re.IGNORECASE)
_AUTHENTICATED = re.compile(
    r"\b(?:dmarc=pass\b[^;]*\bheader\.from=|dkim=pass\b[^;]*\bheader\.d=)([^\s;]+)",
    re.IGNORECASE,
)


def reply_address_token(email: InboundEmail) -> tuple[str, str] | None:
    """The reference and reply token in the address the message was sent to, if any."""
    for recipient in email.recipients:
        found = REPLY_ADDRESS.search(recipient)
        if found:
            return found.group(1).upper(), found.group(2).lower()
    return None


def authserv_id(results: str) -> str:
    """The server that wrote an `Authentication-Results` header (RFC 8601: its first word)."""
    words = results.split(";", 1)[0].split()
    return words[0].lower() if words else ""


def sender_authenticated(email: InboundEmail, trusted_authserv_id: str | None) -> bool:
    """The desk's own receiving server reports DMARC or DKIM passing for the sender's own
    domain. Anyone can write an `Authentication-Results` header into a message: only the
    topmost one that names the desk's server (which adds its own on top) is its word, and
    with no such server named, no header is (RFC 8601, section 5)."""
    if not trusted_authserv_id:
        return False
    ours = [r for r in email.authentication_results if authserv_id(r) == trusted_authserv_id]
    if not ours:
        return False
    domain = email.sender_address.rpartition("@")[2]
    return any(
        found.group(1).strip(".").lower() == domain for found in _AUTHENTICATED.finditer(ours[0])
    )


def is_reply_from_requester(
    email: InboundEmail, request: Mapping[str, Any], trusted_authserv_id: str | None = None
) -> bool:
    """A reference alone is no key, and neither is a From header anyone can write: the
    reply carries the request's reply token, or comes from the requester's address with
    the gateway's word that the sender's domain signed it."""
    addressed = reply_address_token(email)
    stored = request.get("reply_token_sha256")
    if addressed is not None and stored:
        reference, token = addressed
        if reference == reference_for(request["seq"]) and hmac.compare_digest(
            secret_digest(token), stored
        ):
            return True
    requester = ((request["requester"] or {}).get("email") or "").lower()
    return (
        bool(requester)
        and requester == email.sender_address
        and sender_authenticated(email, trusted_authserv_id)
    )


# Channels on which the desk's own people took the request down (an agent on the phone,
# at the counter): the name and subject are the desk's record, not a stranger's typing.
STAFFED_CHANNELS = frozenset({"phone", "walk_in"})


def requester_verified(channel: str, sender_authenticated: bool = False) -> bool:
    """Whether the name and subject may be repeated to the requester's address: anyone can
    type any address into a web form or forge a `From`, and the desk's mail must not carry
    their words to a stranger (issue 33, 6)."""
    return channel in STAFFED_CHANNELS or (channel == "email" and sender_authenticated)


def needs_counter_number(submitted: Mapping[str, Any]) -> bool:
    """A person who came by and waits for the counter; not one served on the spot."""
    return submitted["channel"] == "walk_in" and not submitted.get("resolved_on_contact")


def counter_day(now: datetime, zone: tzinfo) -> str:
    """The desk's day, over which counter numbers count up: midnight where the desk is."""
    return now.astimezone(zone).date().isoformat()


def ticket_number(prefix: str, n: int) -> str:
    """What the display shows and an agent says aloud: "B-014"."""
    return f"{prefix}-{n:03d}"


def ticket_created_data(
    row: Mapping[str, Any],
    reference: str,
    token: str,
    reply_token: str,
    verified: bool = False,
) -> dict[str, Any]:
    """The `ticket.created` data of the contract; the only place the plain tokens travel
    (notify writes them into the status link and the Reply-To address)."""
    started = row["contact_started_at"]
    data = {
        "ticket_id": row["id"],
        "reference": reference,
        "channel": row["channel"],
        "category": row["category"],
        "queue": row["queue"],
        "priority": row["priority"],
        "subject": row["subject"],
        "description": row["description"],
        "fields": row["fields"],
        "requester": row["requester"],
        "requester_verified": verified,
        "tracking_token": token,
        "reply_token": reply_token,
        "created_at": isoformat(row["created_at"]),
        "contact_started_at": isoformat(started or row["created_at"]),
        "resolved_on_contact": row["resolved_on_contact"],
        "resolution": row["resolution"],
        "impact": row["impact"],
        "urgency": row["urgency"],
        "attachments": row["attachments"],
        "submitted_by": row["submitted_by"],
    }
    if row.get("ticket_number"):
        data["ticket_number"] = row["ticket_number"]
    if row["callback"]:
        data["callback"] = row["callback"]
    if row["contact_wait_seconds"] is not None:
        data["contact_wait_seconds"] = row["contact_wait_seconds"]
    return data


def customer_replied_data(
    request: Mapping[str, Any],
    channel: str,
    message: str,
    received_at: datetime,
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    data = {
        "ticket_id": request["id"],
        "reference": reference_for(request["seq"]),
        "channel": channel,
        "message": message,
        "received_at": isoformat(received_at),
    }
    if attachments:
        data["attachments"] = attachments
    return data


# A media type as RFC 6838 writes one; anything else is served as plain bytes.
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


def kept_attachments(email: InboundEmail) -> tuple[InboundEmail, list[dict[str, Any]]]:
    """The e-mail with each attachment named by a new id (what the events and the ticket
    list), and the files to keep under those ids."""
    named, files = [], []
    for described, content in zip(email.attachments, email.contents, strict=False):
        attachment_id = str(uuid.uuid4())
        declared = str(described.get("content_type") or "").lower()
        content_type = declared if MEDIA_TYPE.fullmatch(declared) else "application/octet-stream"
        named.append({**described, "id": attachment_id, "content_type": content_type})
        files.append(
            {
                "id": attachment_id,
                "filename": described.get("filename"),
                "content_type": content_type,
                "size": len(content),
                "content": content,
            }
        )
    return replace(email, attachments=named), files
