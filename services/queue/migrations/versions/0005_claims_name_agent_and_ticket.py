"""Every claim names its agent and its ticket: the contract step after 0004 (an expand).

Claims stored by the code from before 0004 name neither. Each was written in the same
transaction as the ticket's "assigned" history line, at the same instant, which names
the ticket and the agent; the first later line that left "in progress" is when the work
ended. Claims that match no such line (none are expected) are dropped: they are only
counted in the service rate of their hour, long past.

Run only once no process of the code from before 0004 runs (docs/operations.md,
"Upgrades"): that code inserts claims without an agent, which this makes an error.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

# The "assigned" line written with the claim: the same instant, the first if two agents
# claimed in the same microsecond.
_ASSIGNED = (
    "SELECT {column} FROM history AS took"
    " WHERE took.kind = 'assigned' AND took.at = claims.at ORDER BY took.id LIMIT 1"
)
_ENDED = (
    "SELECT min(later.at) FROM history AS later"
    " WHERE later.ticket_id = ({ticket}) AND later.at > claims.at"
    " AND later.status <> 'in_progress'"
)


def upgrade() -> None:
    ticket = _ASSIGNED.format(column="took.ticket_id")
    op.execute(
        f"UPDATE claims SET ended_at = ({_ENDED.format(ticket=ticket)})"
        " WHERE ticket_id IS NULL AND ended_at IS NULL"
    )
    op.execute(
        f"UPDATE claims SET ticket_id = ({ticket}),"
        f" agent = ({_ASSIGNED.format(column='took.actor')})"
        " WHERE ticket_id IS NULL"
    )
    op.execute("DELETE FROM claims WHERE ticket_id IS NULL OR agent IS NULL")
    with op.batch_alter_table("claims") as batch:
        batch.alter_column("agent", existing_type=sa.String(64), nullable=False)
        batch.alter_column("ticket_id", existing_type=sa.String(36), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.alter_column("ticket_id", existing_type=sa.String(36), nullable=True)
        batch.alter_column("agent", existing_type=sa.String(64), nullable=True)
