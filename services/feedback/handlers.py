"""Feedback's messaging adapter: one plain function per event type."""

from __future__ import annotations

from sqlalchemy import Connection

from services.common.consumer import Handler
from services.common.events import Event, utcnow
from services.feedback import schemas, service


def ticket_created(conn: Connection, event: Event) -> None:
    service.record_contact(conn, schemas.ContactSchema().load(event.data))


def ticket_resolved(conn: Connection, event: Event) -> None:
    service.request_survey(conn, schemas.TicketResolvedSchema().load(event.data), utcnow(), event)


def handlers() -> dict[tuple[str, int], Handler]:
    return {("ticket.created", 1): ticket_created, ("ticket.resolved", 1): ticket_resolved}
