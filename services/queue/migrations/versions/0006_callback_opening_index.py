"""Waiting call-backs by when their window opens: every status page and new ticket asks
which call-backs ahead cannot be taken yet, and there are few of them at any time, where
the tickets ahead in fair order may be thousands.

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_index("ix_tickets_callback_opening", "tickets", ["status", "callback_not_before"])


def downgrade() -> None:
    op.drop_index("ix_tickets_callback_opening", "tickets")
