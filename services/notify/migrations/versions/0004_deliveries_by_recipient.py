"""Deliveries by recipient: how many confirmations an address got within the hour.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("recipient_sha256", sa.String(64), nullable=True))
    op.create_index("ix_deliveries_recipient", "deliveries", ["recipient_sha256", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_recipient", "deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("recipient_sha256")
