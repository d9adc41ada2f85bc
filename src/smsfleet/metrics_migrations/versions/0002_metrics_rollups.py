"""metrics: minute and hour rollups, their error codes, state, sms_metrics

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OUTCOMES = ("delivered", "not_delivered", "send_failed", "error")
HISTOGRAM_SIZE = 18  # len(LATENCY_BUCKETS_MS) + 1 at the time of this revision


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def _rollup(name: str, options: dict[str, Any]) -> None:
    op.create_table(
        name,
        sa.Column("bucket", _datetime(), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("program", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("operator", sa.String(length=32), nullable=False),
        *(sa.Column(outcome, sa.Integer(), nullable=False) for outcome in OUTCOMES),
        sa.Column("latency_sum_ms", sa.BigInteger(), nullable=False),
        sa.Column("latency_count", sa.Integer(), nullable=False),
        *(
            sa.Column(f"latency_b{index:02d}", sa.Integer(), nullable=False)
            for index in range(HISTOGRAM_SIZE)
        ),
        sa.PrimaryKeyConstraint("bucket", "pair", "program"),
        **options,
    )


def _errors(name: str, options: dict[str, Any]) -> None:
    op.create_table(
        name,
        sa.Column("bucket", _datetime(), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("program", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("operator", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "pair", "program", "code"),
        **options,
    )


def upgrade() -> None:
    options = table_options(op.get_bind())
    _rollup("metrics_minute", options)
    _rollup("metrics_hour", options)
    _errors("metrics_minute_errors", options)
    _errors("metrics_hour_errors", options)
    op.create_table(
        "metrics_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        **options,
    )
    op.create_table(
        "sms_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("country", sa.String(length=10), nullable=False),
        sa.Column("operator", sa.String(length=50), nullable=False),
        sa.Column("sms_sent", sa.Integer(), nullable=False),
        sa.Column("success_rate", sa.Float(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.TIMESTAMP(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("timestamp", "country", "operator", name="uq_sms_metrics_minute"),
        **options,
    )


def downgrade() -> None:
    for name in (
        "sms_metrics",
        "metrics_state",
        "metrics_hour_errors",
        "metrics_minute_errors",
        "metrics_hour",
        "metrics_minute",
    ):
        op.drop_table(name)
