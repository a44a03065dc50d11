"""Intake's use cases as plain functions: each state change commits with its events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.common.db import transaction
from services.common.events import Event
from services.common.outbox import add_events
from services.intake import domain, storage
from services.intake.catalogue import Catalogue
from services.intake.inbound_email import InboundEmail

Answer = tuple[int, dict[str, Any]]
EMAIL_SCOPE = "email-message-id"


class IdempotencyConflict(Exception):
    """The key was used before for a different request."""


@dataclass(frozen=True)
class Intake:
    sessions: sessionmaker[Session]
    catalogue: Catalogue
    public_base_url: str
    default_language: str = "nl"


def _status_url(intake: Intake, reference: str, token: str) -> str:
    return f"{intake.public_base_url.rstrip('/')}/v1/track/{reference}?token={token}"


def _store_request(
    intake: Intake,
    session: Session,
    submitted: Mapping[str, Any],
    submitted_by: str,
    correlation_id: str,
    now: datetime,
) -> Answer:
    category = intake.catalogue.categories[submitted["category"]]
    new = domain.new_request(submitted, category, intake.catalogue, submitted_by, now)
    reference = storage.insert_request(session, new.row, domain.reference_for)
    created = Event(
        type="ticket.created",
        data=domain.ticket_created_data(new.row, reference, new.tracking_token),
        source="intake",
        correlation_id=correlation_id,
    )
    add_events(session, storage.outbox, [created])
    return 201, {
        "id": new.id,
        "reference": reference,
        "tracking_token": new.tracking_token,
        "status_url": _status_url(intake, reference, new.tracking_token),
        "status": "received",
    }


def once(
    sessions: sessionmaker[Session],
    scope: str,
    key: str | None,
    body_sha256: str,
    now: datetime,
    produce: Callable[[Session], Answer],
    *,
    same_body_required: bool = True,
) -> tuple[Answer, bool]:
    """Run `produce` once per (scope, key); later calls get the first answer back.

    Answers (answer, replayed). The key and the change commit together, so a crash can't
    leave one without the other; two racing calls meet at the key's primary key and the
    loser returns the winner's answer.
    """
    if key is None:
        with transaction(sessions) as session:
            return produce(session), False

    def replay(stored: Any) -> tuple[Answer, bool]:
        if same_body_required and stored.body_sha256 != body_sha256:
            raise IdempotencyConflict
        return (stored.status_code, stored.response), True

    try:
        with transaction(sessions) as session:
            stored = storage.remembered_answer(session, scope, key)
            if stored is not None:
                return replay(stored)
            status, response = produce(session)
            storage.remember_answer(session, scope, key, body_sha256, status, response, now)
            return (status, response), False
    except IntegrityError:
        with transaction(sessions) as session:
            stored = storage.remembered_answer(session, scope, key)
        if stored is None:
            raise
        return replay(stored)


def submit_request(
    intake: Intake,
    submitted: Mapping[str, Any],
    *,
    submitted_by: str,
    idempotency_key: str | None,
    body_sha256: str,
    correlation_id: str,
    now: datetime,
) -> tuple[Answer, bool]:
    return once(
        intake.sessions,
        f"requests:{submitted_by}",
        idempotency_key,
        body_sha256,
        now,
        lambda session: _store_request(
            intake, session, submitted, submitted_by, correlation_id, now
        ),
    )


def receive_email(
    intake: Intake,
    email: InboundEmail,
    *,
    submitted_by: str,
    body_sha256: str,
    correlation_id: str,
    now: datetime,
) -> tuple[Answer, bool]:
    """A reply to a known request from its requester, or else a new request; the same
    Message-ID twice is one message."""

    def produce(session: Session) -> Answer:
        reference = email.reference
        request = storage.request_by_reference(session, reference) if reference else None
        if request is not None and domain.is_reply_from_requester(email, request._mapping):
            storage.add_message(
                session,
                {
                    "request_id": request.id,
                    "channel": "email",
                    "body": email.body,
                    "attachments": email.attachments or None,
                    "received_at": now,
                },
            )
            replied = Event(
                type="ticket.customer_replied",
                data=domain.customer_replied_data(request._mapping, "email", email.body, now),
                source="intake",
                correlation_id=correlation_id,
            )
            add_events(session, storage.outbox, [replied])
            return 200, {"id": request.id, "reference": request.reference, "status": "appended"}
        submitted = domain.request_from_email(email, intake.catalogue, intake.default_language)
        return _store_request(intake, session, submitted, submitted_by, correlation_id, now)

    return once(
        intake.sessions,
        EMAIL_SCOPE,
        email.message_id,
        body_sha256,
        now,
        produce,
        same_body_required=False,
    )
