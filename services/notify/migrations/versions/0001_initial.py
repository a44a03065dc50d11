"""Outbox and inbox.

Revision ID: 0001
"""

from alembic import op

from services.common.plumbing_migration import create_inbox_v1, create_outbox_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_outbox_v1()
    create_inbox_v1()


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
