"""The queue service's own database: tickets, their history, outbox and inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.engine import Row

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
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("contact_started_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_tickets_fair_order", "queue", "status", "due_at", "created_at", "id"),
)

history = Table(
    "history",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("ticket_id", String(36), ForeignKey("tickets.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("public_message", Text, nullable=True),
    Column("internal_note", Text, nullable=True),
    Column("actor", String(64), nullable=True),
)


def ticket_exists(conn: Connection, ticket_id: str) -> bool:
    return conn.scalar(select(tickets.c.id).where(tickets.c.id == ticket_id)) is not None


def add_ticket(conn: Connection, ticket: dict[str, Any]) -> None:
    conn.execute(insert(tickets).values(**ticket))


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
        insert(history).values(
            ticket_id=ticket_id,
            at=at,
            kind=kind,
            status=status,
            public_message=public_message,
            actor=actor,
            internal_note=internal_note,
        )
    )


def ticket_by_id(conn: Connection, ticket_id: str) -> Row | None:
    return conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()


def ticket_by_reference(conn: Connection, reference: str) -> Row | None:
    return conn.execute(select(tickets).where(tickets.c.reference == reference)).first()


def queue_position(conn: Connection, ticket: Row) -> int:
    """1 + the waiting tickets of the same queue that come first in fair order."""
    ahead = conn.scalar(
        select(func.count()).where(
            tickets.c.queue == ticket.queue,
            tickets.c.status == "queued",
            or_(
                tickets.c.due_at < ticket.due_at,
                and_(tickets.c.due_at == ticket.due_at, tickets.c.created_at < ticket.created_at),
                and_(
                    tickets.c.due_at == ticket.due_at,
                    tickets.c.created_at == ticket.created_at,
                    tickets.c.id < ticket.id,
                ),
            ),
        )
    )
    return (ahead or 0) + 1


def public_history(conn: Connection, ticket_id: str) -> list[Row]:
    return list(
        conn.execute(
            select(history.c.at, history.c.status, history.c.public_message)
            .where(history.c.ticket_id == ticket_id)
            .order_by(history.c.id)
        )
    )
