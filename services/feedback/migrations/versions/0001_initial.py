"""Contacts, outbox and inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.plumbing_migration import create_inbox_v1, create_outbox_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_outbox_v1()
    create_inbox_v1()
    op.create_table(
        "contacts",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("resolved_on_contact", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contacts_category_created", "contacts", ["category", "created_at"])


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_table("inbox")
    op.drop_table("outbox")
