"""Feedback's messaging adapter: one plain function per event type."""

from __future__ import annotations

from services.common.config import Settings
from services.common.consumer import Handler
from services.common.events import Event, utcnow
from services.common.unit_of_work import UnitOfWork
from services.feedback import domain, schemas, service

# Schemas are built once: building one costs more than a load (docs/performance.md).
CONTACT = schemas.ContactSchema()
TICKET_RESOLVED = schemas.TicketResolvedSchema()


def handlers(settings: Settings) -> dict[tuple[str, int], Handler]:
    rule = domain.SurgeRule.from_config(settings.desk.get("problems"))

    def ticket_created(unit: UnitOfWork, event: Event) -> None:
        service.record_contact(unit, CONTACT.load(event.data), rule)

    def ticket_resolved(unit: UnitOfWork, event: Event) -> None:
        service.request_survey(unit, TICKET_RESOLVED.load(event.data), utcnow())

    return {("ticket.created", 1): ticket_created, ("ticket.resolved", 1): ticket_resolved}
