"""Notify's use cases, each working through the unit of work it is given.

An event becomes deliveries (one per recipient: the requester, each matching
subscription) and a job per delivery; the sender takes a job, begins an attempt (recorded
before anything leaves), sends, and finishes the attempt: sent, retried later, or failed.
The customer's first attempt skips the job while this process's direct sender keeps up:
the plan begins it, and the sender sends it once the plan committed (decision 0026).
"""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import Connection
from sqlalchemy.engine import Row

from services.common.broker import WorkQueue
from services.common.events import Event, to_utc
from services.common.failures import NotFound
from services.common.hashing import secret_digest
from services.common.labels import Labels
from services.common.outbox import add_events
from services.common.secret_box import SecretBox
from services.common.unit_of_work import UnitOfWork
from services.notify import calendar, domain, storage
from services.notify.messages import Composer
from services.notify.transports import Outgoing, SendFailure

ATTEMPT_JOB = "notification.attempt"
CUSTOMER = "customer"


class DirectSender(Protocol):
    """Sends first attempts in this process once their plan committed (sender.py)."""

    # How long an attempt may wait for a thread; its lease is longer by as much.
    wait_at_most: timedelta

    def has_room(self) -> bool: ...

    def send(self, outgoing: Outgoing, attempt: int, start_by: datetime) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Notifier:
    """What planning and sending need to know about this desk."""

    composer: Composer
    box: SecretBox
    media: tuple[str, ...]
    public_base_url: str
    mail_domain: str
    timezone: ZoneInfo
    work: WorkQueue
    retry_delays_ms: tuple[int, ...]
    lease: timedelta
    # The desk's words (its queues among them): the team a
    # transfer passes the request on to is named to the customer (decision 0009).
    labels: Labels = dataclasses.field(default_factory=Labels)
    # The desk's own address (from LOKET_MAIL_FROM), whose sub-addresses take replies.
    mailbox: str | None = None
    # The worker's: without it, every attempt goes through the work queue.
    direct: DirectSender | None = None
    # Where the counter is, per language ("Counter 3, ground floor, City Hall, ...").
    counter_places: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def team(self, queue: str | None, language: str) -> str | None:
        return self.labels.queue(queue, language) if queue else None


# From events to deliveries

# Kept with the requester: the name and subject came from someone the desk knows has the
# address (`requester_verified` of `ticket.created`), so messages may repeat them.
VERIFIED = "verified"
APPOINTMENT = "appointment"
# The messages that bring the appointment's calendar entry, new, moved or withdrawn.
CALENDAR_TEMPLATES = ("appointment", "appointment_moved", "appointment_cancelled")
# What causes a reminder: notify's own clock, not an event of the contract.
REMINDER_EVENT = "notify.appointment_reminder"
# Anyone can type any address into a web form: the desk confirms a request to one address
# at most this often, so it cannot be made to flood a mailbox (issue 33, 6).
CONFIRMATIONS = ("received", "callback", "callback_any_time", "appointment")
CONFIRMATIONS_PER_ADDRESS = 5
CONFIRMATION_WINDOW = timedelta(hours=1)


def handle_event(
    unit: UnitOfWork, notifier: Notifier, event: Event, data: Mapping[str, Any], now: datetime
) -> int:
    """Plans every delivery this event causes; returns how many."""
    if event.type == "ticket.created":
        storage.save_contact(
            unit.conn,
            data["ticket_id"],
            data["reference"],
            data["subject"],
            {
                **data["requester"],
                VERIFIED: bool(data.get("requester_verified")),
                # A booked time: a later cancellation takes it out of the customer's calendar.
                **({APPOINTMENT: dict(data["appointment"])} if data.get("appointment") else {}),
            },
            now,
            notifier.box.seal(data["reply_token"]) if data.get("reply_token") else None,
            notifier.box.seal(data["tracking_token"]),
        )
        if data.get("appointment"):
            _plan_reminder(unit.conn, data["ticket_id"], data["appointment"]["start"], now)
    if event.type == "ticket.status_changed" and data.get("to") == "cancelled":
        storage.drop_reminder(unit.conn, data["ticket_id"], now)
    if event.type == "appointment.moved":
        _moved(unit.conn, data, now)
    rows = []
    customer = _customer_delivery(unit.conn, notifier, event, data, now)
    if customer is not None:
        rows.append(customer)
    rows.extend(_webhook_deliveries(unit.conn, event, now))
    begun = _begin_directly(notifier, customer, now)
    storage.add_deliveries(unit.conn, rows)
    to_send = [(row["id"], 1) for row in rows if row["state"] == storage.PENDING]
    _schedule(unit, to_send, WorkQueue.NOW)
    if begun is not None and notifier.direct is not None:
        send, start_by = notifier.direct.send, now + notifier.direct.wait_at_most
        unit.after_commit(lambda: send(begun, 1, start_by))
    for row in rows:
        if row["state"] == storage.FAILED:
            _report(unit, FAILED, row, 0, row["last_error"])
    return len(rows)


# The day before an appointment, its reminder; none for one booked later than that.
REMIND_BEFORE = timedelta(days=1)


def _plan_reminder(conn: Connection, ticket_id: str, start: str, now: datetime) -> None:
    remind_at = datetime.fromisoformat(start) - REMIND_BEFORE
    if remind_at > now:
        storage.plan_reminder(conn, ticket_id, remind_at)


def _moved(conn: Connection, data: Mapping[str, Any], now: datetime) -> None:
    """The new time kept with the contact (its calendar entry one version later) and the
    reminder planned for it."""
    known = storage.contact(conn, data["ticket_id"])
    if known is None or not known.requester.get(APPOINTMENT):
        return
    was = known.requester[APPOINTMENT]
    booked = {"start": data["start"], "end": data["end"], "sequence": was.get("sequence", 0) + 1}
    storage.update_requester(conn, data["ticket_id"], {**known.requester, APPOINTMENT: booked})
    remind_at = datetime.fromisoformat(data["start"]) - REMIND_BEFORE
    storage.replan_reminder(conn, data["ticket_id"], remind_at if remind_at > now else None)


def send_reminders(unit: UnitOfWork, notifier: Notifier, now: datetime) -> int:
    """The reminders that are due, each one message to the customer, sent as any other
    (its own event id: a delivery names what caused it)."""
    due = storage.due_reminders(unit.conn, now)
    rows = []
    for reminder in due:
        known = storage.contact(unit.conn, reminder.ticket_id)
        storage.drop_reminder(unit.conn, reminder.ticket_id, now)
        if known is None:
            continue
        data = {"ticket_id": reminder.ticket_id, "reference": known.reference}
        event = Event(type=REMINDER_EVENT, data=data, source="notify")
        row = _customer_delivery(unit.conn, notifier, event, data, now)
        if row is not None:
            rows.append(row)
    storage.add_deliveries(unit.conn, rows)
    to_send = [(row["id"], 1) for row in rows if row["state"] == storage.PENDING]
    _schedule(unit, to_send, WorkQueue.NOW)
    for row in rows:
        if row["state"] == storage.FAILED:
            _report(unit, FAILED, row, 0, row["last_error"])
    return len(rows)


def _begin_directly(
    notifier: Notifier, row: dict[str, Any] | None, now: datetime
) -> Outgoing | None:
    """The customer's first attempt, begun in the plan's own transaction for this process
    to send once it commits: no job, relay, consumption or transaction before the send.
    Only while the direct sender keeps up; a slow mail server sends the job the usual way.
    Should the process stop before it finished, the attempt's lease runs out and
    `requeue_abandoned` gives it to the work queue."""
    if row is None or row["state"] != storage.PENDING or notifier.direct is None:
        return None
    if not notifier.direct.has_room():
        return None
    lease_until = now + notifier.direct.wait_at_most + notifier.lease
    row.update(state=storage.SENDING, attempts=1, lease_until=lease_until, last_attempt_at=now)
    return Outgoing(
        delivery_id=row["id"],
        event_id=row["event_id"],
        medium=row["medium"],
        recipient=row["recipient"],
        content=row["content"],
    )


def requeue_abandoned(unit: UnitOfWork, now: datetime, limit: int = 500) -> int:
    """Attempts under way whose lease ran out with nothing left to finish them go to the
    work queue as their next attempt (an e-mail keeps its Message-ID)."""
    rows = storage.abandoned(unit.conn, now, limit)
    for row in rows:
        storage.update_delivery(
            unit.conn, row.id, state=storage.RETRYING, lease_until=None, next_attempt_at=now
        )
    _schedule(unit, [(row.id, row.attempts + 1) for row in rows], WorkQueue.NOW)
    return len(rows)


def _report(
    unit: UnitOfWork, outcome: str, row: Mapping[str, Any], attempt: int, error: str | None
) -> None:
    """`notification.sent` or `.failed` for a delivery, caused by the event it reports on;
    a message the desk could not even try (attempt 0) is told like one that failed."""
    data: dict[str, Any] = {
        "medium": row["medium"],
        "recipient": row["recipient_masked"],
        "template": row["template"],
        "attempt": attempt,
    }
    if row["medium"] != domain.WEBHOOK and row["ticket_id"]:
        data["ticket_id"] = row["ticket_id"]
    if error:
        data["error"] = error
    unit.emit(f"notification.{outcome}", data, caused_by=row["event_id"])


def _customer_delivery(
    conn: Connection, notifier: Notifier, event: Event, data: Mapping[str, Any], now: datetime
) -> dict[str, Any] | None:
    template = domain.customer_message(event.type, data)
    if template is None:
        return None
    # `ticket.created` brings who asked and about what; later events only name the ticket.
    created = event.type == "ticket.created"
    known = None if created else storage.contact(conn, data["ticket_id"])
    requester = data.get("requester") or (known.requester if known else None)
    if requester is None:
        return None  # nobody to tell: the request is not known here
    verified = (
        data.get("requester_verified") if created else known and known.requester.get(VERIFIED)
    )
    booked = (known.requester.get(APPOINTMENT) if known else None) or data.get("appointment")
    if template == "cancelled" and booked:
        template = "appointment_cancelled"
    contact = domain.Contact.from_requester(requester)
    if data.get("language") in domain.LANGUAGES:
        contact = dataclasses.replace(contact, language=data["language"])
    chosen = domain.choose_medium(contact, notifier.media)
    if chosen is None:
        # Reachable, but not on any medium this desk can send on: recorded, not silent.
        unserved = domain.choose_medium(contact, domain.CUSTOMER_MEDIA)
        if unserved is None:
            return None
        medium, address = unserved
        return _not_sent(
            event, now, data, medium, address, template, contact.language,
            domain.NOT_CONFIGURED[medium],
        )  # fmt: skip
    medium, address = chosen
    address_sha256 = secret_digest(address.strip().lower())
    if template in CONFIRMATIONS and (
        storage.deliveries_to(conn, address_sha256, CONFIRMATIONS, now - CONFIRMATION_WINDOW)
        >= CONFIRMATIONS_PER_ADDRESS
    ):
        return _not_sent(
            event, now, data, medium, address, template, contact.language,
            f"{CONFIRMATIONS_PER_ADDRESS} confirmations to this address within the hour already",
        )  # fmt: skip
    delivery_id = str(uuid.uuid4())
    values = {
        "reference": data["reference"],
        # Whoever typed an address into a form may not have it carry their words: only the
        # reference and the desk's own (issue 33, 6).
        "name": contact.name if verified else "",
        "subject": (data.get("subject") or (known.subject if known else "")) if verified else "",
        "note": data.get("public_note") or data.get("message") or data.get("resolution"),
        "action_url": _action_url(notifier, template, data, contact.language, known),
        "team": notifier.team(data.get("to_queue"), contact.language),
        **_callback_window(notifier, data.get("callback")),
        **_turn_words(data),
        **_appointment_words(notifier, booked, contact.language),
    }
    rendered = notifier.composer.render(template, contact.language, values)
    if medium == domain.EMAIL:
        thread = f"<{data['ticket_id']}@{notifier.mail_domain}>"
        first = template in CONFIRMATIONS
        content = {
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
            "message_id": thread if first else f"<{delivery_id}@{notifier.mail_domain}>",
            "in_reply_to": None if first else thread,
            "reply_to": _reply_to(conn, notifier, data, known),
        }
        if template in CALENDAR_TEMPLATES and booked:
            cancelled = template == "appointment_cancelled"
            entry = _calendar_entry(
                notifier,
                data["reference"],
                booked,
                rendered.subject,
                values,
                now,
                cancelled=cancelled,
            )
            content["calendar"] = entry
    else:
        content = {"text": rendered.sms}
    return _delivery_row(
        delivery_id,
        event,
        now,
        recipient_key=CUSTOMER,
        ticket_id=data["ticket_id"],
        medium=medium,
        recipient=address,
        recipient_sha256=address_sha256,
        template=template,
        language=contact.language,
        content=content,
    )


def _not_sent(
    event: Event,
    now: datetime,
    data: Mapping[str, Any],
    medium: str,
    address: str,
    template: str,
    language: str,
    reason: str,
) -> dict[str, Any]:
    """A message to the customer the desk did not send, recorded with the reason (and
    without the address, so it neither is kept nor counts as sent to it)."""
    return _delivery_row(
        str(uuid.uuid4()),
        event,
        now,
        recipient_key=CUSTOMER,
        ticket_id=data["ticket_id"],
        medium=medium,
        recipient=None,
        recipient_masked=domain.masked(medium, address),
        template=template,
        language=language,
        content=None,
        state=storage.FAILED,
        last_error=f"not sent: {reason}",
        finished_at=now,
    )


def _reply_to(
    conn: Connection, notifier: Notifier, data: Mapping[str, Any], known: Any
) -> str | None:
    """The request's reply address, so that the customer's answer counts as theirs."""
    token = data.get("reply_token")
    if token is None:
        known = known or storage.contact(conn, data["ticket_id"])
        sealed = known.reply_token_sealed if known is not None else None
        try:
            token = notifier.box.open(sealed) if sealed else None
        except ValueError:  # sealed under a key since replaced: replies go by DKIM only
            token = None
    if token is None or notifier.mailbox is None:
        return None
    return domain.reply_address(notifier.mailbox, data["reference"], token)


def _action_url(
    notifier: Notifier, template: str, data: Mapping[str, Any], language: str, known: Any
) -> str | None:
    """The customer portal's pages (through the gateway at LOKET_PUBLIC_BASE_URL), in the
    customer's language."""
    base = notifier.public_base_url.rstrip("/")
    if template in CONFIRMATIONS and data.get("tracking_token"):
        query = urlencode({"token": data["tracking_token"], "lang": language})
        # A call-back for no particular time links to where the customer may choose one.
        page = "/callback" if template == "callback_any_time" else ""
        return f"{base}/track/{data['reference']}{page}?{query}"
    if template == "survey":
        return f"{base}/survey/{data['survey_token']}?lang={language}"
    if template == "callback_new_time" and known is not None and known.tracking_token_sealed:
        try:
            token = notifier.box.open(known.tracking_token_sealed)
        except ValueError:  # sealed under a key since replaced: the message says "call us"
            return None
        query = urlencode({"token": token, "lang": language})
        return f"{base}/track/{data['reference']}/callback?{query}"
    return None


def _callback_window(notifier: Notifier, window: Mapping[str, Any] | None) -> dict[str, str]:
    if not window:
        return {}

    def local(moment: str) -> str:
        # With its zone: a customer abroad, or a desk in another zone, must read it right.
        at = datetime.fromisoformat(moment).astimezone(notifier.timezone)
        return f"{at:%d-%m-%Y %H:%M} {at.tzname()}"

    return {"window_start": local(window["not_before"]), "window_end": local(window["not_after"])}


def _turn_words(data: Mapping[str, Any]) -> dict[str, Any]:
    """A number for the counter, and how near its turn is."""
    words: dict[str, Any] = {"ticket_number": data.get("ticket_number") or ""}
    if "ahead" in data:
        seconds = data.get("estimated_wait_seconds")
        words["ahead"] = data["ahead"]
        words["wait_minutes"] = max(1, math.ceil(seconds / 60)) if seconds is not None else None
    return words


def _appointment_words(
    notifier: Notifier, booked: Mapping[str, Any] | None, language: str
) -> dict[str, str]:
    """When and where, as the message says them: "Monday 7 December 2026, 09:00-09:15"."""
    if not booked:
        return {}
    start = datetime.fromisoformat(booked["start"]).astimezone(notifier.timezone)
    end = datetime.fromisoformat(booked["end"]).astimezone(notifier.timezone)
    day = format_date(start.date(), "EEEE d MMMM y", locale=language)
    return {
        "appointment_when": f"{day}, {start:%H:%M}\N{EN DASH}{end:%H:%M}",
        "counter_place": notifier.counter_places.get(language) or "",
    }


def _calendar_entry(
    notifier: Notifier,
    reference: str,
    booked: Mapping[str, Any],
    subject: str,
    values: Mapping[str, Any],
    now: datetime,
    cancelled: bool,
) -> dict[str, str]:
    start = datetime.fromisoformat(booked["start"]).astimezone(notifier.timezone)
    end = datetime.fromisoformat(booked["end"]).astimezone(notifier.timezone)
    entry = calendar.appointment_entry(
        uid=f"{reference}@{notifier.mail_domain}",
        start=start,
        end=end,
        stamp=now,
        summary=subject,
        location=values.get("counter_place") or None,
        description=f"{reference}\n{values.get('action_url') or ''}".strip(),
        url=values.get("action_url"),
        organizer=notifier.mailbox,
        cancelled=cancelled,
        sequence=int(booked.get("sequence", 0)),
    )
    return {"method": "CANCEL" if cancelled else "REQUEST", "ics": entry}


def _webhook_deliveries(conn: Connection, event: Event, now: datetime) -> list[dict[str, Any]]:
    matching = [
        s for s in storage.active_subscriptions(conn) if domain.subscribed(s.events, event.type)
    ]
    if not matching:
        return []
    body = json.dumps(
        domain.webhook_body(json.loads(event.to_json())), separators=(",", ":"), sort_keys=True
    )
    return [
        _delivery_row(
            str(uuid.uuid4()),
            event,
            now,
            recipient_key=subscription.id,
            ticket_id=event.data.get("ticket_id"),
            medium=domain.WEBHOOK,
            recipient=subscription.url,
            template=event.type,
            language=None,
            content={"body": body, "event_type": event.type},
            subscription_id=subscription.id,
        )
        for subscription in matching
    ]


def _delivery_row(delivery_id: str, event: Event, now: datetime, **values: Any) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "event_id": event.id,
        "event_type": event.type,
        "recipient_masked": domain.masked(values["medium"], values["recipient"] or ""),
        "subscription_id": None,
        "recipient_sha256": None,
        "state": storage.PENDING,
        "attempts": 0,
        # Every row of one insert has the same columns: what only some rows set.
        "lease_until": None,
        "last_attempt_at": None,
        "last_error": None,
        "finished_at": None,
        "created_at": now,
        **values,
    }


def _schedule(unit: UnitOfWork, jobs: list[tuple[str, int]], routing_key: str) -> None:
    """Jobs leave through the outbox: they exist only if the state they act on committed.
    They are work for this service's own sender, not events: its work queue takes them,
    the routing key picks the delay."""
    cause = unit.event
    events = [
        Event(
            type=ATTEMPT_JOB,
            data={"delivery_id": delivery_id, "attempt": attempt},
            source=unit.source,
            correlation_id=cause.correlation_id if cause else None,
            causation_id=cause.id if cause else None,
        )
        for delivery_id, attempt in jobs
    ]
    add_events(unit.conn, storage.attempts_outbox, events, routing_key=routing_key)


# Attempts


def begin_attempt(
    unit: UnitOfWork, notifier: Notifier, delivery_id: str, attempt: int, now: datetime
) -> Outgoing | None:
    """Records that attempt `attempt` is under way; None when there is nothing to send.

    A job can arrive twice (a redelivery, a relay that published twice). A delivery that is
    final, or an attempt that is already past, is left alone. An attempt still under way
    elsewhere is looked at again after its lease; an attempt whose lease ran out (its worker
    died mid-send) is taken over and sent again, with the same idempotency identifiers.
    """
    row = storage.delivery_for_update(unit.conn, delivery_id)
    if row is None or row.state in storage.FINAL_STATES:
        return None
    if row.state == storage.SENDING and row.attempts == attempt:
        if row.lease_until is not None and to_utc(row.lease_until) > now:
            lease_ms = int(notifier.lease.total_seconds() * 1000)
            _schedule(unit, [(delivery_id, attempt)], WorkQueue.delay_key(lease_ms))
            return None
    elif row.state not in (storage.PENDING, storage.RETRYING) or attempt != row.attempts + 1:
        return None
    storage.update_delivery(
        unit.conn,
        delivery_id,
        state=storage.SENDING,
        attempts=attempt,
        lease_until=now + notifier.lease,
        last_attempt_at=now,
    )
    secret = None
    if row.subscription_id is not None:
        subscription = storage.subscription(unit.conn, row.subscription_id)
        secret = notifier.box.open(subscription.secret_encrypted) if subscription else None
    return Outgoing(
        delivery_id=row.id,
        event_id=row.event_id,
        medium=row.medium,
        recipient=row.recipient,
        content=json.loads(row.content),
        secret=secret,
    )


SENT, RETRIED, FAILED = "sent", "retried", "failed"


def finish_attempt(
    unit: UnitOfWork,
    notifier: Notifier,
    delivery_id: str,
    attempt: int,
    failure: SendFailure | None,
    now: datetime,
) -> str | None:
    """Records how the attempt went; returns the outcome, or None if it was taken over."""
    row = storage.delivery_for_update(unit.conn, delivery_id)
    if row is None or row.state != storage.SENDING or row.attempts != attempt:
        return None
    error = domain.scrub(failure.error) if failure else None
    delay = domain.next_delay_ms(notifier.retry_delays_ms, attempt)
    if failure is not None and failure.verdict == domain.RETRYABLE and delay is not None:
        storage.update_delivery(
            unit.conn,
            delivery_id,
            state=storage.RETRYING,
            last_error=error,
            lease_until=None,
            next_attempt_at=now + timedelta(milliseconds=delay),
        )
        _schedule(unit, [(delivery_id, attempt + 1)], WorkQueue.delay_key(delay))
        return RETRIED
    outcome = SENT if failure is None else FAILED
    storage.update_delivery(
        unit.conn,
        delivery_id,
        state=outcome,
        last_error=error,
        lease_until=None,
        next_attempt_at=None,
        finished_at=now,
        # What was said, and to whom exactly, is not kept once it is done.
        content=None,
        recipient=None,
    )
    _report(unit, outcome, row._mapping, attempt, error)
    return outcome


# Subscriptions


def create_subscription(
    unit: UnitOfWork, box: SecretBox, body: Mapping[str, Any], created_by: str, now: datetime
) -> Row:
    return storage.add_subscription(
        unit.conn,
        {
            "id": str(uuid.uuid4()),
            "url": body["url"],
            "events": sorted(set(body["events"])),
            "secret_encrypted": box.seal(body["secret"]),
            "description": body.get("description"),
            "created_by": created_by,
            "created_at": now,
        },
    )


def delete_subscription(unit: UnitOfWork, subscription_id: str, now: datetime) -> None:
    if not storage.delete_subscription(unit.conn, subscription_id, now):
        raise NotFound("subscription")
