"""Feedback's own database: every contact (for contact reasons), surveys and their
answers, outbox and inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Row

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
    Index("ix_contacts_created", "created_at"),
)

surveys = Table(
    "surveys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("ticket_id", String(36), nullable=False),
    Column("reference", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("category", String(64), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("language", String(2), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("score", Integer, nullable=True),
    Column("comment", Text, nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True, index=True),
    Index("ix_surveys_ticket", "ticket_id", "resolved_at", unique=True),
)


def record_contact(conn: Connection, contact: dict[str, Any]) -> None:
    exists = conn.scalar(
        select(contacts.c.ticket_id).where(contacts.c.ticket_id == contact["ticket_id"])
    )
    if exists is None:
        conn.execute(insert(contacts), contact)


def survey_exists(conn: Connection, ticket_id: str, resolved_at: datetime) -> bool:
    found = conn.scalar(
        select(surveys.c.id).where(
            surveys.c.ticket_id == ticket_id, surveys.c.resolved_at == resolved_at
        )
    )
    return found is not None


def add_survey(conn: Connection, survey: dict[str, Any]) -> None:
    conn.execute(insert(surveys), survey)


def survey_by_token_digest(conn: Connection, digest: str, *, lock: bool = False) -> Row | None:
    query = select(surveys).where(surveys.c.token_sha256 == digest)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def record_answer(
    conn: Connection, survey_id: str, score: int, comment: str | None, at: datetime
) -> bool:
    """Answers once: False when the survey had its answer already."""
    result = conn.execute(
        update(surveys)
        .where(surveys.c.id == survey_id, surveys.c.answered_at.is_(None))
        .values(score=score, comment=comment, answered_at=at)
    )
    return result.rowcount == 1


def csat_groups(conn: Connection, group_by: str, since: datetime, until: datetime) -> list[Row]:
    column = surveys.c[group_by]
    return list(
        conn.execute(
            select(
                column.label("group"),
                func.count().label("answers"),
                func.avg(surveys.c.score).label("average"),
                func.sum((surveys.c.score >= 4).cast(Integer)).label("satisfied"),
            )
            .where(surveys.c.answered_at >= since, surveys.c.answered_at < until)
            .group_by(column)
            .order_by(column)
        )
    )


def contact_counts(
    conn: Connection, group_by: str, since: datetime, until: datetime
) -> dict[str, int]:
    column = contacts.c[group_by]
    rows = conn.execute(
        select(column, func.count())
        .where(contacts.c.created_at >= since, contacts.c.created_at < until)
        .group_by(column)
    )
    return {group: count for group, count in rows}
