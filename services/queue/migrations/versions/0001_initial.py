"""Tickets, their history, claims, outbox and inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.plumbing_migration import create_inbox_v1, create_outbox_v1

revision = "0001"
down_revision = None
_Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    create_outbox_v1()
    create_inbox_v1()
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(32), nullable=False, unique=True),
        sa.Column("tracking_token_sha256", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("requester", sa.JSON, nullable=False),
        sa.Column("requester_key", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contact_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_to", sa.String(64), nullable=True),
        sa.Column("first_claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("transfer_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("needs_supervisor", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("repeat_of", sa.String(36), nullable=True),
        sa.Column("first_response_breached", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("resolution_breached", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_tickets_fair_order", "tickets", ["queue", "status", "due_at", "created_at", "id"]
    )
    op.create_index("ix_tickets_requester", "tickets", ["requester_key", "created_at"])
    op.create_index("ix_tickets_status_due", "tickets", ["status", "due_at"])
    op.create_table(
        "history",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(36), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("public_message", sa.Text, nullable=True),
        sa.Column("internal_note", sa.Text, nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
    )
    op.create_index("ix_history_ticket_id", "history", ["ticket_id"])
    op.create_table(
        "claims",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_claims_queue_at", "claims", ["queue", "at"])


def downgrade() -> None:
    for table in ("claims", "history", "tickets", "inbox", "outbox"):
        op.drop_table(table)
