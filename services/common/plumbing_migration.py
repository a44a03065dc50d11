"""Version 1 of the outbox and inbox tables, created by each service's first migration.

Written out (not derived from the live table definitions) so that an old migration keeps
meaning what it meant when it ran; a change to these tables gets a migration of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def create_outbox_v1(name: str = "outbox") -> None:
    op.create_table(
        name,
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index(f"ix_{name}_sent_at", name, ["sent_at"])


def create_inbox_v1() -> None:
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
