"""The counter: a walk-in's number, where and when it was called, no-shows; every call
as the waiting room's display shows it.

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

_Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("ticket_number", sa.String(16), nullable=True))
        batch.add_column(sa.Column("counter", sa.String(32), nullable=True))
        batch.add_column(sa.Column("called_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("counted_calls", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("no_show_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "counter_calls",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("counter", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("ticket_number", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_counter_calls_queue_at", "counter_calls", ["queue", "at"])
    op.create_index("ix_counter_calls_counter_at", "counter_calls", ["counter", "at"])


def downgrade() -> None:
    op.drop_table("counter_calls")
    with op.batch_alter_table("tickets") as batch:
        for column in ("no_show_at", "counted_calls", "called_at", "counter", "ticket_number"):
            batch.drop_column(column)
