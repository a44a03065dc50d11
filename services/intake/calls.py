"""The phone system's calls: numbers as the desk keeps them, what a call's end means, and
the call-back a caller who hung up gets. Plain rules, free of Flask and SQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

import phonenumbers

from services.common.events import isoformat, to_utc

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


@dataclass
class CallCounts:
    """One day's (or the period's) inbound calls as the supervisor reads them."""

    offered: int = 0  # every call that came in and ended, but a forwarded one
    answered: int = 0
    answered_in_time: int = 0  # within the desk file's calls.service_level_seconds
    abandoned: int = 0
    callbacks: int = 0  # call-backs the abandoned calls made or found
    answer_seconds: float = 0.0

    def add(self, call: Any, in_time: timedelta) -> None:
        if call.cause == "forwarded" and call.answered_at is None:
            return
        if call.answered_at is None and call.ended_at is None:
            return  # still ringing: not yet answered nor abandoned
        self.offered += 1
        if call.answered_at is not None:
            waited = call.answered_at - call.started_at
            self.answered += 1
            self.answered_in_time += waited <= in_time
            self.answer_seconds += waited.total_seconds()
        else:
            self.abandoned += 1
            self.callbacks += call.request_id is not None

    def shown(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_in_time": self.answered_in_time,
            "abandoned": self.abandoned,
            "callbacks": self.callbacks,
            "service_level": self.answered_in_time / self.offered if self.offered else None,
            "abandoned_share": self.abandoned / self.offered if self.offered else None,
            "mean_answer_seconds": (
                round(self.answer_seconds / self.answered, 1) if self.answered else None
            ),
        }


def calls_report(inbound: Iterable[Any], rules: CallRules, zone: tzinfo) -> dict[str, Any]:
    """Inbound calls per day (in the desk's zone) and for the whole period: offered,
    answered (and within the service level's seconds), abandoned and the call-backs they
    got. The service level is the share of offered calls answered in time; a forwarded
    call was not the desk's to answer."""
    in_time = timedelta(seconds=rules.service_level_seconds)
    days: dict[str, CallCounts] = {}
    total = CallCounts()
    for call in inbound:
        started = _utc(call.started_at)
        call = _Call(started, _utc(call.answered_at), _utc(call.ended_at), call.cause,
                     call.request_id)  # fmt: skip
        days.setdefault(started.astimezone(zone).date().isoformat(), CallCounts()).add(
            call, in_time
        )
        total.add(call, in_time)
    return {
        "service_level_seconds": rules.service_level_seconds,
        "days": [{"day": day, **counts.shown()} for day, counts in sorted(days.items())],
        "total": total.shown(),
    }


@dataclass(frozen=True)
class _Call:
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    cause: str | None
    request_id: str | None


def _utc(moment: datetime | None) -> datetime | None:
    return to_utc(moment) if moment is not None else None


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
