"""Whether a claim was out of fair order: the queue jumps of the service-level report;
tickets by arrival, the period that report covers.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(
            sa.Column("out_of_order", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_index("ix_tickets_created", "tickets", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_created", "tickets")
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("out_of_order")
