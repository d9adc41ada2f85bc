"""alerts: an acknowledgement given while the alert was milder (alerts.milder_acknowledged_*)

An alert that gets worse drops its acknowledgement (whoever gave it has not seen it
worse); who gave it, when, and at which severity are kept, so the alert's row says it.
Alerts from before read as never acknowledged while milder.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("milder_acknowledged_at", _datetime(), nullable=True))
        batch.add_column(sa.Column("milder_acknowledged_by", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("milder_acknowledged_severity", sa.String(length=16), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("milder_acknowledged_severity")
        batch.drop_column("milder_acknowledged_by")
        batch.drop_column("milder_acknowledged_at")
