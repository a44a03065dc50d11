"""Every ticket counts its changes: the version its ETag carries (If-Match, 412); and who
has a ticket open in the console ("also open by").

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "ticket_viewers",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("person", sa.String(64), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ticket_viewers")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("version")
