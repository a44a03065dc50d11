"""The queue service's messaging adapter: one plain function per event type."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from services.common.consumer import Handler
from services.common.events import Event, to_utc, utcnow
from services.queue import schemas, service

# Schemas are built once: building one costs more than a load (docs/performance.md).
TICKET_CREATED = schemas.TicketCreatedSchema()
CUSTOMER_REPLIED = schemas.CustomerRepliedSchema()
FEEDBACK_RECEIVED = schemas.FeedbackReceivedSchema()
PROBLEM_RESOLVED = schemas.ProblemResolvedSchema()
NOTIFICATION = schemas.NotificationSchema()


def handlers(desk_config: Mapping[str, Any]) -> dict[tuple[str, int], Handler]:
    desk = service.Desk.from_config(desk_config)
    activity = service.KeptActivity()

    def ticket_created(conn: Connection, event: Event) -> service.AfterCommit:
        cause = service.Cause(event=event)
        service.receive_ticket(conn, desk, TICKET_CREATED.load(event.data), cause, activity)
        return cause.after_commit

    def customer_replied(conn: Connection, event: Event) -> service.AfterCommit:
        cause = service.Cause(event=event)
        service.customer_replied(conn, desk, CUSTOMER_REPLIED.load(event.data), cause)
        return cause.after_commit

    def feedback_received(conn: Connection, event: Event) -> service.AfterCommit:
        cause = service.Cause(event=event)
        data = FEEDBACK_RECEIVED.load(event.data)
        service.feedback_received(conn, data, utcnow(), cause)
        return cause.after_commit

    def problem_resolved(conn: Connection, event: Event) -> service.AfterCommit:
        cause = service.Cause(event=event)
        data = PROBLEM_RESOLVED.load(event.data)
        service.problem_resolved(conn, data, utcnow(), cause)
        return cause.after_commit

    def notification(outcome: str) -> Handler:
        def handle(conn: Connection, event: Event) -> None:
            data = NOTIFICATION.load(event.data)
            at = to_utc(datetime.fromisoformat(event.occurred_at))
            service.notification_recorded(conn, data, outcome, at)

        return handle

    return {
        ("ticket.created", 1): ticket_created,
        ("ticket.customer_replied", 1): customer_replied,
        ("feedback.received", 1): feedback_received,
        ("problem.resolved", 1): problem_resolved,
        ("notification.sent", 1): notification("sent"),
        ("notification.failed", 1): notification("failed"),
    }
