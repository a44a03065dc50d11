"""Contacts, webhook subscriptions, deliveries and the attempts outbox.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

from services.common.plumbing_migration import create_outbox_v1

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    create_outbox_v1("attempts_outbox")
    op.create_table(
        "contacts",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("requester", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("recipient_key", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=True),
        sa.Column("medium", sa.String(16), nullable=False),
        sa.Column("recipient", sa.Text, nullable=True),
        sa.Column("recipient_masked", sa.String(256), nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=True),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ux_deliveries_event_recipient", "deliveries", ["event_id", "recipient_key"], unique=True
    )
    op.create_index("ix_deliveries_ticket", "deliveries", ["ticket_id", "created_at"])
    op.create_index("ix_deliveries_created", "deliveries", ["created_at"])
    op.create_index("ix_deliveries_state", "deliveries", ["state"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("subscriptions")
    op.drop_table("contacts")
    op.drop_table("attempts_outbox")
