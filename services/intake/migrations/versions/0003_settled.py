"""Where each request stands, as far as a late reply needs to know; and an inbox.

The queue's status events tell intake when a request was resolved or closed; the inbox
makes each count once.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from services.common.plumbing_migration import create_inbox_v1

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    create_inbox_v1()
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("status_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("settled_at")
        batch.drop_column("status_at")
        batch.drop_column("status")
    op.drop_table("inbox")
