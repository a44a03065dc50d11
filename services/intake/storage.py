"""Intake's own database: requests as received, idempotency keys, and the outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    update,
)
from sqlalchemy.orm import Session

from services.common.outbox import outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)

requests = Table(
    "requests",
    metadata,
    # The number behind the reference: unique and increasing.
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(36), nullable=False, unique=True),
    Column("reference", String(32), nullable=True, unique=True),
    Column("tracking_token_sha256", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("category", String(64), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("requester", JSON, nullable=False),
    Column("resolved_on_contact", Boolean, nullable=False, default=False),
    Column("resolution", Text, nullable=True),
    Column("contact_started_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def insert_request(session: Session, row: dict[str, Any], reference_for: Any) -> str:
    """Store a request and give it its reference from its sequence number."""
    seq = session.execute(insert(requests).values(**row)).inserted_primary_key[0]
    reference = reference_for(seq)
    session.execute(update(requests).where(requests.c.seq == seq).values(reference=reference))
    return reference
