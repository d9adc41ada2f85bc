"""stopped for: why the supervisor stopped a session's last run (no heartbeat, a restart
asked for, its pair paused...), told with its exit code so a kill at the end of a stop's
grace does not read as someone else's

Sessions that exited before have none: their exit is told by its code alone, as before.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session_status") as status:
        status.add_column(sa.Column("stopped_for", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_status") as status:
        status.drop_column("stopped_for")
