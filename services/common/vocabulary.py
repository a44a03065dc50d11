"""The contract's words every service and front-end shares (docs/ARCHITECTURE.md), and the
one rule for which language a customer is addressed in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHANNELS = ("web", "email", "phone", "chat", "walk_in", "callback")
LANGUAGES = ("nl", "en")
PRIORITIES = (1, 2, 3, 4)  # 1 is the highest
LEVELS = ("high", "medium", "low")  # of impact and urgency (ITIL), which give the priority
DEFAULT_LANGUAGE = "nl"  # when the desk configuration names none
# A ticket's statuses, in the order of its life (the queue keeps them).
STATUSES = (
    "queued",
    "in_progress",
    "waiting_on_customer",
    "waiting_on_third_party",
    "resolved",
    "closed",
    "cancelled",
)
# Every event of the contract (section 3), version 1, and the service that publishes it.
EVENTS = {
    "ticket.created": "intake",
    "ticket.customer_replied": "intake",
    "appointment.checked_in": "intake",
    "appointment.cancelled": "intake",
    "appointment.moved": "intake",
    "ticket.queued": "queue",
    "ticket.assigned": "queue",
    "ticket.status_changed": "queue",
    "ticket.transferred": "queue",
    "ticket.resolved": "queue",
    "ticket.reopened": "queue",
    "ticket.sla_breached": "queue",
    "ticket.message_added": "queue",
    "ticket.turn_near": "queue",
    "survey.requested": "feedback",
    "feedback.received": "feedback",
    "problem.detected": "feedback",
    "problem.resolved": "feedback",
    "notification.sent": "notify",
    "notification.failed": "notify",
}


def language(asked: Any, default: str = DEFAULT_LANGUAGE) -> str:
    """`asked` when it is one of the contract's languages, else `default` (the desk's)."""
    return asked if asked in LANGUAGES else default


def desk_language(desk: Mapping[str, Any]) -> str:
    """The desk's own language (`default_language` in its configuration)."""
    return language(desk.get("default_language"))


# Days as people write them in a range ("ma-vr 08:00-17:00", "Mon-Fri 08:00-17:00").
DAY_NAMES = {
    "nl": {"mon": "ma", "tue": "di", "wed": "wo", "thu": "do", "fri": "vr", "sat": "za",
           "sun": "zo"},
    "en": {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri", "sat": "Sat",
           "sun": "Sun"},
}  # fmt: skip
