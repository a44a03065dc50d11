"""Appointments at the counter: the booked time and when the person checked in.

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("appointment_start", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("appointment_end", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for column in ("checked_in_at", "appointment_end", "appointment_start"):
            batch.drop_column(column)
