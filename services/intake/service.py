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

from services.common.events import isoformat, to_utc
from services.common.failures import Conflict, Invalid, NotFound
from services.common.hashing import secret_digest
from services.common.unit_of_work import UnitOfWork
from services.intake import appointments, calls, domain, storage
from services.intake.catalogue import Catalogue
from services.intake.contact_options import OpeningHours
from services.intake.inbound_email import InboundEmail
from services.intake.metrics import CALL_ANSWER, CALLS, CALLS_IN_TIME


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
    # The counter's opening hours and slots, for appointments.
    hours: OpeningHours | None = None
    slot_rules: appointments.SlotRules = field(default_factory=appointments.SlotRules)
    # The phone system's calls: the numbers' region, the call-backs for callers who hung up.
    call_rules: calls.CallRules = field(default_factory=calls.CallRules)


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
    appointment: tuple[datetime, datetime] | None = None,
) -> Receipt:
    category = intake.catalogue.categories[submitted["category"]]
    new = domain.new_request(
        submitted, category, intake.catalogue, submitted_by, now, intake.default_language
    )
    new.row["requester_phone"] = calls.e164(
        new.row["requester"].get("phone"), intake.call_rules.default_region
    )
    if domain.needs_counter_number(submitted) and appointment is None:
        new.row["ticket_number"] = _counter_number(unit, intake, new.row["queue"], now)
    reference = domain.reference_for(storage.insert_request(unit.conn, new.row))
    data = domain.ticket_created_data(
        new.row,
        reference,
        new.tracking_token,
        new.reply_token,
        verified=domain.requester_verified(submitted["channel"], sender_authenticated),
    )
    body = {
        "id": new.id,
        "reference": reference,
        "tracking_token": new.tracking_token,
        "status_url": _status_url(
            intake, reference, new.tracking_token, new.row["requester"]["language"]
        ),
        "status": "received",
        **({"ticket_number": new.row["ticket_number"]} if new.row.get("ticket_number") else {}),
    }
    if appointment is not None:
        storage.add_appointment(unit.conn, new.id, *appointment)
        booked = {"start": _local(intake, appointment[0]), "end": _local(intake, appointment[1])}
        data["appointment"] = booked
        body.update(booked)
    unit.emit("ticket.created", data)
    return Receipt(created=True, body=body)


def _counter_number(unit: UnitOfWork, intake: Intake, queue: str, now: datetime) -> str:
    n = storage.next_counter_number(unit.conn, queue, domain.counter_day(now, intake.zone))
    return domain.ticket_number(intake.counter_prefixes[queue], n)


def _local(intake: Intake, moment: datetime) -> str:
    """A time as the desk promises it: ISO 8601 in the desk's zone, with its offset."""
    return moment.astimezone(intake.zone).isoformat()


# Appointments at the counter

# How far ahead a time can be booked, and how early before it one checks in.
BOOKING_DAYS = 60
CHECK_IN_EARLY = timedelta(hours=1)


def appointment_slots(conn: Any, intake: Intake, now: datetime, days: int) -> list[dict[str, Any]]:
    """The counter's slots from now for `days` days, each with its seats still free."""
    if intake.hours is None:
        return []
    found = list(appointments.slots(intake.hours, intake.slot_rules, now, days))
    if not found:
        return []
    taken = storage.seats_taken(conn, found[0][0], found[-1][0])
    seats = intake.slot_rules.seats
    return [
        {
            "start": _local(intake, start),
            "end": _local(intake, end),
            "available": max(0, seats - taken.get(storage.slot_key(start), 0)),
        }
        for start, end in found
    ]


def book_appointment(
    unit: UnitOfWork, intake: Intake, submitted: Mapping[str, Any], submitted_by: str, now: datetime
) -> Receipt:
    """A request with a time at the counter: only a slot the counter offers, and only
    while it has a seat free (the seat and the request commit together)."""
    wanted = dict(submitted)
    slot = _seat_at(unit, intake, wanted.pop("start"), now)
    return submit_request(unit, intake, wanted, submitted_by, now, appointment=slot)


def _seat_at(
    unit: UnitOfWork, intake: Intake, start: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """A seat of the slot that begins at `start`: 422 for a time the counter does not
    offer, 409 when its seats are taken."""
    slot = None
    if intake.hours is not None:
        slot = appointments.slot_at(intake.hours, intake.slot_rules, start, now, BOOKING_DAYS)
    if slot is None:
        raise Invalid("start", "Not a time the counter offers: choose one of the slots.")
    if not storage.take_seat(unit.conn, slot[0], intake.slot_rules.seats):
        raise Conflict("This time is fully booked; choose another.", code="slot_full")
    return slot


def _booked(unit: UnitOfWork, reference: str, token: str | None = None) -> tuple[Any, Any]:
    """The request and its appointment, locked; with `token`, only for its tracking token
    (a wrong one answers as an unknown reference does)."""
    seq = domain.sequence_of(reference)
    request = storage.request_by_sequence(unit.conn, seq) if seq else None
    booked = storage.appointment_of(unit.conn, request.id, lock=True) if request else None
    if request is None or booked is None:
        raise NotFound("appointment")
    if token is not None and not hmac.compare_digest(
        request.tracking_token_sha256, secret_digest(token)
    ):
        raise NotFound("appointment")
    return request, booked


def cancel_appointment(
    unit: UnitOfWork, intake: Intake, reference: str, token: str, now: datetime
) -> dict[str, Any]:
    """The customer frees their seat with the link's token (a wrong one: 404)."""
    request, booked = _booked(unit, reference, token)
    if booked.cancelled_at is not None:
        return {"reference": reference, "status": "cancelled"}  # once is enough
    if booked.checked_in_at is not None:
        raise Conflict("You have checked in already; ask at the counter.", code="checked_in")
    storage.free_seat(unit.conn, to_utc(booked.starts_at))
    storage.update_appointment(unit.conn, request.id, cancelled_at=now)
    starts = _local(intake, to_utc(booked.starts_at))
    cancelled = {"ticket_id": request.id, "reference": reference, "start": starts}
    unit.emit("appointment.cancelled", cancelled | {"cancelled_at": isoformat(now)})
    return {"reference": reference, "status": "cancelled"}


def move_appointment(
    unit: UnitOfWork, intake: Intake, reference: str, token: str, start: datetime, now: datetime
) -> dict[str, Any]:
    """Another time for the same appointment, with the link's token: the new seat is taken
    before the old one is given back, so a move never loses the time it had."""
    request, booked = _booked(unit, reference, token)
    if booked.cancelled_at is not None or booked.checked_in_at is not None:
        raise Conflict("This appointment can no longer be moved.", code="not_movable")
    was = to_utc(booked.starts_at)
    if start == was:
        return {"reference": reference, "status": "booked", "start": _local(intake, was)}
    slot = _seat_at(unit, intake, start, now)
    storage.free_seat(unit.conn, was)
    utc = (slot[0].astimezone(UTC), slot[1].astimezone(UTC))
    storage.update_appointment(unit.conn, request.id, starts_at=utc[0], ends_at=utc[1])
    moved = {"start": _local(intake, slot[0]), "end": _local(intake, slot[1])}
    unit.emit("appointment.moved", {"ticket_id": request.id, "reference": reference, **moved})
    return {"reference": reference, "status": "booked", **moved}


def check_in(unit: UnitOfWork, intake: Intake, reference: str, now: datetime) -> dict[str, Any]:
    """At the kiosk: the appointment joins the counter's line, with a number of today's;
    a number taken from home today says it is in the building."""
    seq = domain.sequence_of(reference)
    request = storage.request_by_sequence(unit.conn, seq) if seq else None
    booked = storage.appointment_of(unit.conn, request.id, lock=True) if request else None
    if request is None:
        raise NotFound("appointment")
    if booked is None:
        return _arrived_with_number(unit, intake, request, reference, now)
    if booked.cancelled_at is not None:
        raise Conflict("This appointment was cancelled.", code="cancelled")
    starts = to_utc(booked.starts_at)
    if now < starts - CHECK_IN_EARLY:
        raise Conflict("Too early: check in at most an hour before your time.", code="too_early")
    if booked.checked_in_at is None:
        number = _counter_number(unit, intake, request.queue, now)
        storage.update_appointment(unit.conn, request.id, checked_in_at=now)
        storage.set_ticket_number(unit.conn, request.id, number)
        arrived = {"ticket_id": request.id, "reference": reference, "ticket_number": number}
        unit.emit("appointment.checked_in", arrived | {"checked_in_at": isoformat(now)})
    else:
        number = request.ticket_number
    answer = {"reference": reference, "status": "checked_in", "ticket_number": number}
    return answer | {"start": _local(intake, starts)}


# A request the queue told intake it no longer waits: no check-in for it.
DONE_WITH = ("resolved", "closed", "cancelled")


def _arrived_with_number(
    unit: UnitOfWork, intake: Intake, request: Any, reference: str, now: datetime
) -> dict[str, Any]:
    """A number from home, in the building: the queue need not tell them their turn
    nears. Its number counts only on the day it was given."""
    if request.channel != "walk_in" or not request.ticket_number:
        raise NotFound("appointment")
    given_on = domain.counter_day(to_utc(request.created_at), intake.zone)
    if given_on != domain.counter_day(now, intake.zone):
        raise Conflict("This number was for an earlier day.", code="number_expired")
    if request.status in DONE_WITH:
        raise Conflict(f"This request is {request.status}.", code="not_waiting")
    arrived = {
        "ticket_id": request.id,
        "reference": reference,
        "ticket_number": request.ticket_number,
    }
    unit.emit("appointment.checked_in", arrived | {"checked_in_at": isoformat(now)})
    return {"reference": reference, "status": "checked_in", "ticket_number": request.ticket_number}


# The phone system's calls


def call_event(
    unit: UnitOfWork,
    intake: Intake,
    event: Mapping[str, Any],
    submitted_by: str,
    now: datetime,
    validate: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """One CTI event (`newCall`, `answer`, `hangup`); the same event twice changes
    nothing. A caller who hung up before anyone answered gets a call-back that keeps the
    place they had while waiting (`validate` checks its request as any other)."""
    rules = intake.call_rules
    if event["event"] == "newCall":
        storage.add_call(
            unit.conn,
            {
                "call_id": event["call_id"],
                "direction": event["direction"],
                "from_number": calls.e164(event.get("from"), rules.default_region),
                "to_number": calls.e164(event.get("to"), rules.default_region),
                "agent": event.get("user"),
                "state": calls.RINGING,
                "started_at": now,
            },
        )
        return {"call_id": event["call_id"]}
    call = storage.call_by_id(unit.conn, event["call_id"])
    if call is None:
        raise NotFound("call")
    started = to_utc(call.started_at)
    if event["event"] == "answer" and call.state == calls.RINGING:
        storage.update_call(
            unit.conn,
            call.call_id,
            state=calls.ANSWERED,
            agent=event.get("user") or call.agent,
            answered_at=now,
        )
        waited, queue = (now - started).total_seconds(), rules.queue or "unknown"
        unit.after_commit(lambda: CALL_ANSWER.labels(queue).observe(waited))
    if event["event"] == "hangup" and call.state != calls.ENDED:
        cause = event.get("cause")
        storage.update_call(unit.conn, call.call_id, state=calls.ENDED, cause=cause, ended_at=now)
        answered = call.answered_at is not None
        outcome = calls.outcome(call.direction, answered, cause)
        unit.after_commit(lambda: CALLS.labels(call.direction, outcome).inc())
        if call.direction == "in" and answered:
            waited = to_utc(call.answered_at) - started
            if waited <= timedelta(seconds=rules.service_level_seconds):
                queue = rules.queue or "unknown"
                unit.after_commit(lambda: CALLS_IN_TIME.labels(queue).inc())
        if calls.deserves_callback(call.direction, answered, cause, call.from_number):
            made = _callback_for(unit, intake, call, now, submitted_by, validate)
            if made is not None:
                storage.update_call(unit.conn, call.call_id, request_id=made)
    return {"call_id": call.call_id}


def calls_view(conn: Any, agent: str | None, state: str | None) -> list[dict[str, Any]]:
    """Calls as the screen pop shows them: who it probably is (their last request's
    name and address) and their requests, the newest first."""
    shown = []
    for call in storage.calls_of(conn, agent, state):
        earlier = storage.requests_of_number(conn, call.from_number) if call.from_number else []
        made = next((r for r in earlier if r.id == call.request_id), None)
        last = earlier[0].requester if earlier else None
        shown.append(
            {
                "call_id": call.call_id,
                "direction": call.direction,
                "from_": call.from_number,
                "to": call.to_number,
                "agent": call.agent,
                "state": call.state,
                "cause": call.cause,
                "started_at": isoformat(to_utc(call.started_at)),
                "answered_at": isoformat(to_utc(call.answered_at)) if call.answered_at else None,
                "ended_at": isoformat(to_utc(call.ended_at)) if call.ended_at else None,
                "callback_reference": domain.reference_for(made.seq) if made else None,
                "caller": {k: last.get(k) for k in ("name", "email", "language")} if last else None,
                "requests": [
                    {
                        "reference": domain.reference_for(r.seq),
                        "channel": r.channel,
                        "subject": r.subject,
                        "status": r.status,
                        "created_at": isoformat(to_utc(r.created_at)),
                    }
                    for r in earlier
                ],
            }
        )
    return shown


def _callback_for(
    unit: UnitOfWork,
    intake: Intake,
    call: Any,
    now: datetime,
    submitted_by: str,
    validate: Callable[[dict[str, Any]], dict[str, Any]],
) -> str | None:
    """The call-back a caller who hung up is owed: none when someone spoke to that number
    on another call within the grace time, the one already waiting when there is one
    (it keeps its earlier place), else a new one."""
    rules, number = intake.call_rules, call.from_number
    since = to_utc(call.started_at) - rules.callback_grace
    if storage.answered_since(unit.conn, number, since, call.call_id):
        return None
    earlier = storage.requests_of_number(unit.conn, number)
    waiting = next(
        (r for r in earlier if r.channel == "callback" and r.status not in DONE_WITH), None
    )
    if waiting is not None:
        return waiting.id
    known = earlier[0].requester if earlier else None
    body = calls.missed_call_request(
        number, to_utc(call.started_at), now, known, rules, intake.default_language, intake.zone
    )
    return submit_request(unit, intake, validate(body), submitted_by, now).body["id"]


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
