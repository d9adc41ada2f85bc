"""metrics: whole hours per series a week to a row (metrics_week_series)

0023 fills them from `metrics_hour` (this revision once did, with the code's fold,
which reads the hours' columns as they are at head).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql")


def upgrade() -> None:
    op.create_table(
        "metrics_week_series",
        sa.Column("week", _datetime(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("group_key", sa.String(length=40), nullable=False),
        sa.Column("hours", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("week", "kind", "group_key"),
        **table_options(op.get_bind()),
    )


def downgrade() -> None:
    op.drop_table("metrics_week_series")
