"""The phone system's calls: numbers as the desk keeps them, what a call's end means, and
the call-back a caller who hung up gets. Plain rules, free of Flask and SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers

from services.common.events import isoformat

# Zammad's generic CTI: the events, directions and hangup causes a phone system sends.
EVENTS = ("newCall", "answer", "hangup")
DIRECTIONS = ("in", "out")
CAUSES = ("normalClearing", "busy", "cancel", "noAnswer", "congestion", "notFound", "forwarded")
# A call's states as the desk keeps them.
RINGING, ANSWERED, ENDED = "ringing", "answered", "ended"


@dataclass(frozen=True)
class CallRules:
    """The desk file's `calls`."""

    default_region: str = "NL"
    callback_grace: timedelta = timedelta(minutes=10)
    service_level_seconds: int = 20
    category: str = "unclassified"
    queue: str | None = None

    @classmethod
    def from_config(cls, calls: Mapping[str, Any] | None) -> CallRules:
        calls = calls or {}
        return cls(
            calls.get("default_region", cls.default_region),
            timedelta(minutes=calls.get("callback_grace_minutes", 10)),
            calls.get("service_level_seconds", cls.service_level_seconds),
            calls.get("category", cls.category),
            calls.get("queue"),
        )


def e164(number: str | None, region: str) -> str | None:
    """A number as the desk keeps it ("+31205550100"), or None for a number hidden
    ("anonymous") or not a real one."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def outcome(direction: str, answered: bool, cause: str | None) -> str:
    """How a call ended, as counted: answered, forwarded, or, unanswered, abandoned (a
    caller who gave up) or not reached (a call of the desk's that nobody took)."""
    if answered:
        return "answered"
    if cause == "forwarded":
        return "forwarded"
    return "abandoned" if direction == "in" else "not_reached"


def deserves_callback(
    direction: str, answered: bool, cause: str | None, number: str | None
) -> bool:
    """An inbound call that ended before anyone answered, of a number the desk can call."""
    return outcome(direction, answered, cause) == "abandoned" and number is not None


# What a call-back made for a caller who hung up says, in the desk's language.
MISSED = {
    "en": {
        "subject": "Missed call",
        "description": "Called on {day} at {at} and hung up after {waited} before anyone "
        "answered. Please call back.",
        "caller": "Caller",
    },
    "nl": {
        "subject": "Gemiste oproep",
        "description": "Belde op {day} om {at} en hing na {waited} op voordat iemand "
        "opnam. Bel graag terug.",
        "caller": "Beller",
    },
}


def _waited(seconds: float) -> str:
    minutes, rest = divmod(max(0, round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def missed_call_request(
    number: str,
    started_at: datetime,
    ended_at: datetime,
    known: Mapping[str, Any] | None,
    rules: CallRules,
    language: str,
    zone: Any,
) -> dict[str, Any]:
    """The call-back request for a caller who hung up: their place counts from the moment
    they called; who they are comes from their last request when the number matches."""
    words = MISSED.get(language, MISSED["en"])
    local = started_at.astimezone(zone)
    requester: dict[str, Any] = {
        "name": (known or {}).get("name") or words["caller"],
        "phone": number,
        "language": (known or {}).get("language") or language,
        "preferred_contact": "sms",
    }
    if (known or {}).get("email"):
        requester["email"] = known["email"]
    waited = (ended_at - started_at).total_seconds()
    return {
        "channel": "callback",
        "category": rules.category,
        "subject": words["subject"],
        "description": words["description"].format(
            day=local.strftime("%d-%m-%Y"),
            at=local.strftime("%H:%M"),
            waited=_waited(waited),
        ),
        "fields": {},
        "requester": requester,
        "contact_started_at": isoformat(started_at),
        "contact_wait_seconds": waited,
    }
