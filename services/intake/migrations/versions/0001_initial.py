"""Requests as received, and the outbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.plumbing_migration import create_outbox_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_outbox_v1()
    op.create_table(
        "requests",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("reference", sa.String(32), nullable=True, unique=True),
        sa.Column("tracking_token_sha256", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("requester", sa.JSON, nullable=False),
        sa.Column("resolved_on_contact", sa.Boolean, nullable=False),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("contact_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("requests")
    op.drop_table("outbox")
