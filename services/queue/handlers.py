"""The queue service's messaging adapter: one plain function per event type."""

from __future__ import annotations

from datetime import datetime

from services.common.config import Settings
from services.common.consumer import Handler
from services.common.events import Event, to_utc, utcnow
from services.common.unit_of_work import UnitOfWork
from services.queue import schemas, service

# Schemas are built once: building one costs more than a load (docs/performance.md).
TICKET_CREATED = schemas.TicketCreatedSchema()
CUSTOMER_REPLIED = schemas.CustomerRepliedSchema()
CHECKED_IN = schemas.AppointmentCheckedInSchema()
APPOINTMENT_CANCELLED = schemas.AppointmentCancelledSchema()
APPOINTMENT_MOVED = schemas.AppointmentMovedSchema()
FEEDBACK_RECEIVED = schemas.FeedbackReceivedSchema()
PROBLEM_RESOLVED = schemas.ProblemResolvedSchema()
NOTIFICATION = schemas.NotificationSchema()


def handlers(settings: Settings) -> dict[tuple[str, int], Handler]:
    desk = service.Desk.from_config(settings.desk)
    activity = service.KeptActivity()

    def ticket_created(unit: UnitOfWork, event: Event) -> None:
        service.receive_ticket(unit, desk, TICKET_CREATED.load(event.data), activity)

    def customer_replied(unit: UnitOfWork, event: Event) -> None:
        service.customer_replied(unit, desk, CUSTOMER_REPLIED.load(event.data))

    def checked_in(unit: UnitOfWork, event: Event) -> None:
        service.checked_in(unit, CHECKED_IN.load(event.data))

    def appointment_cancelled(unit: UnitOfWork, event: Event) -> None:
        service.appointment_cancelled(unit, APPOINTMENT_CANCELLED.load(event.data))

    def appointment_moved(unit: UnitOfWork, event: Event) -> None:
        service.appointment_moved(unit, APPOINTMENT_MOVED.load(event.data))

    def feedback_received(unit: UnitOfWork, event: Event) -> None:
        service.feedback_received(unit, FEEDBACK_RECEIVED.load(event.data), utcnow())

    def problem_resolved(unit: UnitOfWork, event: Event) -> None:
        service.problem_resolved(unit, PROBLEM_RESOLVED.load(event.data), utcnow())

    def notification(outcome: str) -> Handler:
        def handle(unit: UnitOfWork, event: Event) -> None:
            at = to_utc(datetime.fromisoformat(event.occurred_at))
            service.notification_recorded(unit, NOTIFICATION.load(event.data), outcome, at)

        return handle

    return {
        ("ticket.created", 1): ticket_created,
        ("ticket.customer_replied", 1): customer_replied,
        ("appointment.checked_in", 1): checked_in,
        ("appointment.cancelled", 1): appointment_cancelled,
        ("appointment.moved", 1): appointment_moved,
        ("feedback.received", 1): feedback_received,
        ("problem.resolved", 1): problem_resolved,
        ("notification.sent", 1): notification("sent"),
        ("notification.failed", 1): notification("failed"),
    }
