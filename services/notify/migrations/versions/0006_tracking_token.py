"""The tracking token of a request, sealed, for the links of later messages (a call-back
the desk could not reach asks for another time on the customer's own page).

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("tracking_token_sealed", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("tracking_token_sealed")
