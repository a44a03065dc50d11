"""Intake's own database: requests as received (and whether the queue has settled them),
customers' later messages, idempotency keys, the outbox and the inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row

from services.common.db import BigId
from services.common.outbox import inbox_table, outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

requests = Table(
    "requests",
    metadata,
    # The number behind the reference: unique and increasing.
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("tracking_token_sha256", String(64), nullable=False),
    # Only the digest: notify puts the token in the Reply-To of every message it sends.
    Column("reply_token_sha256", String(64), nullable=True),
    Column("submitted_by", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("category", String(64), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("impact", String(8), nullable=True),
    Column("urgency", String(8), nullable=True),
    Column("subject", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("requester", JSON, nullable=False),
    Column("callback", JSON, nullable=True),
    Column("resolved_on_contact", Boolean, nullable=False),
    Column("resolution", Text, nullable=True),
    Column("contact_started_at", DateTime(timezone=True), nullable=True),
    Column("contact_wait_seconds", Float, nullable=True),
    Column("attachments", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # A walk-in's number for the counter ("B-014"), unique in its queue and day.
    Column("ticket_number", String(16), nullable=True),
    # The queue's latest status as its events told it (status_at orders them), and when
    # the request was resolved or closed: a reply after the reopen window starts anew.
    Column("status", String(32), nullable=True),
    Column("status_at", DateTime(timezone=True), nullable=True),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    # The requester's phone number in E.164: how a caller is found by their number.
    Column("requester_phone", String(32), nullable=True),
    Index("ix_requests_requester_phone", "requester_phone", "seq"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("attachments", JSON, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# What an e-mail carried, kept for agents to download: its words as it named itself, its
# type as it declared it (served only as a download, never shown in a page).
attachments = Table(
    "attachments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("filename", String(255), nullable=True),
    Column("content_type", String(127), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# The last counter number given per queue and day (the desk's day).
counter_numbers = Table(
    "counter_numbers",
    metadata,
    Column("queue", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("last", Integer, nullable=False),
    PrimaryKeyConstraint("queue", "day"),
)

# A booked time at the counter: one row per request that booked one.
appointments = Table(
    "appointments",
    metadata,
    Column("request_id", String(36), ForeignKey("requests.id"), primary_key=True),
    Column("starts_at", DateTime(timezone=True), nullable=False, index=True),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Column("checked_in_at", DateTime(timezone=True), nullable=True),
)

# The seats taken per slot (its start, in UTC as text: one key however it was written).
appointment_seats = Table(
    "appointment_seats",
    metadata,
    Column("slot", String(20), primary_key=True),
    Column("taken", Integer, nullable=False),
)

# The phone system's calls, one row per call it told the desk about.
calls = Table(
    "calls",
    metadata,
    Column("call_id", String(128), primary_key=True),
    Column("direction", String(3), nullable=False),
    Column("from_number", String(32), nullable=True),
    Column("to_number", String(32), nullable=True),
    Column("agent", String(64), nullable=True),
    Column("state", String(16), nullable=False),
    Column("cause", String(32), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    # The call-back the call made or found (a caller who hung up).
    Column("request_id", String(36), nullable=True),
    Index("ix_calls_from_started", "from_number", "started_at"),
    Index("ix_calls_agent_state", "agent", "state"),
    Index("ix_calls_direction_started", "direction", "started_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(100), nullable=False),
    Column("key", String(255), nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    PrimaryKeyConstraint("scope", "key"),
)


_INSERT_REQUEST = insert(requests)


def insert_request(conn: Connection, row: dict[str, Any]) -> int:
    """Store a request; its sequence number is what its reference shows."""
    return conn.execute(_INSERT_REQUEST, row).inserted_primary_key[0]


def next_counter_number(conn: Connection, queue: str, day: str) -> int:
    """The queue's next number of the day, in one statement: two walk-ins at two kiosks
    never get the same number (the row is locked until the request commits)."""
    dialect = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    statement = dialect(counter_numbers).values(queue=queue, day=day, last=1)
    return conn.scalar(
        statement.on_conflict_do_update(
            index_elements=["queue", "day"], set_={"last": counter_numbers.c.last + 1}
        ).returning(counter_numbers.c.last)
    )


def slot_key(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def take_seat(conn: Connection, start: datetime, seats: int) -> bool:
    """One seat of the slot, if one is free, in one statement: of two bookings for the
    last seat exactly one wins (the row is locked until the booking commits)."""
    dialect = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    statement = dialect(appointment_seats).values(slot=slot_key(start), taken=1)
    taken = conn.scalar(
        statement.on_conflict_do_update(
            index_elements=["slot"],
            set_={"taken": appointment_seats.c.taken + 1},
            where=appointment_seats.c.taken < seats,
        ).returning(appointment_seats.c.taken)
    )
    return taken is not None and seats >= 1


def free_seat(conn: Connection, start: datetime) -> None:
    conn.execute(
        update(appointment_seats)
        .where(appointment_seats.c.slot == slot_key(start), appointment_seats.c.taken > 0)
        .values(taken=appointment_seats.c.taken - 1)
    )


def seats_taken(conn: Connection, since: datetime, until: datetime) -> dict[str, int]:
    rows = conn.execute(
        select(appointment_seats).where(
            appointment_seats.c.slot >= slot_key(since), appointment_seats.c.slot <= slot_key(until)
        )
    )
    return {row.slot: row.taken for row in rows}


def add_appointment(
    conn: Connection, request_id: str, starts_at: datetime, ends_at: datetime
) -> None:
    # In UTC, as every time is stored: SQLite keeps the wall-clock time and drops the zone.
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    conn.execute(
        insert(appointments).values(request_id=request_id, starts_at=starts_at, ends_at=ends_at)
    )


def appointment_of(conn: Connection, request_id: str, *, lock: bool = False) -> Row | None:
    statement = select(appointments).where(appointments.c.request_id == request_id)
    return conn.execute(statement.with_for_update() if lock else statement).first()


def update_appointment(conn: Connection, request_id: str, **values: Any) -> None:
    conn.execute(
        update(appointments).where(appointments.c.request_id == request_id).values(**values)
    )


def set_ticket_number(conn: Connection, request_id: str, number: str) -> None:
    conn.execute(update(requests).where(requests.c.id == request_id).values(ticket_number=number))


def request_by_sequence(conn: Connection, seq: int) -> Row | None:
    return conn.execute(select(requests).where(requests.c.seq == seq)).first()


# Calls


def add_call(conn: Connection, call: dict[str, Any]) -> bool:
    """A new call; False when the phone system told of it before (nothing changes)."""
    dialect = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    made = conn.execute(dialect(calls).values(**call).on_conflict_do_nothing())
    return made.rowcount == 1


def call_by_id(conn: Connection, call_id: str) -> Row | None:
    """The call, locked until the change to it commits (two hangups at once: one wins)."""
    return conn.execute(select(calls).where(calls.c.call_id == call_id).with_for_update()).first()


def update_call(conn: Connection, call_id: str, **values: Any) -> None:
    conn.execute(update(calls).where(calls.c.call_id == call_id).values(**values))


def answered_since(conn: Connection, number: str, since: datetime, other_than: str) -> bool:
    """Whether another call of this number was answered since `since`."""
    return (
        conn.scalar(
            select(calls.c.call_id)
            .where(
                calls.c.from_number == number,
                calls.c.answered_at >= since,
                calls.c.call_id != other_than,
            )
            .limit(1)
        )
        is not None
    )


def requests_of_number(conn: Connection, number: str, limit: int = 20) -> list[Row]:
    """The requests of whoever has this phone number, the newest first."""
    return list(
        conn.execute(
            select(requests)
            .where(requests.c.requester_phone == number)
            .order_by(requests.c.seq.desc())
            .limit(limit)
        )
    )


def calls_of(conn: Connection, agent: str | None, state: str | None, limit: int = 50) -> list[Row]:
    """Calls, the newest first; of one agent, in one state, when asked."""
    query = select(calls).order_by(calls.c.started_at.desc()).limit(limit)
    if agent is not None:
        query = query.where(calls.c.agent == agent)
    if state is not None:
        query = query.where(calls.c.state == state)
    return list(conn.execute(query))


def inbound_calls_between(conn: Connection, since: datetime, until: datetime) -> list[Row]:
    """Every inbound call that came in in [since, until) (the report's period)."""
    query = (
        select(calls.c.started_at, calls.c.answered_at, calls.c.ended_at, calls.c.cause,
               calls.c.request_id)
        .where(calls.c.direction == "in", calls.c.started_at >= since,
               calls.c.started_at < until)
        .order_by(calls.c.started_at)
    )  # fmt: skip
    return list(conn.execute(query))


def record_status(
    conn: Connection,
    request_id: str,
    status: str,
    status_at: datetime,
    settled_at: datetime | None,
) -> None:
    """Keep the newest status only: a redelivered older event must not undo a newer one."""
    conn.execute(
        update(requests)
        .where(
            requests.c.id == request_id,
            or_(requests.c.status_at.is_(None), requests.c.status_at <= status_at),
        )
        .values(status=status, status_at=status_at, settled_at=settled_at)
    )


def add_message(conn: Connection, message: dict[str, Any]) -> None:
    conn.execute(insert(messages).values(**message))


def add_attachments(conn: Connection, files: list[dict[str, Any]]) -> None:
    if files:
        conn.execute(insert(attachments), files)


def attachment(conn: Connection, attachment_id: str) -> Row | None:
    return conn.execute(select(attachments).where(attachments.c.id == attachment_id)).first()


def remembered_answer(conn: Connection, scope: str, key: str) -> Row | None:
    return conn.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
        )
    ).first()


def remember_answer(
    conn: Connection,
    scope: str,
    key: str,
    body_sha256: str,
    status_code: int,
    response: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        insert(idempotency_keys).values(
            scope=scope,
            key=key,
            body_sha256=body_sha256,
            status_code=status_code,
            response=response,
            created_at=now,
        )
    )


def forget_answers_before(conn: Connection, cutoff: datetime) -> int:
    result = conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff))
    return result.rowcount or 0
