"""session status: the restarts people asked for, counted apart from the supervisor's own
(`restarts` kept both until now; what it held stays there, since it cannot be told apart)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session_status", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requested_restarts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    op.execute("UPDATE session_status SET restarts = restarts + requested_restarts")
    with op.batch_alter_table("session_status", schema=None) as batch_op:
        batch_op.drop_column("requested_restarts")
