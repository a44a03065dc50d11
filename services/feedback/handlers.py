"""Feedback's messaging adapter: one plain function per event type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from services.common.consumer import Handler
from services.common.events import Event, utcnow
from services.feedback import domain, schemas, service

# Schemas are built once: building one costs more than a load (docs/performance.md).
CONTACT = schemas.ContactSchema()
TICKET_RESOLVED = schemas.TicketResolvedSchema()


def handlers(desk: Mapping[str, Any] | None = None) -> dict[tuple[str, int], Handler]:
    rule = domain.SurgeRule.from_config((desk or {}).get("problems"))

    def ticket_created(conn: Connection, event: Event) -> None:
        service.record_contact(conn, CONTACT.load(event.data), rule, event)

    def ticket_resolved(conn: Connection, event: Event) -> None:
        data = TICKET_RESOLVED.load(event.data)
        service.request_survey(conn, data, utcnow(), event)

    return {("ticket.created", 1): ticket_created, ("ticket.resolved", 1): ticket_resolved}
