"""Queue discipline (contract section 5), free of Flask, SQL and the broker."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

STATUSES = (
    "queued",
    "in_progress",
    "waiting_on_customer",
    "waiting_on_third_party",
    "resolved",
    "closed",
    "cancelled",
)
# Channels where a person was already waiting when the request was made: their clock
# starts at first contact, so leaving the hold line for a call-back keeps their place.
LIVE_CHANNELS = frozenset({"phone", "chat", "walk_in", "callback"})

PUBLIC_MESSAGES = {
    "en": {
        "queued": "We received your request; it is waiting for the next available agent.",
        "resolved": "Your request was resolved.",
        "customer_replied": "We received your message; it was added to your request.",
    },
    "nl": {
        "queued": "We hebben je verzoek ontvangen; het wacht op de eerstvolgende medewerker.",
        "resolved": "Je verzoek is opgelost.",
        "customer_replied": "We hebben je bericht ontvangen en bij je verzoek gevoegd.",
    },
}


def clock_start(
    channel: str, created_at: datetime, contact_started_at: datetime | None
) -> datetime:
    if channel in LIVE_CHANNELS and contact_started_at is not None:
        return min(contact_started_at, created_at)
    return created_at


def first_response_target(priority: int, channel: str, sla: Mapping[str, Any]) -> timedelta:
    per_channel = (sla.get("channel_first_response_minutes") or {}).get(channel) or {}
    minutes = per_channel.get(priority) or sla["first_response_minutes"][priority]
    return timedelta(minutes=int(minutes))


def due_at(start: datetime, priority: int, channel: str, sla: Mapping[str, Any]) -> datetime:
    return start + first_response_target(priority, channel, sla)


def public_message(status: str, language: str) -> str | None:
    return PUBLIC_MESSAGES.get(language, PUBLIC_MESSAGES["en"]).get(status)
