"""The queue service's own database: tickets, their history, claims, outbox and inbox.

Statements on the path of every event are built once, at import (the `_UPPER_CASE`
constants): SQLAlchemy keeps a statement's cache key, and building and keying one per call
cost more than running it (docs/performance.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row

from services.common.db import BigId
from services.common.events import to_utc
from services.common.outbox import inbox_table, outbox_table
from services.queue import domain

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("tracking_token_sha256", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("category", String(64), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("requester", JSON, nullable=False),
    Column("requester_key", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # When the person first made contact: the start of every clock.
    Column("contact_started_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("resolution_due_at", DateTime(timezone=True), nullable=False),
    Column("assigned_to", String(64), nullable=True),
    Column("first_claimed_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", Text, nullable=True),
    Column("transfer_count", Integer, nullable=False, default=0),
    Column("needs_supervisor", Boolean, nullable=False, default=False),
    Column("repeat_of", String(36), nullable=True),
    Column("first_response_breached", Boolean, nullable=False, default=False),
    Column("resolution_breached", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The window a call-back was promised in; its due time never falls after its end.
    Column("callback_not_before", DateTime(timezone=True), nullable=True),
    Column("callback_not_after", DateTime(timezone=True), nullable=True),
    # Names, types and sizes of what came attached (the files stay with the mail system).
    Column("attachments", JSON, nullable=True),
    # Counts every change to the ticket: its ETag, so a change made on a stale view is
    # refused (If-Match, 412) instead of undoing a colleague's.
    Column("version", Integer, nullable=False, server_default="1"),
    # A walk-in's number ("B-014"), the counter it was last called to and when, the calls
    # that count towards a no-show, and when it was recorded as one.
    Column("ticket_number", String(16), nullable=True),
    Column("counter", String(32), nullable=True),
    Column("called_at", DateTime(timezone=True), nullable=True),
    Column("counted_calls", Integer, nullable=False, server_default="0"),
    Column("no_show_at", DateTime(timezone=True), nullable=True),
    # A booked time at the counter, and when the person checked in for it: until then
    # they are not in the building, so not present for a call.
    Column("appointment_start", DateTime(timezone=True), nullable=True),
    Column("appointment_end", DateTime(timezone=True), nullable=True),
    Column("checked_in_at", DateTime(timezone=True), nullable=True),
    # A number taken from home: when its customer was told their turn nears (once).
    Column("turn_near_at", DateTime(timezone=True), nullable=True),
    # A call-back's calls that did not reach the customer.
    Column("callback_attempts", Integer, nullable=False, server_default="0"),
    Index("ix_tickets_fair_order", "queue", "status", "due_at", "created_at", "id"),
    Index("ix_tickets_requester", "requester_key", "created_at"),
    Index("ix_tickets_status_due", "status", "due_at"),
    Index("ix_tickets_queue_created", "queue", "created_at"),
    Index("ix_tickets_created", "created_at"),
    Index("ix_tickets_callback_opening", "status", "callback_not_before"),
)

history = Table(
    "history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("ticket_id", String(36), ForeignKey("tickets.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("public_message", Text, nullable=True),
    Column("internal_note", Text, nullable=True),
    Column("actor", String(64), nullable=True),
)

# Every claim from a queue, by whom, and when their work on the ticket ended (it left
# "in progress"): handling times and agents at work, for wait estimates.
claims = Table(
    "claims",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("queue", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("ticket_id", String(36), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("out_of_order", Boolean, nullable=False, server_default=false()),
    Index("ix_claims_queue_at", "queue", "at"),
    Index("ix_claims_ticket_open", "ticket_id", "ended_at"),
)

# Who had a ticket open in the console, and when they last loaded it: "also open by".
viewers = Table(
    "ticket_viewers",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("person", String(64), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# Every call of a number to a counter, as the waiting room's display shows them.
counter_calls = Table(
    "counter_calls",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("queue", String(64), nullable=False),
    Column("counter", String(32), nullable=False),
    Column("ticket_id", String(36), nullable=False),
    Column("ticket_number", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_counter_calls_queue_at", "queue", "at"),
    Index("ix_counter_calls_counter_at", "counter", "at"),
)

FAIR_ORDER = (tickets.c.due_at, tickets.c.created_at, tickets.c.id)
# In line: a walk-in (in the building, or on the way with a number taken from home), or
# an appointment that checked in.
PRESENT = or_(tickets.c.appointment_start.is_(None), tickets.c.checked_in_at.is_not(None))
# Waiting in the building for a counter to call them: the counter's line.
AT_COUNTER = and_(
    tickets.c.status == "queued",
    tickets.c.channel == "walk_in",
    tickets.c.called_at.is_(None),
    PRESENT,
)


_TICKET_EXISTS = select(tickets.c.id).where(tickets.c.id == bindparam("ticket_id"))
_ADD_TICKET = insert(tickets).returning(*tickets.c)


def ticket_exists(conn: Connection, ticket_id: str) -> bool:
    return conn.scalar(_TICKET_EXISTS, {"ticket_id": ticket_id}) is not None


def add_ticket(conn: Connection, ticket: dict[str, Any]) -> Row:
    """Store a ticket; the stored row back (as the database keeps its values)."""
    return conn.execute(_ADD_TICKET, ticket).one()


def update_ticket(conn: Connection, ticket_id: str, **values: Any) -> Row:
    """Change a ticket in one statement; the changed row back."""
    return conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id)
        .values(**values, version=tickets.c.version + 1)
        .returning(*tickets.c)
    ).one()


_ADD_HISTORY = insert(history)


def add_history(
    conn: Connection,
    ticket_id: str,
    at: datetime,
    kind: str,
    status: str,
    public_message: str | None = None,
    actor: str | None = None,
    internal_note: str | None = None,
) -> None:
    conn.execute(
        _ADD_HISTORY,
        {
            "ticket_id": ticket_id,
            "at": at,
            "kind": kind,
            "status": status,
            "public_message": public_message,
            "actor": actor,
            "internal_note": internal_note,
        },
    )


_TICKET_BY_ID = select(tickets).where(tickets.c.id == bindparam("ticket_id"))
_TICKET_BY_ID_LOCKED = _TICKET_BY_ID.with_for_update()


_VERSION_LOCKED = (
    select(tickets.c.version).where(tickets.c.id == bindparam("ticket_id")).with_for_update()
)


def ticket_version(conn: Connection, ticket_id: str) -> int | None:
    """The ticket's version, locked until the transaction ends (None: no such ticket)."""
    return conn.scalar(_VERSION_LOCKED, {"ticket_id": ticket_id})


def ticket_by_id(conn: Connection, ticket_id: str, *, lock: bool = False) -> Row | None:
    query = _TICKET_BY_ID_LOCKED if lock else _TICKET_BY_ID
    return conn.execute(query, {"ticket_id": ticket_id}).first()


# Statements of every status page are built once: building one is a query's cost again.
_BY_REFERENCE = select(tickets).where(tickets.c.reference == bindparam("reference"))


def ticket_by_reference(conn: Connection, reference: str) -> Row | None:
    return conn.execute(_BY_REFERENCE, {"reference": reference}).first()


def next_waiting(queue: str, now: datetime) -> Any:
    """The id of the queue's first waiting ticket in fair order, as a subquery; PostgreSQL
    skips the rows another agent's transaction holds. A call-back waits for the window the
    customer chose: calling before it breaks the promise as surely as calling after."""
    return (
        select(tickets.c.id)
        .where(
            tickets.c.queue == queue,
            tickets.c.status == "queued",
            or_(tickets.c.callback_not_before.is_(None), tickets.c.callback_not_before <= now),
            tickets.c.called_at.is_(None),  # called to a counter: the counter's
            PRESENT,
        )
        .order_by(*FAIR_ORDER)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


def assign(conn: Connection, which: Any, agent: str, now: datetime) -> Row | None:
    """Hand one waiting ticket to an agent in a single statement; the updated row back."""
    return conn.execute(
        update(tickets)
        .where(tickets.c.id == which, tickets.c.status == "queued")
        .values(
            status="in_progress",
            assigned_to=agent,
            updated_at=now,
            first_claimed_at=func.coalesce(tickets.c.first_claimed_at, now),
            version=tickets.c.version + 1,
        )
        .returning(*tickets.c)
    ).first()


def next_present(queue: str) -> Any:
    """The queue's first person waiting at the counter in fair order, not yet called, as
    a subquery (PostgreSQL skips rows another counter's transaction holds)."""
    return (
        select(tickets.c.id)
        .where(tickets.c.queue == queue, AT_COUNTER)
        .order_by(*FAIR_ORDER)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


def counter_line(conn: Connection, queue: str, limit: int) -> list[Row]:
    """The first `limit` people in the queue's counter line, in fair order."""
    return list(
        conn.execute(
            select(tickets)
            .where(tickets.c.queue == queue, AT_COUNTER)
            .order_by(*FAIR_ORDER)
            .limit(limit)
        )
    )


def call(conn: Connection, which: Any, counter: str, now: datetime) -> Row | None:
    """Call one waiting person to a counter in a single statement; the updated row back."""
    return conn.execute(
        update(tickets)
        .where(tickets.c.id == which, tickets.c.status == "queued", tickets.c.called_at.is_(None))
        .values(
            counter=counter,
            called_at=now,
            counted_calls=1,
            updated_at=now,
            version=tickets.c.version + 1,
        )
        .returning(*tickets.c)
    ).first()


def called_at_counter(conn: Connection, counter: str) -> Row | None:
    """The number a counter called last and that still waits for it: who a recall is for."""
    return conn.execute(
        select(tickets)
        .where(
            tickets.c.counter == counter,
            tickets.c.status == "queued",
            tickets.c.called_at.is_not(None),
        )
        .order_by(tickets.c.called_at.desc())
        .limit(1)
        .with_for_update()
    ).first()


NO_NUMBER = "\N{EN DASH}"


def record_call(conn: Connection, ticket: Row, now: datetime) -> None:
    conn.execute(
        insert(counter_calls).values(
            queue=ticket.queue,
            counter=ticket.counter,
            ticket_id=ticket.id,
            # A screen everyone reads never shows a reference; a walk-in from before
            # numbers were given has none to show.
            ticket_number=ticket.ticket_number or NO_NUMBER,
            at=now,
        )
    )


def missed_appointments(conn: Connection, started_before: datetime, limit: int = 200) -> list[Row]:
    """Appointments still waiting that began before then and never checked in."""
    return list(
        conn.execute(
            select(tickets)
            .where(
                tickets.c.status == "queued",
                tickets.c.appointment_start < started_before,
                tickets.c.checked_in_at.is_(None),
            )
            .order_by(tickets.c.appointment_start)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def last_calls(conn: Connection, queue: str | None, limit: int = 10) -> list[Row]:
    statement = select(counter_calls).order_by(counter_calls.c.at.desc(), counter_calls.c.id.desc())
    if queue is not None:
        statement = statement.where(counter_calls.c.queue == queue)
    return list(conn.execute(statement.limit(limit)))


def waiting_at_counter(conn: Connection, queue: str | None) -> int:
    statement = select(func.count()).where(AT_COUNTER)
    if queue is not None:
        statement = statement.where(tickets.c.queue == queue)
    return conn.scalar(statement) or 0


def head_of_queue(conn: Connection, queue: str) -> str | None:
    return conn.scalar(
        select(tickets.c.id)
        .where(tickets.c.queue == queue, tickets.c.status == "queued")
        .order_by(*FAIR_ORDER)
        .limit(1)
    )


_AHEAD_IN_QUEUE = select(func.count()).where(
    tickets.c.queue == bindparam("queue"),
    tickets.c.status == "queued",
    PRESENT,  # an appointment not yet in the building is nobody's wait
    or_(
        tickets.c.due_at < bindparam("due_at"),
        and_(
            tickets.c.due_at == bindparam("due_at"),
            tickets.c.created_at < bindparam("created_at"),
        ),
        and_(
            tickets.c.due_at == bindparam("due_at"),
            tickets.c.created_at == bindparam("created_at"),
            tickets.c.id < bindparam("ticket_id"),
        ),
    ),
)


# The counter calls only those in its line: a walk-in's place is among them.
_AHEAD_AT_COUNTER = _AHEAD_IN_QUEUE.where(
    tickets.c.channel == "walk_in", tickets.c.called_at.is_(None)
)


def queue_position(conn: Connection, ticket: Row) -> int:
    """1 + the waiting tickets of the same queue that come first in fair order (for a
    walk-in, of the counter's line)."""
    ahead = conn.scalar(
        _AHEAD_AT_COUNTER if ticket.channel == "walk_in" else _AHEAD_IN_QUEUE,
        {
            "queue": ticket.queue,
            "due_at": ticket.due_at,
            "created_at": ticket.created_at,
            "ticket_id": ticket.id,
        },
    )
    return (ahead or 0) + 1


# Waiting call-backs whose window has not opened: few at any time, read by their index.
_NOT_YET_OPEN = select(
    tickets.c.queue, tickets.c.due_at, tickets.c.created_at, tickets.c.id,
    tickets.c.callback_not_before,
).where(tickets.c.status == "queued", tickets.c.callback_not_before > bindparam("now"))  # fmt: skip


def callbacks_ahead_opening_later(conn: Connection, ticket: Row, now: datetime) -> list[datetime]:
    """When the call-backs ahead of a ticket in fair order open their windows, of those
    that cannot be taken yet."""
    # Compared here: asked in SQL, the fair-order index would walk every ticket ahead.
    place = (to_utc(ticket.due_at), to_utc(ticket.created_at), ticket.id)
    return [
        to_utc(row.callback_not_before)
        for row in conn.execute(_NOT_YET_OPEN, {"now": now})
        if row.queue == ticket.queue
        and (to_utc(row.due_at), to_utc(row.created_at), row.id) < place
    ]


def callbacks_opening_later(conn: Connection, now: datetime) -> dict[str, list[datetime]]:
    """Per queue, when its waiting call-backs that cannot be taken yet open their windows."""
    opening: dict[str, list[datetime]] = {}
    for row in conn.execute(_NOT_YET_OPEN, {"now": now}):
        opening.setdefault(row.queue, []).append(to_utc(row.callback_not_before))
    return opening


_HISTORY = (
    select(history).where(history.c.ticket_id == bindparam("ticket_id")).order_by(history.c.id)
)
_PUBLIC_HISTORY = _HISTORY.where(history.c.public_message.is_not(None))


def history_of(conn: Connection, ticket_id: str, *, public_only: bool) -> list[Row]:
    query = _PUBLIC_HISTORY if public_only else _HISTORY
    return list(conn.execute(query, {"ticket_id": ticket_id}))


def earlier_requests(conn: Connection, ticket: Row, limit: int = 20) -> list[Row]:
    if ticket.requester_key is None:
        return []
    return list(
        conn.execute(
            select(
                tickets.c.id,
                tickets.c.reference,
                tickets.c.category,
                tickets.c.channel,
                tickets.c.status,
                tickets.c.created_at,
            )
            .where(
                tickets.c.requester_key == ticket.requester_key,
                tickets.c.created_at < ticket.created_at,
            )
            .order_by(tickets.c.created_at.desc())
            .limit(limit)
        )
    )


_RECENT_SAME_CATEGORY = (
    select(tickets.c.id)
    .where(
        tickets.c.requester_key == bindparam("requester_key"),
        tickets.c.category == bindparam("category"),
        tickets.c.created_at >= bindparam("since"),
    )
    .order_by(tickets.c.created_at.desc())
    .limit(1)
)


def recent_same_category(
    conn: Connection, requester_key: str, category: str, since: datetime
) -> str | None:
    return conn.scalar(
        _RECENT_SAME_CATEGORY,
        {"requester_key": requester_key, "category": category, "since": since},
    )


def record_claim(
    conn: Connection,
    queue: str,
    at: datetime,
    agent: str,
    ticket_id: str,
    out_of_order: bool = False,
) -> None:
    conn.execute(
        insert(claims),
        {
            "queue": queue,
            "at": at,
            "agent": agent,
            "ticket_id": ticket_id,
            "out_of_order": out_of_order,
        },
    )


def end_claim(conn: Connection, ticket_id: str, at: datetime) -> None:
    """The work on a ticket ended (it left "in progress"): its claim's handling time."""
    conn.execute(
        update(claims)
        .where(claims.c.ticket_id == ticket_id, claims.c.ended_at.is_(None))
        .values(ended_at=at)
    )


_HANDLED = select(claims.c.queue, claims.c.at, claims.c.ended_at).where(
    claims.c.at >= bindparam("since"), claims.c.ended_at.is_not(None)
)
_AT_WORK = (
    select(claims.c.queue, func.count(claims.c.agent.distinct()))
    .where(claims.c.ended_at.is_(None), claims.c.at >= bindparam("since"))
    .group_by(claims.c.queue)
)
_CLAIMS = (
    select(claims.c.queue, func.count())
    .where(claims.c.at >= bindparam("since"))
    .group_by(claims.c.queue)
)
_ARRIVALS = (
    select(
        tickets.c.queue,
        tickets.c.priority,
        func.count(),
        func.count(case((tickets.c.created_at >= bindparam("hour_ago"), 1))),
    )
    .where(tickets.c.created_at >= bindparam("since"))
    .group_by(tickets.c.queue, tickets.c.priority)
)


@dataclass(frozen=True)
class QueueActivity:
    """What each queue did lately: handling times (seconds) of work that ended and
    arrivals per priority since `since`; agents at work now; arrivals and claims in the
    last hour."""

    handled: dict[str, list[float]]
    at_work: dict[str, int]
    arrivals: dict[str, dict[int, int]]
    arrivals_last_hour: dict[str, int]
    claims_last_hour: dict[str, int]


def queue_activity(
    conn: Connection, since: datetime, at_work_since: datetime, hour_ago: datetime
) -> QueueActivity:
    handled: dict[str, list[float]] = {}
    for queue, claimed, ended in conn.execute(_HANDLED, {"since": since}):
        seconds = (to_utc(ended) - to_utc(claimed)).total_seconds()
        handled.setdefault(queue, []).append(max(0.0, seconds))
    at_work = {queue: count for queue, count in conn.execute(_AT_WORK, {"since": at_work_since})}
    arrivals: dict[str, dict[int, int]] = {}
    last_hour: dict[str, int] = {}
    for queue, priority, count, recent in conn.execute(
        _ARRIVALS, {"since": since, "hour_ago": hour_ago}
    ):
        arrivals.setdefault(queue, {})[priority] = count
        last_hour[queue] = last_hour.get(queue, 0) + recent
    claims_last_hour = {q: n for q, n in conn.execute(_CLAIMS, {"since": hour_ago})}
    return QueueActivity(handled, at_work, arrivals, last_hour, claims_last_hour)


def waiting_by_queue_and_channel(conn: Connection) -> list[Row]:
    """Per (queue, channel): how many wait and since when the longest has waited."""
    return list(
        conn.execute(
            select(
                tickets.c.queue,
                tickets.c.channel,
                func.count().label("waiting"),
                func.min(tickets.c.contact_started_at).label("oldest"),
            )
            .where(tickets.c.status == "queued", PRESENT)
            .group_by(tickets.c.queue, tickets.c.channel)
        )
    )


def encode_cursor(row: Row) -> str:
    values = [row.due_at.isoformat(), row.created_at.isoformat(), row.id]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, datetime, str]:
    due, created, ticket_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    return datetime.fromisoformat(due), datetime.fromisoformat(created), str(ticket_id)


def list_tickets(
    conn: Connection,
    *,
    queue: str | None,
    status: str | None,
    channel: str | None,
    after: tuple[datetime, datetime, str] | None,
    limit: int,
    assigned_to: str | None = None,
    requester_key: str | None = None,
    text: str | None = None,
    flagged: bool = False,
    statuses: Collection[str] | None = None,
    no_show_since: datetime | None = None,
) -> list[Row]:
    """A page of tickets in fair order; keyset pagination stays fast on big tables. `text`
    is found in the subject, the description or the requester's name (a scan: narrow it
    with the other filters on a big desk)."""
    query = select(tickets).order_by(*FAIR_ORDER).limit(limit)
    if flagged:
        query = query.where(tickets.c.needs_supervisor.is_(True))
    if statuses is not None:
        query = query.where(tickets.c.status.in_(sorted(statuses)))
    if no_show_since is not None:
        query = query.where(tickets.c.no_show_at >= no_show_since)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(tickets.c.subject.ilike(pattern, escape="\\"),
                tickets.c.description.ilike(pattern, escape="\\"),
                tickets.c.requester["name"].as_string().ilike(pattern, escape="\\"))
        )  # fmt: skip
    for column, value in (
        (tickets.c.queue, queue),
        (tickets.c.status, status),
        (tickets.c.channel, channel),
        (tickets.c.assigned_to, assigned_to),
        (tickets.c.requester_key, requester_key),
    ):
        if value is not None:
            query = query.where(column == value)
    if after is not None:
        query = query.where(tuple_(*FAIR_ORDER) > tuple_(*after))
    return list(conn.execute(query))


# Per SLA target: its due column, the flag set once its breach is reported, and which
# tickets can still miss it.
_BREACH_CHECKS: dict[str, tuple[Any, Any, tuple[Any, ...]]] = {
    "first_response": (
        tickets.c.due_at,
        tickets.c.first_response_breached,
        (tickets.c.status == "queued", tickets.c.first_claimed_at.is_(None)),
    ),
    "resolution": (
        tickets.c.resolution_due_at,
        tickets.c.resolution_breached,
        (tickets.c.status.in_(sorted(domain.OPEN_STATUSES)),),
    ),
}


def overdue(conn: Connection, target: str, now: datetime, limit: int = 500) -> list[Row]:
    """Tickets past the due time of an SLA target whose breach was not yet reported,
    oldest first."""
    column, flag, conditions = _BREACH_CHECKS[target]
    return list(
        conn.execute(
            select(tickets)
            .where(column < now, flag.is_(False), *conditions)
            .order_by(column)
            .limit(limit)
        )
    )


def mark_breached(conn: Connection, ticket_id: str, target: str) -> None:
    _, flag, _ = _BREACH_CHECKS[target]
    conn.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id)
        .values({flag.name: True, "version": tickets.c.version + 1})
    )


def first_claims_between(
    conn: Connection, start: datetime, end: datetime
) -> list[tuple[str, datetime, datetime]]:
    """(channel, first contact, first claim) of every ticket first taken in [start, end)."""
    return [
        (row.channel, row.contact_started_at, row.first_claimed_at)
        for row in conn.execute(
            select(
                tickets.c.channel, tickets.c.contact_started_at, tickets.c.first_claimed_at
            ).where(tickets.c.first_claimed_at >= start, tickets.c.first_claimed_at < end)
        )
    ]


def saw_ticket(
    conn: Connection, ticket_id: str, person: str, now: datetime, forget_before: datetime
) -> None:
    """Record that a person has the ticket open (one row per ticket and person); rows of
    the ticket older than `forget_before` go."""
    conn.execute(
        delete(viewers).where(viewers.c.ticket_id == ticket_id, viewers.c.seen_at < forget_before)
    )
    dialect = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    statement = dialect(viewers).values(ticket_id=ticket_id, person=person, seen_at=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[viewers.c.ticket_id, viewers.c.person], set_={"seen_at": now}
        )
    )


def viewers_since(conn: Connection, ticket_id: str, since: datetime) -> list[Row]:
    """Who loaded the ticket since then, the latest first."""
    return conn.execute(
        select(viewers.c.person, viewers.c.seen_at)
        .where(viewers.c.ticket_id == ticket_id, viewers.c.seen_at >= since)
        .order_by(viewers.c.seen_at.desc())
    ).all()


# The service-level report: the tickets that arrived in a period, their claims and the
# kinds their history passed through.
_PERIOD = and_(
    tickets.c.created_at >= bindparam("since"), tickets.c.created_at < bindparam("until")
)


def tickets_created_between(conn: Connection, since: datetime, until: datetime) -> list[Row]:
    return list(
        conn.execute(
            select(
                tickets.c.id,
                tickets.c.priority,
                tickets.c.queue,
                tickets.c.channel,
                tickets.c.status,
                tickets.c.due_at,
                tickets.c.resolution_due_at,
                tickets.c.first_claimed_at,
                tickets.c.resolved_at,
                tickets.c.first_response_breached,
                tickets.c.resolution_breached,
                tickets.c.transfer_count,
            ).where(_PERIOD),
            {"since": since, "until": until},
        )
    )


def claims_of_tickets_created_between(
    conn: Connection, since: datetime, until: datetime
) -> list[Row]:
    return list(
        conn.execute(
            select(claims.c.ticket_id, claims.c.at, claims.c.ended_at, claims.c.out_of_order)
            .join(tickets, tickets.c.id == claims.c.ticket_id)
            .where(_PERIOD),
            {"since": since, "until": until},
        )
    )


def history_of_tickets_created_between(
    conn: Connection, since: datetime, until: datetime
) -> dict[str, list[str]]:
    """Per ticket, the kinds of its history entries and the statuses they set."""
    kinds: dict[str, list[str]] = {}
    for ticket_id, kind, status in conn.execute(
        select(history.c.ticket_id, history.c.kind, history.c.status)
        .join(tickets, tickets.c.id == history.c.ticket_id)
        .where(_PERIOD),
        {"since": since, "until": until},
    ):
        kinds.setdefault(ticket_id, []).extend((kind, status))
    return kinds


_BOARD_COLUMNS = (
    tickets.c.id,
    tickets.c.reference,
    tickets.c.subject,
    tickets.c.queue,
    tickets.c.channel,
    tickets.c.priority,
    tickets.c.status,
    tickets.c.assigned_to,
    tickets.c.due_at,
    tickets.c.resolution_due_at,
)


def running_targets_due_by(conn: Connection, horizon: datetime, limit: int = 100) -> list[Row]:
    """Open tickets whose running target (the first response while waiting, else the
    resolution) falls due by `horizon`, the soonest first."""
    waiting = (
        select(*_BOARD_COLUMNS)
        .where(tickets.c.status == "queued", tickets.c.due_at <= horizon)
        .order_by(tickets.c.due_at)
        .limit(limit)
    )
    worked = (
        select(*_BOARD_COLUMNS)
        .where(
            tickets.c.status.in_(sorted(domain.HELD_STATUSES)),
            tickets.c.resolution_due_at <= horizon,
        )
        .order_by(tickets.c.resolution_due_at)
        .limit(limit)
    )
    return [*conn.execute(waiting), *conn.execute(worked)]


def held_tickets(conn: Connection, limit: int = 500) -> list[Row]:
    """Who works what: the tickets held by an agent, with when their open claim began."""
    open_claim = (
        select(claims.c.ticket_id, func.max(claims.c.at).label("since"))
        .where(claims.c.ended_at.is_(None))
        .group_by(claims.c.ticket_id)
        .subquery()
    )
    return list(
        conn.execute(
            select(*_BOARD_COLUMNS, open_claim.c.since)
            .outerjoin(open_claim, open_claim.c.ticket_id == tickets.c.id)
            .where(
                tickets.c.status.in_(sorted(domain.HELD_STATUSES)),
                tickets.c.assigned_to.is_not(None),
            )
            .order_by(tickets.c.assigned_to, tickets.c.updated_at)
            .limit(limit)
        )
    )
