"""Appointments at the counter, and the seats taken per slot.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_appointments_starts_at", "appointments", ["starts_at"])
    op.create_table(
        "appointment_seats",
        sa.Column("slot", sa.String(20), primary_key=True),
        sa.Column("taken", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("appointment_seats")
    op.drop_index("ix_appointments_starts_at", "appointments")
    op.drop_table("appointments")
