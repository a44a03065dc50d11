"""Calls by the moment they came in, for the supervisor's report of the phone.

Revision ID: 0008
"""

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_index("ix_calls_direction_started", "calls", ["direction", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_direction_started", "calls")
