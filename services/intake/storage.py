"""Intake's own database: requests as received, customers' later messages, idempotency
keys, and the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from services.common.outbox import outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
_Id = BigInteger().with_variant(Integer, "sqlite")

requests = Table(
    "requests",
    metadata,
    # The number behind the reference: unique and increasing.
    Column("seq", _Id, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("reference", String(32), nullable=True, unique=True),
    Column("tracking_token_sha256", String(64), nullable=False),
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
)

messages = Table(
    "messages",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("attachments", JSON, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
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


def insert_request(
    session: Session, row: dict[str, Any], reference_for: Callable[[int], str]
) -> str:
    """Store a request and give it its reference from its sequence number."""
    seq = session.execute(insert(requests).values(**row)).inserted_primary_key[0]
    reference = reference_for(seq)
    session.execute(update(requests).where(requests.c.seq == seq).values(reference=reference))
    return reference


def request_by_reference(session: Session, reference: str) -> Row | None:
    return session.execute(select(requests).where(requests.c.reference == reference)).first()


def add_message(session: Session, message: dict[str, Any]) -> None:
    session.execute(insert(messages).values(**message))


def remembered_answer(session: Session, scope: str, key: str) -> Row | None:
    return session.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
        )
    ).first()


def remember_answer(
    session: Session,
    scope: str,
    key: str,
    body_sha256: str,
    status_code: int,
    response: dict[str, Any],
    now: datetime,
) -> None:
    session.execute(
        insert(idempotency_keys).values(
            scope=scope,
            key=key,
            body_sha256=body_sha256,
            status_code=status_code,
            response=response,
            created_at=now,
        )
    )


def forget_answers_before(session: Session, cutoff: datetime) -> int:
    result = session.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff))
    return result.rowcount or 0
