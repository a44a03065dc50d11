"""A walk-in's number for the counter, counted per queue and day.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("ticket_number", sa.String(16), nullable=True))
    op.create_table(
        "counter_numbers",
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("queue", "day"),
    )


def downgrade() -> None:
    op.drop_table("counter_numbers")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("ticket_number")
