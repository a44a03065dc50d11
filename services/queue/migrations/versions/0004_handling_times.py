"""Who claimed each ticket and when their work on it ended: handling times and agents at
work for the wait estimates; arrivals by queue and time for the rate of urgent arrivals.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("agent", sa.String(64), nullable=True))
        batch.add_column(sa.Column("ticket_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_claims_ticket_open", "claims", ["ticket_id", "ended_at"])
    op.create_index("ix_tickets_queue_created", "tickets", ["queue", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_queue_created", "tickets")
    op.drop_index("ix_claims_ticket_open", "claims")
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("ended_at")
        batch.drop_column("ticket_id")
        batch.drop_column("agent")
