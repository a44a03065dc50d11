"""Intake's use cases as plain functions.

Each works through the unit of work it is given: the request or message it stores and
the event that follows commit together. What it made is a `Receipt`; the HTTP adapter
turns it into an answer, and replays that answer for a repeated Idempotency-Key.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from services.common.failures import NotFound
from services.common.hashing import secret_digest
from services.common.unit_of_work import UnitOfWork
from services.intake import domain, storage
from services.intake.catalogue import Catalogue
from services.intake.inbound_email import InboundEmail


@dataclass(frozen=True)
class Intake:
    catalogue: Catalogue
    public_base_url: str
    default_language: str = "nl"
    reopen_window: timedelta = timedelta(days=14)
    detect_language: Callable[[str], str | None] = lambda _text: None
    # The desk's own receiving mail server, whose Authentication-Results alone count.
    mail_authserv_id: str | None = None
    # The letters of each queue's counter numbers, and the zone of the desk's day.
    counter_prefixes: Mapping[str, str] = field(default_factory=dict)
    zone: tzinfo = UTC


@dataclass(frozen=True)
class Receipt:
    """What a submission made: a new request (`created`), or a message on one."""

    created: bool
    body: dict[str, Any]


def _status_url(intake: Intake, reference: str, token: str, language: str) -> str:
    """The customer portal's status page (through the gateway at LOKET_PUBLIC_BASE_URL)."""
    query = urlencode({"token": token, "lang": language})
    return f"{intake.public_base_url.rstrip('/')}/track/{reference}?{query}"


def submit_request(
    unit: UnitOfWork,
    intake: Intake,
    submitted: Mapping[str, Any],
    submitted_by: str,
    now: datetime,
    sender_authenticated: bool = False,
) -> Receipt:
    category = intake.catalogue.categories[submitted["category"]]
    new = domain.new_request(
        submitted, category, intake.catalogue, submitted_by, now, intake.default_language
    )
    if domain.needs_counter_number(submitted):
        queue = new.row["queue"]
        n = storage.next_counter_number(unit.conn, queue, domain.counter_day(now, intake.zone))
        new.row["ticket_number"] = domain.ticket_number(intake.counter_prefixes[queue], n)
    reference = domain.reference_for(storage.insert_request(unit.conn, new.row))
    unit.emit(
        "ticket.created",
        domain.ticket_created_data(
            new.row,
            reference,
            new.tracking_token,
            new.reply_token,
            verified=domain.requester_verified(submitted["channel"], sender_authenticated),
        ),
    )
    return Receipt(
        created=True,
        body={
            "id": new.id,
            "reference": reference,
            "tracking_token": new.tracking_token,
            "status_url": _status_url(
                intake, reference, new.tracking_token, new.row["requester"]["language"]
            ),
            "status": "received",
            **({"ticket_number": new.row["ticket_number"]} if new.row.get("ticket_number") else {}),
        },
    )


def reply_on_request(
    unit: UnitOfWork, intake: Intake, reference: str, token: str, message: str, now: datetime
) -> Receipt:
    """A message from the customer on the status page: the tracking token opens one
    request, as it does its status; a wrong token and an unknown reference both answer
    "not found"."""
    seq = domain.sequence_of(reference)
    request = storage.request_by_sequence(unit.conn, seq) if seq else None
    if request is None or not hmac.compare_digest(
        request.tracking_token_sha256, secret_digest(token)
    ):
        raise NotFound("request")
    return _reply(unit, intake, request, "web", "", message, None, "customer", now)


def _reply(
    unit: UnitOfWork,
    intake: Intake,
    request: Any,
    channel: str,
    subject: str,
    message: str,
    attachments: Any,
    submitted_by: str,
    now: datetime,
) -> Receipt:
    """The requester's message on their request: appended (the queue moves the ticket on
    or reopens it), or, on a request closed or resolved longer ago than the reopen window,
    a new request that refers to it."""
    if domain.reply_starts_anew(request.status, request.settled_at, now, intake.reopen_window):
        follow_up = domain.follow_up_request(
            request._mapping, intake.catalogue, channel, subject, message, attachments
        )
        receipt = submit_request(unit, intake, follow_up, submitted_by, now)
        related = domain.reference_for(request.seq)
        return Receipt(created=True, body={**receipt.body, "related_reference": related})
    storage.add_message(
        unit.conn,
        {
            "request_id": request.id,
            "channel": channel,
            "body": message,
            "attachments": attachments or None,
            "received_at": now,
        },
    )
    unit.emit(
        "ticket.customer_replied",
        domain.customer_replied_data(request._mapping, channel, message, now, attachments),
    )
    return Receipt(
        created=False,
        body={"reference": domain.reference_for(request.seq), "status": "appended"},
    )


def record_status(unit: UnitOfWork, data: Mapping[str, Any], at: datetime) -> None:
    """The queue moved a ticket: keep what a later reply needs to know."""
    storage.record_status(unit.conn, data["ticket_id"], **domain.settled_state(data["to"], at))


def receive_email(
    unit: UnitOfWork, intake: Intake, email: InboundEmail, submitted_by: str, now: datetime
) -> Receipt:
    """A reply to a known request from its requester, or else a new request; the files it
    carried are kept with the request they joined."""
    email, files = domain.kept_attachments(email)
    addressed = domain.reply_address_token(email)
    reference = addressed[0] if addressed else email.reference
    seq = domain.sequence_of(reference) if reference else None
    request = storage.request_by_sequence(unit.conn, seq) if seq else None
    if request is not None and domain.is_reply_from_requester(
        email, request._mapping, intake.mail_authserv_id
    ):
        receipt = _reply(
            unit,
            intake,
            request,
            "email",
            email.subject,
            email.body,
            email.attachments,
            submitted_by,
            now,
        )
        owner = receipt.body.get("id", request.id)
    else:
        submitted = domain.request_from_email(
            email,
            intake.catalogue,
            intake.default_language,
            related_reference=domain.reference_for(request.seq) if request is not None else None,
            detect_language=intake.detect_language,
        )
        authenticated = domain.sender_authenticated(email, intake.mail_authserv_id)
        receipt = submit_request(unit, intake, submitted, submitted_by, now, authenticated)
        owner = receipt.body["id"]
    storage.add_attachments(
        unit.conn, [{**file, "request_id": owner, "received_at": now} for file in files]
    )
    return receipt


def attachment(conn: Any, attachment_id: str) -> Any:
    """A kept file, for an agent to download."""
    found = storage.attachment(conn, attachment_id)
    if found is None:
        raise NotFound("attachment")
    return found
