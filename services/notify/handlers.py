"""Notify's messaging adapter: every consumed event type, validated, then planned."""

from __future__ import annotations

from marshmallow import Schema

from services.common.config import Settings
from services.common.consumer import Handler
from services.common.events import Event, utcnow
from services.common.unit_of_work import UnitOfWork
from services.notify import schemas, service
from services.notify.sender import notifier_for, transports_for
from services.notify.service import Notifier

SCHEMAS: dict[str, type[Schema]] = {
    "ticket.created": schemas.TicketCreatedSchema,
    "ticket.customer_replied": schemas.TicketEventSchema,
    "ticket.queued": schemas.TicketEventSchema,
    "ticket.assigned": schemas.TicketEventSchema,
    "ticket.status_changed": schemas.StatusChangedSchema,
    "ticket.transferred": schemas.TicketEventSchema,
    "ticket.resolved": schemas.TicketResolvedSchema,
    "ticket.reopened": schemas.TicketEventSchema,
    "ticket.sla_breached": schemas.TicketEventSchema,
    "ticket.message_added": schemas.MessageAddedSchema,
    "survey.requested": schemas.SurveyRequestedSchema,
    "problem.detected": schemas.ProblemDetectedSchema,
    "appointment.moved": schemas.AppointmentMovedSchema,
    "ticket.turn_near": schemas.TurnNearSchema,
}


def handlers(
    settings: Settings, notifier: Notifier | None = None
) -> dict[tuple[str, int], Handler]:
    """`notifier` is the worker's, which its sender shares; by default one of its own."""
    notifier = notifier or notifier_for(settings, transports_for(settings))

    def handler_for(schema: type[Schema]) -> Handler:
        loader = schema()  # built once: building one costs more than a load

        def handle(unit: UnitOfWork, event: Event) -> None:
            service.handle_event(unit, notifier, event, loader.load(event.data), utcnow())

        return handle

    return {(event_type, 1): handler_for(schema) for event_type, schema in SCHEMAS.items()}
