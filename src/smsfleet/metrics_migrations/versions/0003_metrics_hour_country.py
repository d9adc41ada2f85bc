"""metrics: hours per country (metrics_hour_country), filled from metrics_hour

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OUTCOMES = ("delivered", "not_delivered", "send_failed", "error")
HISTOGRAM = tuple(f"latency_b{index:02d}" for index in range(18))
COUNTERS = (*OUTCOMES, "latency_sum_ms", "latency_count", *HISTOGRAM)


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def upgrade() -> None:
    op.create_table(
        "metrics_hour_country",
        sa.Column("bucket", _datetime(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        *(sa.Column(outcome, sa.Integer(), nullable=False) for outcome in OUTCOMES),
        sa.Column("latency_sum_ms", sa.BigInteger(), nullable=False),
        sa.Column("latency_count", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in HISTOGRAM),
        sa.PrimaryKeyConstraint("bucket", "country"),
        **table_options(op.get_bind()),
    )
    columns = ", ".join(COUNTERS)
    sums = ", ".join(f"SUM({name})" for name in COUNTERS)
    op.execute(
        f"INSERT INTO metrics_hour_country (bucket, country, {columns}) "  # noqa: S608
        f"SELECT bucket, country, {sums} FROM metrics_hour GROUP BY bucket, country"
    )


def downgrade() -> None:
    op.drop_table("metrics_hour_country")
