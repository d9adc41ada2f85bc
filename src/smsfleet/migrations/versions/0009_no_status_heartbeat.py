"""session status: no heartbeat column (a session's last sign of life is kept with the
metrics, `session_heartbeats`, and nothing wrote this one)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session_status", schema=None) as batch_op:
        batch_op.drop_column("last_heartbeat")


def downgrade() -> None:
    with op.batch_alter_table("session_status", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_heartbeat",
                sa.DateTime()
                .with_variant(mysql.DATETIME(fsp=6), "mariadb")
                .with_variant(mysql.DATETIME(fsp=6), "mysql"),
                nullable=True,
            )
        )
