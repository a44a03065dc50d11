"""Every event a service consumes is stored with text beyond ASCII in every text field, on
SQLite and PostgreSQL.

An e-mail from "Jürgen" was once accepted by intake and then failed in the queue and in
notify, was retried and dead-lettered: the customer had a reference and no ticket. An
event that a producer accepted must be storable by every consumer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.common.consumer import EventProcessor, Outcome
from services.common.db import make_engine
from services.common.events import Event, isoformat
from services.feedback import storage as feedback_storage
from services.feedback import worker as feedback_worker
from services.intake import storage as intake_storage
from services.intake import worker as intake_worker
from services.notify import storage as notify_storage
from services.notify import worker as notify_worker
from services.queue import storage as queue_storage
from services.queue import worker as queue_worker

# Latin with diacritics, Cyrillic, Greek, CJK, right-to-left, an emoji outside the BMP.
TEXT = "Jürgen Groß — Иван, Ελένη, 山田, שלום 😀"
ADDRESS = "jürgen.groß@exämple.org"


def ticket_events() -> list[Event]:
    ticket_id, problem_id = str(uuid.uuid4()), str(uuid.uuid4())
    reference = f"LKT-{uuid.uuid4().int % 10**6:06d}"
    now = datetime.now(UTC)
    requester = {"name": TEXT, "email": ADDRESS, "phone": None, "language": "nl",
                 "preferred_contact": "email"}  # fmt: skip
    ticket = {"ticket_id": ticket_id, "reference": reference}
    flow = [
        ("intake", "ticket.created", {
            **ticket, "channel": "email", "category": "password_reset",
            "queue": "frontoffice", "priority": 3, "subject": TEXT[:200],
            "description": TEXT * 3, "fields": {"account": TEXT, "system": "other"},
            "requester": requester, "tracking_token": "t" * 32,
            "created_at": isoformat(now), "contact_started_at": isoformat(now),
            "resolved_on_contact": False, "resolution": None,
            "attachments": [{"filename": f"{TEXT}.pdf", "content_type": "application/pdf",
                             "size": 10}],
            "callback": {"not_before": isoformat(now),
                         "not_after": isoformat(now + timedelta(hours=2))},
        }),
        ("intake", "ticket.customer_replied", {
            **ticket, "channel": "email", "message": TEXT, "received_at": isoformat(now),
        }),
        ("queue", "ticket.queued", {
            **ticket, "queue": "frontoffice", "position": 1, "due_at": isoformat(now),
            "estimated_wait_seconds": None,
        }),
        ("queue", "ticket.assigned", {
            **ticket, "queue": "frontoffice", "agent": TEXT[:60], "waited_seconds": 1.0,
            "out_of_order": True, "reason": TEXT,
        }),
        ("queue", "ticket.status_changed", {
            **ticket, "from": "in_progress", "to": "waiting_on_customer",
            "public_note": TEXT, "agent": TEXT[:60],
        }),
        ("queue", "ticket.message_added", {**ticket, "message": TEXT, "agent": TEXT[:60]}),
        ("queue", "ticket.turn_near", {
            **ticket, "ticket_number": "Ä-001", "ahead": 2, "estimated_wait_seconds": 300,
        }),
        ("queue", "ticket.transferred", {
            **ticket, "from_queue": "frontoffice", "to_queue": "backoffice", "note": TEXT,
            "transfer_count": 1,
        }),
        ("queue", "ticket.sla_breached", {
            **ticket, "queue": "backoffice", "target": "first_response",
            "due_at": isoformat(now),
        }),
        ("queue", "ticket.resolved", {
            **ticket, "channel": "email", "category": "password_reset",
            "queue": "backoffice", "agent": TEXT[:60], "resolution": TEXT,
            "created_at": isoformat(now), "resolved_at": isoformat(now), "requester": requester,
        }),
        ("feedback", "survey.requested", {
            **ticket, "survey_token": "s" * 32, "requester": requester, "language": "nl",
        }),
        ("feedback", "feedback.received", {
            **ticket, "score": 1, "comment": TEXT, "channel": "email",
        }),
        ("queue", "ticket.reopened", {**ticket, "reason": TEXT}),
        ("feedback", "problem.detected", {
            "problem_id": problem_id, "category": "password_reset",
            "window_start": isoformat(now), "window_end": isoformat(now), "count": 5,
            "baseline": 1.0, "ticket_ids": [ticket_id],
        }),
        ("feedback", "problem.resolved", {
            "problem_id": problem_id, "resolution": TEXT, "ticket_ids": [ticket_id],
        }),
        ("notify", "notification.sent", {
            "ticket_id": ticket_id, "medium": "email", "recipient": "j***@exämple.org",
            "template": "received", "attempt": 1,
        }),
        ("notify", "notification.failed", {
            "ticket_id": ticket_id, "medium": "email", "recipient": "j***@exämple.org",
            "template": "resolved", "attempt": 6, "error": f"SMTP 550: {TEXT}",
        }),
        ("intake", "appointment.checked_in", {
            **ticket, "ticket_number": "A-001", "checked_in_at": isoformat(now),
        }),
        ("intake", "appointment.moved", {
            **ticket, "start": isoformat(now), "end": isoformat(now + timedelta(minutes=15)),
        }),
        ("intake", "appointment.cancelled", {**ticket, "cancelled_at": isoformat(now)}),
    ]  # fmt: skip
    return [Event(type=type, data=data, source=source) for source, type, data in flow]


SERVICES = {
    "intake": (intake_worker, intake_storage),
    "queue": (queue_worker, queue_storage),
    "notify": (notify_worker, notify_storage),
    "feedback": (feedback_worker, feedback_storage),
}


@pytest.mark.parametrize("service", SERVICES)
def test_every_consumed_event_with_text_beyond_ascii_is_stored(make_settings, service):
    worker, storage = SERVICES[service]
    extra = {"LOKET_SMTP_URL": "smtp://127.0.0.1:1"} if service == "notify" else {}
    settings = make_settings(service, **extra)
    spec = worker.spec(settings)
    engine = make_engine(settings.database_url)
    processor = EventProcessor(
        service=service,
        engine=engine,
        inbox=storage.inbox,
        outbox=spec.outbox,
        handlers=spec.handlers,
    )
    try:
        consumed = [e for e in ticket_events() if (e.type, e.version) in spec.handlers]
        assert {e.type for e in consumed} == {t for t, _ in spec.handlers}  # every one tried
        outcomes = {e.type: processor.process(e.to_json().encode()) for e in consumed}
        assert outcomes == {e.type: Outcome.PROCESSED for e in consumed}
        with engine.connect() as conn:
            handled = set(conn.scalars(select(storage.inbox.c.event_id)))
        assert handled == {e.id for e in consumed}
    finally:
        engine.dispose()
