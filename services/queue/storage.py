"""The queue service's own database: tickets, their history, claims, outbox and inbox.

Statements on the path of every event are built once, at import (the `_UPPER_CASE`
constants): SQLAlchemy keeps a statement's cache key, and building and keying one per call
cost more than running it (docs/performance.md).
"""

from __future__ import annotations

import base64
import json
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
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Row

from services.common.db import BigId
from services.common.outbox import inbox_table, outbox_table

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
    Index("ix_tickets_fair_order", "queue", "status", "due_at", "created_at", "id"),
    Index("ix_tickets_requester", "requester_key", "created_at"),
    Index("ix_tickets_status_due", "status", "due_at"),
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

# Every claim from a queue: the queue's recent service rate, for wait estimates.
claims = Table(
    "claims",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("queue", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_claims_queue_at", "queue", "at"),
)

FAIR_ORDER = (tickets.c.due_at, tickets.c.created_at, tickets.c.id)


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
        update(tickets).where(tickets.c.id == ticket_id).values(**values).returning(*tickets.c)
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


def ticket_by_id(conn: Connection, ticket_id: str, *, lock: bool = False) -> Row | None:
    query = _TICKET_BY_ID_LOCKED if lock else _TICKET_BY_ID
    return conn.execute(query, {"ticket_id": ticket_id}).first()


def ticket_by_reference(conn: Connection, reference: str) -> Row | None:
    return conn.execute(select(tickets).where(tickets.c.reference == reference)).first()


def next_waiting(queue: str) -> Any:
    """The id of the queue's first waiting ticket in fair order, as a subquery; PostgreSQL
    skips the rows another agent's transaction holds."""
    return (
        select(tickets.c.id)
        .where(tickets.c.queue == queue, tickets.c.status == "queued")
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
        )
        .returning(*tickets.c)
    ).first()


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


def queue_position(conn: Connection, ticket: Row) -> int:
    """1 + the waiting tickets of the same queue that come first in fair order."""
    ahead = conn.scalar(
        _AHEAD_IN_QUEUE,
        {
            "queue": ticket.queue,
            "due_at": ticket.due_at,
            "created_at": ticket.created_at,
            "ticket_id": ticket.id,
        },
    )
    return (ahead or 0) + 1


def history_of(conn: Connection, ticket_id: str, *, public_only: bool) -> list[Row]:
    query = select(history).where(history.c.ticket_id == ticket_id).order_by(history.c.id)
    if public_only:
        query = query.where(history.c.public_message.is_not(None))
    return list(conn.execute(query))


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


def record_claim(conn: Connection, queue: str, at: datetime) -> None:
    conn.execute(insert(claims), {"queue": queue, "at": at})


_CLAIM_TIMES = select(claims.c.queue, claims.c.at).where(claims.c.at >= bindparam("since"))
_CLAIM_TIMES_OF_QUEUE = _CLAIM_TIMES.where(claims.c.queue == bindparam("queue"))


def claim_times_since(
    conn: Connection, since: datetime, queue: str | None = None
) -> dict[str, list[datetime]]:
    """Per queue (all, or the one asked), when each claim since `since` happened."""
    if queue is None:
        rows = conn.execute(_CLAIM_TIMES, {"since": since})
    else:
        rows = conn.execute(_CLAIM_TIMES_OF_QUEUE, {"since": since, "queue": queue})
    times: dict[str, list[datetime]] = {}
    for name, at in rows:
        times.setdefault(name, []).append(at)
    return times


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
            .where(tickets.c.status == "queued")
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
) -> list[Row]:
    """A page of tickets in fair order; keyset pagination stays fast on big tables. `text`
    is found in the subject or the description (a scan: narrow it with the other
    filters on a big desk)."""
    query = select(tickets).order_by(*FAIR_ORDER).limit(limit)
    if flagged:
        query = query.where(tickets.c.needs_supervisor.is_(True))
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(tickets.c.subject.ilike(pattern, escape="\\"),
                tickets.c.description.ilike(pattern, escape="\\"))
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


def overdue(
    conn: Connection, column: Any, flag: Any, now: datetime, *conditions: Any, limit: int = 500
) -> list[Row]:
    """Tickets past a due column whose breach was not yet reported, oldest first."""
    return list(
        conn.execute(
            select(tickets)
            .where(column < now, flag.is_(False), *conditions)
            .order_by(column)
            .limit(limit)
        )
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
