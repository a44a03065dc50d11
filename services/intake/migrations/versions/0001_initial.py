"""Requests as received, customers' messages, idempotency keys and the outbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.plumbing_migration import create_outbox_v1

revision = "0001"
down_revision = None
_Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    create_outbox_v1()
    op.create_table(
        "requests",
        sa.Column("seq", _Id, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("tracking_token_sha256", sa.String(64), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("impact", sa.String(8), nullable=True),
        sa.Column("urgency", sa.String(8), nullable=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("requester", sa.JSON, nullable=False),
        sa.Column("callback", sa.JSON, nullable=True),
        sa.Column("resolved_on_contact", sa.Boolean, nullable=False),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("contact_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contact_wait_seconds", sa.Float, nullable=True),
        sa.Column("attachments", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attachments", sa.JSON, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_messages_request_id", "messages", ["request_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("messages")
    op.drop_table("requests")
    op.drop_table("outbox")
