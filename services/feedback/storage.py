"""Feedback's own database: every contact (for contact reasons), outbox and inbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    insert,
    select,
)

from services.common.outbox import inbox_table, outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

contacts = Table(
    "contacts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("category", String(64), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("resolved_on_contact", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_contacts_category_created", "category", "created_at"),
)


def record_contact(conn: Connection, contact: dict[str, Any]) -> None:
    exists = conn.scalar(
        select(contacts.c.ticket_id).where(contacts.c.ticket_id == contact["ticket_id"])
    )
    if exists is None:
        conn.execute(insert(contacts).values(**contact))
