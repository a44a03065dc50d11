"""Intake's use cases as plain functions: each state change commits with its events."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from services.common.db import transaction
from services.common.events import Event
from services.common.failures import Conflict, NotFound
from services.common.hashing import secret_digest
from services.common.outbox import add_events
from services.intake import domain, storage
from services.intake.catalogue import Catalogue
from services.intake.inbound_email import InboundEmail

Answer = tuple[int, dict[str, Any]]
EMAIL_SCOPE = "email-message"


@dataclass(frozen=True)
class Intake:
    engine: Engine
    catalogue: Catalogue
    public_base_url: str
    default_language: str = "nl"
    reopen_window: timedelta = timedelta(days=14)
    detect_language: Callable[[str], str | None] = lambda _text: None


def _status_url(intake: Intake, reference: str, token: str, language: str) -> str:
    """The customer portal's status page (through the gateway at LOKET_PUBLIC_BASE_URL)."""
    query = urlencode({"token": token, "lang": language})
    return f"{intake.public_base_url.rstrip('/')}/track/{reference}?{query}"


def _store_request(
    intake: Intake,
    conn: Connection,
    submitted: Mapping[str, Any],
    submitted_by: str,
    correlation_id: str,
    now: datetime,
) -> Answer:
    category = intake.catalogue.categories[submitted["category"]]
    new = domain.new_request(
        submitted, category, intake.catalogue, submitted_by, now, intake.default_language
    )
    reference = domain.reference_for(storage.insert_request(conn, new.row))
    created = Event(
        type="ticket.created",
        data=domain.ticket_created_data(new.row, reference, new.tracking_token, new.reply_token),
        source="intake",
        correlation_id=correlation_id,
    )
    add_events(conn, storage.outbox, [created])
    return 201, {
        "id": new.id,
        "reference": reference,
        "tracking_token": new.tracking_token,
        "status_url": _status_url(
            intake, reference, new.tracking_token, new.row["requester"]["language"]
        ),
        "status": "received",
    }


def once(
    engine: Engine,
    scope: str,
    key: str | None,
    body_sha256: str,
    now: datetime,
    produce: Callable[[Connection], Answer],
    *,
    same_body_required: bool = True,
) -> tuple[Answer, bool]:
    """Run `produce` once per (scope, key); later calls get the first answer back.

    Answers (answer, replayed). The key and the change commit together, so a crash can't
    leave one without the other; two racing calls meet at the key's primary key and the
    loser returns the winner's answer.
    """
    if key is None:
        with transaction(engine) as conn:
            return produce(conn), False

    def replay(stored: Any) -> tuple[Answer, bool]:
        if same_body_required and stored.body_sha256 != body_sha256:
            raise Conflict(
                "This Idempotency-Key was used for a different request.",
                code="idempotency_conflict",
            )
        return (stored.status_code, stored.response), True

    try:
        with transaction(engine) as conn:
            stored = storage.remembered_answer(conn, scope, key)
            if stored is not None:
                return replay(stored)
            status, response = produce(conn)
            storage.remember_answer(conn, scope, key, body_sha256, status, response, now)
            return (status, response), False
    except IntegrityError:
        with transaction(engine) as conn:
            stored = storage.remembered_answer(conn, scope, key)
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
        intake.engine,
        f"requests:{submitted_by}",
        idempotency_key,
        body_sha256,
        now,
        lambda conn: _store_request(intake, conn, submitted, submitted_by, correlation_id, now),
    )


def reply_on_request(
    intake: Intake,
    reference: str,
    token: str,
    message: str,
    *,
    idempotency_key: str | None,
    body_sha256: str,
    correlation_id: str,
    now: datetime,
) -> tuple[Answer, bool]:
    """A message from the customer on the status page: the tracking token opens one
    request, as it does its status; a wrong token and an unknown reference both answer
    "not found"."""

    def produce(conn: Connection) -> Answer:
        seq = domain.sequence_of(reference)
        request = storage.request_by_sequence(conn, seq) if seq else None
        if request is None or not hmac.compare_digest(
            request.tracking_token_sha256, secret_digest(token)
        ):
            raise NotFound("request")
        return _reply(
            intake, conn, request, "web", "", message, None, "customer", correlation_id, now
        )

    return once(
        intake.engine,
        f"replies:{reference}",
        idempotency_key,
        body_sha256,
        now,
        produce,
    )


def _reply(
    intake: Intake,
    conn: Connection,
    request: Any,
    channel: str,
    subject: str,
    message: str,
    attachments: Any,
    submitted_by: str,
    correlation_id: str,
    now: datetime,
) -> Answer:
    """The requester's message on their request: appended (the queue moves the ticket on
    or reopens it), or, on a request closed or resolved longer ago than the reopen window,
    a new request that refers to it."""
    if domain.reply_starts_anew(request.status, request.settled_at, now, intake.reopen_window):
        follow_up = domain.follow_up_request(
            request._mapping, intake.catalogue, channel, subject, message, attachments
        )
        status, answer = _store_request(intake, conn, follow_up, submitted_by, correlation_id, now)
        return status, {**answer, "related_reference": domain.reference_for(request.seq)}
    storage.add_message(
        conn,
        {
            "request_id": request.id,
            "channel": channel,
            "body": message,
            "attachments": attachments or None,
            "received_at": now,
        },
    )
    replied = Event(
        type="ticket.customer_replied",
        data=domain.customer_replied_data(request._mapping, channel, message, now),
        source="intake",
        correlation_id=correlation_id,
    )
    add_events(conn, storage.outbox, [replied])
    # An e-mail gateway is told 200 (nothing new was made); the status page 201.
    code = 200 if channel == "email" else 201
    return code, {"reference": domain.reference_for(request.seq), "status": "appended"}


def record_status(conn: Connection, data: Mapping[str, Any], at: datetime) -> None:
    """The queue moved a ticket: keep what a later reply needs to know."""
    storage.record_status(conn, data["ticket_id"], **domain.settled_state(data["to"], at))


def receive_email(
    intake: Intake,
    email: InboundEmail,
    *,
    submitted_by: str,
    body_sha256: str,
    correlation_id: str,
    now: datetime,
) -> tuple[Answer, bool]:
    """A reply to a known request from its requester, or else a new request. The same
    message twice (the same Message-ID from the same sender with the same content) is one
    message; another message that reuses a Message-ID is a message of its own, never
    answered with the first one's reference and tracking token."""

    def produce(conn: Connection) -> Answer:
        addressed = domain.reply_address_token(email)
        reference = addressed[0] if addressed else email.reference
        seq = domain.sequence_of(reference) if reference else None
        request = storage.request_by_sequence(conn, seq) if seq else None
        if request is not None and domain.is_reply_from_requester(email, request._mapping):
            return _reply(
                intake, conn, request, "email", email.subject, email.body, email.attachments,
                submitted_by, correlation_id, now,
            )  # fmt: skip
        submitted = domain.request_from_email(
            email,
            intake.catalogue,
            intake.default_language,
            related_reference=domain.reference_for(request.seq) if request is not None else None,
            detect_language=intake.detect_language,
        )
        return _store_request(intake, conn, submitted, submitted_by, correlation_id, now)

    return once(
        intake.engine,
        EMAIL_SCOPE,
        domain.email_identity(email),
        body_sha256,
        now,
        produce,
        same_body_required=False,
    )
