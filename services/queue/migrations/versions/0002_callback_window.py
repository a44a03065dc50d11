"""The call-back window the customer chose, kept with the ticket.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("callback_not_before", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("callback_not_after", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("callback_not_after")
        batch.drop_column("callback_not_before")
