"""The phone system's calls, and each request's phone number as the desk keeps it (E.164)
so a caller is found by their number.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("from_number", sa.String(32), nullable=True),
        sa.Column("to_number", sa.String(32), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_calls_from_started", "calls", ["from_number", "started_at"])
    op.create_index("ix_calls_agent_state", "calls", ["agent", "state"])
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("requester_phone", sa.String(32), nullable=True))
        batch.create_index("ix_requests_requester_phone", ["requester_phone", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_index("ix_requests_requester_phone")
        batch.drop_column("requester_phone")
    op.drop_table("calls")
