"""dispatch: when a session's lease was last answered `stop` (session_heartbeats.stop_told_at)

So the supervisor can tell a program that ends as the control plane told it from one that
crashes, and call off a paused pair's drain when the pair runs again before its program
was told. Sessions with none read as never told.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def upgrade() -> None:
    with op.batch_alter_table("session_heartbeats") as batch:
        batch.add_column(sa.Column("stop_told_at", _datetime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_heartbeats") as batch:
        batch.drop_column("stop_told_at")
