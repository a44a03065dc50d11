"""The queue's use cases as plain functions.

A use case that changes something works through the unit of work it is given: it changes
tickets, writes their history, emits the events that follow and leaves the metric
observations for after the commit. Rules are the domain's, statements the storage's.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from sqlalchemy import Connection
from sqlalchemy.engine import Row

from services.common.config import ConfigError
from services.common.events import isoformat, to_utc, utcnow
from services.common.failures import Conflict, Invalid, NotAllowed, NotFound
from services.common.hashing import secret_digest
from services.common.unit_of_work import UnitOfWork
from services.common.vocabulary import language
from services.queue import domain, storage, waits
from services.queue.metrics import (
    CALLBACK_ATTEMPTS,
    QUEUE_JUMPS,
    REPEAT_CONTACTS,
    RESOLUTION,
    SLA_BREACHES,
    TRANSFERS,
    WAIT,
    GaugeRow,
)

# What wait estimates learn from (bench/estimates.py compares choices): the handling
# times and the share of each priority among arrivals over the last four hours, the
# arrivals of the last hour, and as agents at work those holding a ticket they claimed
# in the last AT_WORK_WITHIN.
HISTORY = timedelta(hours=4)
AT_WORK_WITHIN = timedelta(hours=2)
# A new arrival, for the channel estimates: the matrix's middle (medium impact, medium
# urgency), which most requests get.
NEW_ARRIVAL_PRIORITY = 3


@dataclass(frozen=True)
class Desk:
    """What the queue reads from the desk configuration."""

    sla: Mapping[str, Any]
    queues: Mapping[str, Mapping[str, str]]  # id -> name per language
    # A customer's reply within this time after resolution reopens the request.
    reopen_window: timedelta = timedelta(days=14)
    # Per queue, what a wait estimate starts from before the queue has learned.
    plans: Mapping[str, waits.QueuePlan] = field(default_factory=dict)
    counter: domain.CounterRules = field(default_factory=domain.CounterRules)
    callback: domain.CallbackRules = field(default_factory=domain.CallbackRules)

    @classmethod
    def from_config(cls, desk: Mapping[str, Any]) -> Desk:
        return cls(
            desk["sla"],
            {q["id"]: q["name"] for q in desk["queues"]},
            timedelta(days=float(desk.get("reopen_window_days", 14))),
            {q["id"]: _plan(q, desk) for q in desk["queues"]},
            domain.CounterRules.from_config(desk.get("counter")),
            domain.CallbackRules.from_config(desk.get("callback")),
        )


def _plan(queue: Mapping[str, Any], desk: Mapping[str, Any]) -> waits.QueuePlan:
    """`handling_minutes` and `agents` of a queue in the desk configuration."""
    where = f"queues.{queue['id']}"
    minutes = queue.get("handling_minutes")
    if minutes is not None and (
        not isinstance(minutes, int | float) or isinstance(minutes, bool) or minutes <= 0
    ):
        raise ConfigError("LOKET_CONFIG", f"{where}.handling_minutes: a number above 0")
    staffing = None
    if queue.get("agents") is not None:
        zone_name = (desk.get("opening_hours") or {}).get("timezone", "UTC")
        try:
            staffing = waits.parse_staffing(queue["agents"], ZoneInfo(zone_name))
        except (ValueError, AttributeError, ZoneInfoNotFoundError) as exc:
            raise ConfigError("LOKET_CONFIG", f"{where}.agents: {exc}") from None
    return waits.QueuePlan(minutes * 60 if minutes is not None else None, staffing)


def _language(ticket: Row | Mapping[str, Any]) -> str:
    requester = ticket["requester"] if isinstance(ticket, Mapping) else ticket.requester
    return language((requester or {}).get("language"))


def _labels(ticket: Row) -> tuple[str, str]:
    return ticket.channel, ticket.queue


def _get(conn: Connection, ticket_id: str) -> Row:
    ticket = storage.ticket_by_id(conn, ticket_id, lock=True)
    if ticket is None:
        raise NotFound("ticket")
    return ticket


# Arrivals


def receive_ticket(
    unit: UnitOfWork,
    desk: Desk,
    data: Mapping[str, Any],
    activity: Activity | None = None,
) -> None:
    """A new ticket from `ticket.created`, in the queue of its category; `activity` reads
    what its wait estimate learns from (recent_activity, or a kept one)."""
    if storage.ticket_exists(unit.conn, data["ticket_id"]):
        return
    created_at = to_utc(data["created_at"])
    requester_key = domain.requester_key(data["requester"])
    repeat_of = None
    if requester_key:
        repeat_of = storage.recent_same_category(
            unit.conn, requester_key, data["category"], created_at - domain.REPEAT_WINDOW
        )
    ticket = domain.new_ticket(data, desk.sla, list(desk.queues), requester_key, repeat_of)
    on_the_spot = ticket["status"] == "resolved"
    row = storage.add_ticket(unit.conn, ticket)
    language = _language(ticket)
    labels = (ticket["channel"], ticket["queue"])
    if repeat_of:
        unit.after_commit(
            lambda: REPEAT_CONTACTS.labels(ticket["channel"], ticket["category"]).inc()
        )
    if on_the_spot:
        storage.add_history(
            unit.conn,
            ticket["id"],
            created_at,
            "resolved_on_contact",
            "resolved",
            public_message=ticket["resolution"],
            internal_note=f"recorded by {data['submitted_by']}"
            if data.get("submitted_by")
            else None,
            actor=ticket["assigned_to"],
        )
        unit.after_commit(lambda: WAIT.labels(*labels).observe(0))
        unit.after_commit(lambda: RESOLUTION.labels(*labels).observe(0))
        unit.emit("ticket.resolved", _resolved_data(row, ticket["assigned_to"] or "desk"))
        return
    storage.add_history(
        unit.conn,
        ticket["id"],
        created_at,
        "created",
        "queued",
        public_message=domain.public_message(_arrival_message(row), language),
    )
    position = storage.queue_position(unit.conn, row)
    learned = (activity or recent_activity)(unit.conn, created_at)
    estimate = ticket_estimate(unit.conn, desk, row, position, created_at, learned)
    if row.channel == "walk_in":
        tell_turns_near(unit, desk, row.queue, created_at, lambda _conn, _now: learned)
    unit.emit(
        "ticket.queued",
        {
            "ticket_id": row.id,
            "reference": row.reference,
            "queue": row.queue,
            "position": position,
            "due_at": isoformat(row.due_at),
            "estimated_wait_seconds": estimate.likely if estimate else None,
        },
    )


def _arrival_message(ticket: Row) -> str:
    if ticket.appointment_start is not None:
        return "appointment_booked"
    return "from_home" if ticket.channel == "walk_in" and on_the_way(ticket) else "queued"


def _resolved_data(ticket: Row, agent: str) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "reference": ticket.reference,
        "channel": ticket.channel,
        "category": ticket.category,
        "queue": ticket.queue,
        "agent": agent,
        "resolution": ticket.resolution,
        "created_at": isoformat(ticket.created_at),
        "resolved_at": isoformat(ticket.resolved_at),
        "requester": ticket.requester,
    }


# Claims


def _assigned(
    unit: UnitOfWork,
    ticket: Row,
    agent: str,
    now: datetime,
    out_of_order: bool,
    reason: str | None,
) -> Row:
    """What follows a claim: the service rate, the history, the event, the metrics."""
    first_claim = to_utc(ticket.first_claimed_at) == now
    storage.record_claim(unit.conn, ticket.queue, now, agent, ticket.id, out_of_order)
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "assigned",
        "in_progress",
        public_message=domain.public_message("in_progress", _language(ticket)),
        internal_note=reason,
        actor=agent,
    )
    waited = max(0.0, (now - to_utc(ticket.contact_started_at)).total_seconds())
    data = {
        "ticket_id": ticket.id,
        "reference": ticket.reference,
        "queue": ticket.queue,
        "agent": agent,
        "waited_seconds": round(waited, 3),
        "out_of_order": out_of_order,
    }
    if reason:
        data["reason"] = reason
    unit.emit("ticket.assigned", data)
    labels = _labels(ticket)
    if first_claim:
        unit.after_commit(lambda: WAIT.labels(*labels).observe(waited))
    if out_of_order:
        unit.after_commit(lambda: QUEUE_JUMPS.labels(*labels).inc())
    return ticket


def claim_next(unit: UnitOfWork, queue: str, agent: str, now: datetime) -> Row | None:
    ticket = storage.assign(unit.conn, storage.next_waiting(queue, now), agent, now)
    if ticket is None:
        return None
    return _assigned(unit, ticket, agent, now, out_of_order=False, reason=None)


def claim(unit: UnitOfWork, ticket_id: str, agent: str, reason: str, now: datetime) -> Row:
    """A specific ticket; out of fair order unless it happens to be the next one. A
    ticket another agent holds is taken over: with a reason, recorded and counted like a
    queue jump (decision 0018)."""
    ticket = _get(unit.conn, ticket_id)
    if ticket.status in domain.HELD_STATUSES and ticket.assigned_to not in (None, agent):
        return _take_over(unit, ticket, agent, reason, now)
    if ticket.status != "queued":
        raise Conflict(f"The ticket is {ticket.status}, not waiting.")
    # A number called to a counter was called in fair order among those present.
    out_of_order = ticket.called_at is None and (
        storage.head_of_queue(unit.conn, ticket.queue) != ticket.id
    )
    assigned = storage.assign(unit.conn, ticket.id, agent, now)
    return _assigned(unit, assigned, agent, now, out_of_order, reason)


# The counter

# A ticket back in line waits to be called again, at whichever counter is free then.
NOT_CALLED = {"assigned_to": None, "counter": None, "called_at": None, "counted_calls": 0}


def _called(unit: UnitOfWork, ticket: Row, agent: str, now: datetime) -> Row:
    """What follows a call: the display's line, the history the customer reads."""
    storage.record_call(unit.conn, ticket, now)
    number = ticket.ticket_number or ticket.reference
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "called",
        "queued",
        public_message=domain.public_message(
            "called", _language(ticket), number=number, counter=ticket.counter
        ),
        actor=agent,
    )
    return ticket


def call_next(
    unit: UnitOfWork,
    desk: Desk,
    queue: str,
    counter: str,
    agent: str,
    now: datetime,
    activity: Activity | None = None,
) -> Row | None:
    """The next person present for the queue, in fair order, called to the counter; those
    with a number from home whose turn now nears are told."""
    ticket = storage.call(unit.conn, storage.next_present(queue), counter, now)
    if ticket is None:
        return None
    tell_turns_near(unit, desk, queue, now, activity)
    return _called(unit, ticket, agent, now)


def on_the_way(ticket: Row) -> bool:
    """A number taken from home, not yet in the building, with an address to tell."""
    return (
        ticket.appointment_start is None
        and ticket.checked_in_at is None
        and (ticket.requester or {}).get("preferred_contact", "none") != "none"
    )


def tell_turns_near(
    unit: UnitOfWork, desk: Desk, queue: str, now: datetime, activity: Activity | None = None
) -> int:
    """`ticket.turn_near`, once, for each number from home whose turn nears: few people
    ahead, or a short wait. Looked at from the front of the line, and no further than
    the first person whose turn does not near (everyone behind waits longer still)."""
    rules = desk.counter
    line = storage.counter_line(unit.conn, queue, LINE_LOOKED_AT)
    learned = (activity or recent_activity)(unit.conn, now)
    told = 0
    for ahead, ticket in enumerate(line):
        estimate = None
        if ahead > rules.notify_when_ahead:
            estimate = estimate_for(desk, learned, queue, ticket.priority, ahead + 1, now)
            if not rules.turn_near(ahead, estimate.likely if estimate else None):
                break
        if ticket.turn_near_at is not None or not on_the_way(ticket):
            continue
        storage.update_ticket(unit.conn, ticket.id, turn_near_at=now)
        estimate = estimate or estimate_for(desk, learned, queue, ticket.priority, ahead + 1, now)
        unit.emit(
            "ticket.turn_near",
            {
                "ticket_id": ticket.id,
                "reference": ticket.reference,
                "ticket_number": ticket.ticket_number,
                "ahead": ahead,
                "estimated_wait_seconds": estimate.likely if estimate else None,
            },
        )
        told += 1
    return told


# How far into a counter's line the "turn nears" rule looks: past three or ten minutes'
# worth of people, nobody's turn nears.
LINE_LOOKED_AT = 100


def check_turns_near(unit: UnitOfWork, desk: Desk, now: datetime) -> int:
    """The worker's look at every counter line: a wait can shorten without a call (more
    agents at work, a ticket taken at a desk behind the counter)."""
    learned = recent_activity(unit.conn, now)
    return sum(
        tell_turns_near(unit, desk, queue, now, lambda _conn, _now: learned)
        for queue in desk.queues
    )


def call_again(unit: UnitOfWork, desk: Desk, counter: str, agent: str, now: datetime) -> Row:
    """The number the counter called last, called once more."""
    ticket = storage.called_at_counter(unit.conn, counter)
    if ticket is None:
        raise NotFound("number called at this counter")
    counted = ticket.counted_calls + desk.counter.counts(to_utc(ticket.called_at), now)
    again = storage.update_ticket(
        unit.conn, ticket.id, called_at=now, counted_calls=counted, updated_at=now
    )
    return _called(unit, again, agent, now)


def no_show(unit: UnitOfWork, desk: Desk, ticket_id: str, agent: str, now: datetime) -> Row:
    """The person called did not come: the ticket leaves the line (cancelled) and the
    customer is told how to get their place back."""
    ticket = _get(unit.conn, ticket_id)
    if ticket.status != "queued":
        raise Conflict(f"The ticket is {ticket.status}, not waiting.")
    called_at = to_utc(ticket.called_at) if ticket.called_at else None
    refused = desk.counter.no_show_refused(ticket.counted_calls, called_at, now)
    if refused:
        raise Conflict(refused, code="not_called_enough")
    message = domain.public_message("no_show", _language(ticket), calls=str(ticket.counted_calls))
    return _set_status(unit, ticket, "cancelled", message, None, agent, now, no_show_at=now)


def reactivate(unit: UnitOfWork, ticket_id: str, reason: str, agent: str, now: datetime) -> Row:
    """A no-show who came after all, back in the place they had (their clock and due time
    unchanged): ahead of those who came later, so recorded and counted like a queue jump."""
    ticket = _get(unit.conn, ticket_id)
    if ticket.status != "cancelled" or ticket.no_show_at is None:
        raise Conflict("Only a ticket recorded as not come can be put back in line.")
    back = storage.update_ticket(
        unit.conn, ticket.id, status="queued", no_show_at=None, updated_at=now, **NOT_CALLED
    )
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "reactivated",
        "queued",
        public_message=domain.public_message("reactivated", _language(ticket)),
        internal_note=reason,
        actor=agent,
    )
    changed = {"ticket_id": ticket.id, "reference": ticket.reference, "agent": agent}
    unit.emit("ticket.status_changed", changed | {"from": "cancelled", "to": "queued"})
    labels = _labels(ticket)
    unit.after_commit(lambda: QUEUE_JUMPS.labels(*labels).inc())
    return back


def checked_in(unit: UnitOfWork, data: Mapping[str, Any]) -> None:
    """The person with the appointment, or with a number taken from home, is in the
    building: present for a call (an appointment), with the number the display will show,
    and nobody to tell that their turn nears."""
    ticket = storage.ticket_by_id(unit.conn, data["ticket_id"], lock=True)
    if ticket is None or ticket.checked_in_at is not None:
        return
    at = to_utc(data["checked_in_at"])
    storage.update_ticket(
        unit.conn, ticket.id, checked_in_at=at, ticket_number=data["ticket_number"], updated_at=at
    )
    from_home = ticket.appointment_start is None
    message = domain.public_message("arrived", _language(ticket)) if from_home else None
    storage.add_history(
        unit.conn, ticket.id, at, "checked_in", ticket.status, public_message=message
    )


def appointment_moved(unit: UnitOfWork, data: Mapping[str, Any]) -> None:
    """Another time: the ticket is due at it, and waits for its check-in then."""
    ticket = storage.ticket_by_id(unit.conn, data["ticket_id"], lock=True)
    if ticket is None or ticket.status != "queued" or ticket.checked_in_at is not None:
        return
    start, end = to_utc(data["start"]), to_utc(data["end"])
    moved = {"appointment_start": start, "appointment_end": end, "due_at": start}
    storage.update_ticket(unit.conn, ticket.id, updated_at=utcnow(), **moved)


def appointment_cancelled(unit: UnitOfWork, data: Mapping[str, Any]) -> None:
    """The customer cancelled: the ticket leaves the line, said in their language."""
    ticket = storage.ticket_by_id(unit.conn, data["ticket_id"], lock=True)
    if ticket is None or ticket.status != "queued":
        return
    message = domain.public_message("appointment_cancelled", _language(ticket))
    _set_status(unit, ticket, "cancelled", message, None, "customer", to_utc(data["cancelled_at"]))


def _take_over(unit: UnitOfWork, ticket: Row, agent: str, reason: str, now: datetime) -> Row:
    taken = storage.update_ticket(unit.conn, ticket.id, assigned_to=agent, updated_at=now)
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "taken_over",
        ticket.status,
        internal_note=f"taken over from {ticket.assigned_to}: {reason}",
        actor=agent,
    )
    unit.emit(
        "ticket.assigned",
        {
            "ticket_id": ticket.id,
            "reference": ticket.reference,
            "queue": ticket.queue,
            "agent": agent,
            "waited_seconds": 0.0,
            "out_of_order": True,
            "reason": reason,
        },
    )
    labels = _labels(ticket)
    unit.after_commit(lambda: QUEUE_JUMPS.labels(*labels).inc())
    return taken


def callback_attempt(
    unit: UnitOfWork,
    desk: Desk,
    ticket_id: str,
    outcome: str,
    note: str | None,
    agent: str,
    now: datetime,
    *,
    lead: bool = False,
) -> Row:
    """The agent holding a call-back called: reached, they go on with it; not reached
    (or a voicemail left), it goes back to the line with its place, offered again after
    `callback.retry_minutes` inside the customer's window, and after
    `callback.max_attempts` it waits for the customer to choose another time."""
    ticket = _get(unit.conn, ticket_id)
    _check_holder(ticket, agent, lead)
    if ticket.channel != "callback" or ticket.status != "in_progress":
        raise Conflict("Record a call on a call-back you are working on.")
    labels = (ticket.queue, outcome)
    unit.after_commit(lambda: CALLBACK_ATTEMPTS.labels(*labels).inc())
    language = _language(ticket)
    if outcome == "reached":
        storage.add_history(
            unit.conn,
            ticket.id,
            now,
            "callback_reached",
            ticket.status,
            internal_note=note,
            actor=agent,
        )
        return storage.update_ticket(unit.conn, ticket.id, updated_at=now)
    attempts = ticket.callback_attempts + 1
    window_end = to_utc(ticket.callback_not_after) if ticket.callback_not_after else None
    again = desk.callback.next_try(attempts, window_end, now)
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        f"callback_{outcome}",
        ticket.status,
        internal_note=note,
        actor=agent,
    )
    if again is None:
        message = domain.public_message("callback_new_time", language, n=str(attempts))
        return _set_status(
            unit,
            ticket,
            "waiting_on_customer",
            message,
            None,
            agent,
            now,
            reason=CALLBACK_NOT_REACHED,
            callback_attempts=attempts,
        )
    message = domain.public_message("callback_retry", language)
    # Back in line with its place (its due time unchanged), not to be taken before `again`.
    return _set_status(
        unit,
        ticket,
        "queued",
        message,
        None,
        agent,
        now,
        callback_attempts=attempts,
        callback_not_before=again,
    )


# Why a status changed, when the customer's message depends on it (the event's `reason`).
CALLBACK_NOT_REACHED = "callback_not_reached"
CALLBACK_WINDOW_CHOSEN = "callback_window_chosen"


def choose_callback_window(
    unit: UnitOfWork,
    desk: Desk,
    reference: str,
    token: str,
    window: tuple[datetime, datetime],
    zone: ZoneInfo,
    now: datetime,
) -> Row:
    """The customer chooses a time to be called: after the desk could not reach them, or
    for a call-back of no particular time (a caller who hung up) still waiting in line.
    The call-back goes (back) to the line with the place it had (its due time from the
    same first contact, within the new window), to be tried afresh."""
    ticket = storage.ticket_by_reference(unit.conn, reference)
    if ticket is None or not hmac.compare_digest(
        ticket.tracking_token_sha256, secret_digest(token)
    ):
        raise NotFound("request")
    ticket = _get(unit.conn, ticket.id)
    if not domain.takes_a_callback_window(ticket.channel, ticket.status, ticket.callback_not_after):
        raise Conflict(
            "Only a call-back the desk could not reach, or one still waiting for no "
            "particular time, takes a time.",
            code="not_waiting_on_customer",
        )
    starts, ends = window
    due = domain.callback_due(
        domain.due_at(to_utc(ticket.contact_started_at), ticket.priority, ticket.channel, desk.sla),
        starts,
        ends,
    )
    local, language = (starts.astimezone(zone), ends.astimezone(zone)), _language(ticket)
    message = domain.public_message(
        "callback_window_chosen",
        language,
        day=format_date(local[0], "EEEE d MMMM", locale=language),
        start=local[0].strftime("%H:%M"),
        end=local[1].strftime("%H:%M"),
    )
    return _set_status(
        unit,
        ticket,
        "queued",
        message,
        None,
        "customer",
        now,
        reason=CALLBACK_WINDOW_CHOSEN,
        callback_attempts=0,
        callback_not_before=starts,
        callback_not_after=ends,
        due_at=due,
    )


def _check_holder(ticket: Row, agent: str, lead: bool) -> None:
    """Only the agent who holds a ticket works it, or a supervisor; anyone else takes it
    over first, with a reason (decision 0018)."""
    if not domain.may_work_on(ticket.assigned_to, agent, lead):
        raise NotAllowed(
            f"This ticket is held by {ticket.assigned_to}; claim it with a reason to take it over.",
            code="held_by_another_agent",
        )


# Work on a ticket


def change_status(
    unit: UnitOfWork,
    ticket_id: str,
    to: str,
    public_note: str | None,
    internal_note: str | None,
    agent: str,
    now: datetime,
    *,
    lead: bool = False,
) -> Row:
    ticket = _get(unit.conn, ticket_id)
    _check_holder(ticket, agent, lead)
    if ticket.status == "queued" and to == "in_progress":
        # Taking a waiting ticket is a claim: in fair order, or out of it with a reason.
        raise Conflict("Take a waiting ticket with next, or claim it with a reason.")
    try:
        domain.check_transition(ticket.status, to)
    except domain.InvalidTransition as exc:
        raise Conflict(str(exc)) from None
    if to == "resolved" and not public_note:
        raise Invalid("public_note", "Tell the customer how it was resolved.")
    return _set_status(unit, ticket, to, public_note, internal_note, agent, now)


def add_message(
    unit: UnitOfWork,
    ticket_id: str,
    message: str,
    public: bool,
    agent: str,
    now: datetime,
    *,
    lead: bool = False,
) -> Row:
    """A message to the customer (sent by notify, on their status page) or an internal
    note (never shown or sent), without changing the status. Writing to the customer is
    the holder's (or a supervisor's); a note any agent may add."""
    ticket = _get(unit.conn, ticket_id)
    if public:
        _check_holder(ticket, agent, lead)
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "message" if public else "note",
        ticket.status,
        public_message=message if public else None,
        internal_note=None if public else message,
        actor=agent,
    )
    updated = storage.update_ticket(unit.conn, ticket.id, updated_at=now)
    if public:
        unit.emit("ticket.message_added",
            {"ticket_id": ticket.id, "reference": ticket.reference, "message": message,
             "agent": agent},
        )  # fmt: skip
    return updated


def _set_status(
    unit: UnitOfWork,
    ticket: Row,
    to: str,
    public_note: str | None,
    internal_note: str | None,
    agent: str,
    now: datetime,
    reason: str | None = None,
    **also: Any,
) -> Row:
    """A status change with its history, its events and, when resolved, its metric;
    `also` are columns changed with it (a no-show's moment); `reason` tells notify which
    message fits when the status alone does not say it."""
    values: dict[str, Any] = {"status": to, "updated_at": now, **also}
    if to == "queued":
        values.update(NOT_CALLED)
    if to == "in_progress":
        values["assigned_to"] = agent
    if to == "resolved":
        values.update(resolved_at=now, resolution=public_note)
    elif ticket.status == "resolved":
        values.update(resolved_at=None, resolution=None)  # reopened: no longer resolved
    updated = storage.update_ticket(unit.conn, ticket.id, **values)
    if ticket.status == "in_progress":
        storage.end_claim(unit.conn, ticket.id, now)
    message = public_note or domain.public_message(to, _language(ticket))
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "status",
        to,
        public_message=message,
        internal_note=internal_note,
        actor=agent,
    )
    data = {
        "ticket_id": ticket.id,
        "reference": ticket.reference,
        "from": ticket.status,
        "to": to,
        "agent": agent,
    }
    if public_note:
        data["public_note"] = public_note
    if reason:
        data["reason"] = reason
    unit.emit("ticket.status_changed", data)
    if to == "resolved":
        unit.emit("ticket.resolved", _resolved_data(updated, agent))
        _observe_resolution(unit, updated, now)
    if ticket.status == "resolved" and to == "in_progress":
        unit.emit(
            "ticket.reopened",
            {
                "ticket_id": ticket.id,
                "reference": ticket.reference,
                "reason": internal_note or public_note or "reopened",
            },
        )
    return updated


def _observe_resolution(unit: UnitOfWork, ticket: Row, now: datetime) -> None:
    seconds = max(0.0, (now - to_utc(ticket.contact_started_at)).total_seconds())
    labels = _labels(ticket)
    unit.after_commit(lambda: RESOLUTION.labels(*labels).observe(seconds))


def transfer(
    unit: UnitOfWork,
    desk: Desk,
    ticket_id: str,
    to_queue: str,
    note: str,
    agent: str,
    now: datetime,
    *,
    lead: bool = False,
) -> Row:
    """A handoff keeps the reference, the history, the answers and the place in line."""
    if to_queue not in desk.queues:
        raise Invalid("to_queue", "No such queue.")
    ticket = _get(unit.conn, ticket_id)
    _check_holder(ticket, agent, lead)
    if ticket.status not in domain.OPEN_STATUSES:
        raise Conflict(f"A {ticket.status} ticket cannot be transferred.")
    if ticket.queue == to_queue:
        raise Conflict("The ticket is in that queue already.")
    count = ticket.transfer_count + 1
    if ticket.status == "in_progress":
        storage.end_claim(unit.conn, ticket.id, now)
    moved = storage.update_ticket(
        unit.conn,
        ticket.id,
        queue=to_queue,
        status="queued",
        assigned_to=None,
        transfer_count=count,
        needs_supervisor=ticket.needs_supervisor or count > domain.TRANSFERS_BEFORE_FLAG,
        updated_at=now,
    )
    language = _language(ticket)
    team = desk.queues[to_queue].get(language) or to_queue
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "transferred",
        "queued",
        public_message=domain.public_message("transferred", language, team=team),
        internal_note=note,
        actor=agent,
    )
    unit.emit(
        "ticket.transferred",
        {
            "ticket_id": ticket.id,
            "reference": ticket.reference,
            "from_queue": ticket.queue,
            "to_queue": to_queue,
            "note": note,
            "transfer_count": count,
        },
    )
    from_queue = ticket.queue
    unit.after_commit(lambda: TRANSFERS.labels(from_queue, to_queue).inc())
    return moved


def change_priority(
    unit: UnitOfWork,
    desk: Desk,
    ticket_id: str,
    priority: int,
    reason: str,
    agent: str,
    now: datetime,
    *,
    lead: bool = False,
) -> Row:
    ticket = _get(unit.conn, ticket_id)
    _check_holder(ticket, agent, lead)
    if ticket.status not in domain.OPEN_STATUSES:
        raise Conflict(f"A {ticket.status} ticket has no priority to change.")
    start = to_utc(ticket.contact_started_at)
    window = (ticket.callback_not_before, ticket.callback_not_after)
    changed = storage.update_ticket(
        unit.conn,
        ticket.id,
        priority=priority,
        due_at=domain.callback_due(
            domain.due_at(start, priority, ticket.channel, desk.sla),
            *(to_utc(edge) if edge else None for edge in window),
        ),
        resolution_due_at=start + domain.resolution_target(priority, desk.sla),
        updated_at=now,
    )
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "priority",
        ticket.status,
        internal_note=f"priority {ticket.priority} -> {priority}: {reason}",
        actor=agent,
    )
    return changed


# Events from elsewhere


def customer_replied(unit: UnitOfWork, desk: Desk, data: Mapping[str, Any]) -> None:
    """The reply joins the history; it moves a ticket waiting for the customer back to
    work, and reopens one resolved within the reopen window (the resolution e-mail says
    "reply and we will pick it up again")."""
    ticket = storage.ticket_by_id(unit.conn, data["ticket_id"], lock=True)
    if ticket is None:
        # Redelivery can overtake the ticket's creation: requeue; the delivery limit
        # dead-letters a reply to a ticket that never comes.
        raise LookupError(f"ticket {data['ticket_id']} is not known yet")
    at = to_utc(data["received_at"])
    to = domain.status_after_reply(
        ticket.status,
        to_utc(ticket.resolved_at) if ticket.resolved_at else None,
        at,
        desk.reopen_window,
    )
    values: dict[str, Any] = {"status": to, "updated_at": at}
    if to == "queued":
        values.update(assigned_to=None, resolved_at=None, resolution=None)
    if data.get("attachments"):
        values["attachments"] = [*(ticket.attachments or []), *data["attachments"]]
    # Even with the status unchanged: the ticket's version counts the new message, so an
    # agent answering from a view without it is told (If-Match).
    storage.update_ticket(unit.conn, ticket.id, **values)
    # The status the customer sees next to their message is the one it led to.
    storage.add_history(
        unit.conn,
        ticket.id,
        at,
        "customer_replied",
        to,
        public_message=domain.public_message(
            "reopened_by_reply" if to == "queued" else "customer_replied", _language(ticket)
        ),
        internal_note=data["message"],
        actor="customer",
    )
    if to == ticket.status:
        return
    base = {"ticket_id": ticket.id, "reference": ticket.reference}
    unit.emit(
        "ticket.status_changed",
        {**base, "from": ticket.status, "to": to, "agent": "customer"},
    )
    if to == "queued":
        unit.emit("ticket.reopened", {**base, "reason": "the customer replied"})


def feedback_received(unit: UnitOfWork, data: Mapping[str, Any], now: datetime) -> None:
    """A low score reopens the ticket for a supervisor."""
    if data["score"] > domain.LOW_SCORE:
        return
    ticket = storage.ticket_by_id(unit.conn, data["ticket_id"], lock=True)
    if ticket is None or ticket.status in domain.OPEN_STATUSES:
        return
    reason = f"satisfaction score {data['score']}"
    storage.update_ticket(
        unit.conn,
        ticket.id,
        status="queued",
        assigned_to=None,
        needs_supervisor=True,
        resolved_at=None,
        resolution=None,
        updated_at=now,
    )
    storage.add_history(
        unit.conn,
        ticket.id,
        now,
        "reopened",
        "queued",
        public_message=domain.public_message("reopened", _language(ticket)),
        internal_note=f"{reason}: {data.get('comment') or ''}".strip(": "),
        actor="feedback",
    )
    unit.emit(
        "ticket.reopened",
        {"ticket_id": ticket.id, "reference": ticket.reference, "reason": reason},
    )


def problem_resolved(unit: UnitOfWork, data: Mapping[str, Any], now: datetime) -> None:
    """Every open ticket linked to the problem is resolved with its resolution."""
    for ticket_id in data["ticket_ids"]:
        ticket = storage.ticket_by_id(unit.conn, ticket_id, lock=True)
        if ticket is None or ticket.status not in domain.OPEN_STATUSES:
            continue
        # Also from "queued": the cause was found upstream, nobody needs to take it.
        note = f"problem {data['problem_id']} resolved"
        _set_status(unit, ticket, "resolved", data["resolution"], note, "problem-management", now)


def notification_recorded(
    unit: UnitOfWork, data: Mapping[str, Any], outcome: str, at: datetime
) -> None:
    ticket_id = data.get("ticket_id")
    ticket = storage.ticket_by_id(unit.conn, ticket_id) if ticket_id else None
    if ticket is None:
        return
    note = f"{data['medium']} to {data['recipient']}: {data['template']} ({outcome}"
    note += f", attempt {data.get('attempt', 1)}"
    note += f": {data['error']})" if data.get("error") else ")"
    storage.add_history(
        unit.conn,
        ticket.id,
        at,
        f"notification_{outcome}",
        ticket.status,
        internal_note=note,
        actor="notify",
    )


# Timers


def check_sla(unit: UnitOfWork, desk: Desk, now: datetime) -> int:
    """Publish each missed target once: first response (not claimed by its due time) and
    resolution (not resolved by its resolution due time)."""
    breached = 0
    for target in domain.SLA_TARGETS:
        for ticket in storage.overdue(unit.conn, target, now):
            storage.mark_breached(unit.conn, ticket.id, target)
            due = ticket.due_at if target == "first_response" else ticket.resolution_due_at
            unit.emit(
                "ticket.sla_breached",
                {
                    "ticket_id": ticket.id,
                    "reference": ticket.reference,
                    "queue": ticket.queue,
                    "target": target,
                    "due_at": isoformat(due),
                },
            )
            queue = ticket.queue
            unit.after_commit(lambda q=queue, t=target: SLA_BREACHES.labels(q, t).inc())
            breached += 1
    return breached


def check_missed_appointments(unit: UnitOfWork, desk: Desk, now: datetime) -> int:
    """An appointment not checked in `counter.appointment_grace_minutes` after its start
    did not come: it leaves the line, and the customer is told they can book again."""
    missed = storage.missed_appointments(unit.conn, now - desk.counter.appointment_grace)
    for ticket in missed:
        message = domain.public_message("appointment_missed", _language(ticket))
        _set_status(unit, ticket, "cancelled", message, None, "counter", now, no_show_at=now)
    return len(missed)


# Reading


def recent_activity(conn: Connection, now: datetime) -> storage.QueueActivity:
    return storage.queue_activity(
        conn, now - HISTORY, now - AT_WORK_WITHIN, now - timedelta(hours=1)
    )


Activity = Callable[[Connection, datetime], storage.QueueActivity]


class KeptActivity:
    """What wait estimates learn from, read by a process at most once per `seconds`: it
    changes by the minute, not by the request or the event (four queries saved on every
    status page and every new ticket)."""

    def __init__(self, seconds: float = 5.0) -> None:
        self.seconds = seconds
        self._kept: tuple[float, storage.QueueActivity] | None = None

    def __call__(self, conn: Connection, now: datetime) -> storage.QueueActivity:
        kept = self._kept
        if kept is not None and time.monotonic() - kept[0] < self.seconds:
            return kept[1]
        activity = recent_activity(conn, now)
        self._kept = (time.monotonic(), activity)
        return activity


def estimate_for(
    desk: Desk,
    activity: storage.QueueActivity,
    queue: str,
    priority: int,
    position: int,
    now: datetime,
    window: tuple[datetime, datetime] | None = None,
    opening_later: Sequence[datetime] = (),
) -> waits.Estimate | None:
    """`position` counts the tickets ahead that can be taken now; `opening_later` the
    windows of the call-backs ahead that cannot yet."""
    model = _wait_model(desk, activity, queue, priority)
    return waits.estimate_wait(position, model, now, window, opening_later)


def _wait_model(
    desk: Desk, activity: storage.QueueActivity, queue: str, priority: int
) -> waits.WaitModel | None:
    return waits.wait_model(
        desk.plans.get(queue, waits.NO_PLAN),
        activity.handled.get(queue, []),
        activity.at_work.get(queue, 0),
        activity.arrivals.get(queue, {}),
        activity.arrivals_last_hour.get(queue, 0),
        priority,
    )


def ticket_estimate(
    conn: Connection, desk: Desk, ticket: Row, position: int, now: datetime,
    activity: storage.QueueActivity | None = None,
) -> waits.Estimate | None:  # fmt: skip
    """A waiting ticket's wait at its place in line (`position`, as the customer sees it);
    a call-back's window bounds it."""
    window = None
    if ticket.callback_not_before is not None and ticket.callback_not_after is not None:
        window = (to_utc(ticket.callback_not_before), to_utc(ticket.callback_not_after))
    later = storage.callbacks_ahead_opening_later(conn, ticket, now)
    activity = activity or recent_activity(conn, now)
    return estimate_for(
        desk, activity, ticket.queue, ticket.priority, position - len(later), now, window, later
    )


def waiting_overview(
    conn: Connection,
    desk: Desk,
    now: datetime,
    activity: storage.QueueActivity | None = None,
) -> dict[str, dict[str, Any]]:
    """Per queue: waiting and the longest wait per channel, and a new arrival's estimate."""
    activity = activity or recent_activity(conn, now)
    opening_later = storage.callbacks_opening_later(conn, now)
    overview: dict[str, dict[str, Any]] = {}

    def entry(queue: str) -> dict[str, Any]:
        return overview.setdefault(queue, {"waiting": {}, "oldest_by_channel": {}})

    for queue in desk.queues:
        entry(queue)
    for row in storage.waiting_by_queue_and_channel(conn):
        entry(row.queue)["waiting"][row.channel] = row.waiting
        entry(row.queue)["oldest_by_channel"][row.channel] = to_utc(row.oldest)
    for queue, waiting in overview.items():
        total = sum(waiting["waiting"].values())
        oldest = min(waiting["oldest_by_channel"].values(), default=None)
        later = opening_later.get(queue, [])
        estimate = estimate_for(
            desk, activity, queue, NEW_ARRIVAL_PRIORITY, total + 1 - len(later), now,
            opening_later=later,
        )  # fmt: skip
        waiting.update(
            total=total,
            claims_last_hour=activity.claims_last_hour.get(queue, 0),
            estimate=estimate,
            oldest_wait_seconds=(now - oldest).total_seconds() if oldest else None,
        )
    return overview


@dataclass(frozen=True)
class EstimateInputs:
    """Why a queue's wait is what it is, for dashboards."""

    queue: str
    agents_on_duty: float | None
    handling_seconds: float | None
    arrivals_per_hour: float
    served_per_hour: float | None  # agents on duty / handling time


def gauges(
    conn: Connection, desk: Desk, now: datetime, activity: storage.QueueActivity
) -> tuple[list[GaugeRow], list[EstimateInputs]]:
    """(queue, channel, waiting, waiting since, estimate) per queue and channel, and the
    inputs of a new arrival's estimate per queue, for the scrape-time gauges."""
    rows: list[GaugeRow] = []
    for queue, waiting in waiting_overview(conn, desk, now, activity).items():
        estimate = waiting["estimate"]
        for channel, count in waiting["waiting"].items():
            since = waiting["oldest_by_channel"][channel]
            rows.append((queue, channel, count, since, estimate.likely if estimate else None))
    inputs = []
    for queue in desk.queues:
        model = _wait_model(desk, activity, queue, NEW_ARRIVAL_PRIORITY)
        agents = model.agents_at(now) if model else None
        handling = model.handling_seconds if model else None
        served = agents * 3600 / handling if model else None  # type: ignore[operator]
        arrived = activity.arrivals_last_hour.get(queue, 0)
        inputs.append(EstimateInputs(queue, agents, handling, arrived, served))
    return rows, inputs
