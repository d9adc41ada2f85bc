"""request log: every API request (api_requests) and its daily rollup (api_usage_daily)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BUCKETS = [f"b{index:02d}" for index in range(13)]


def upgrade() -> None:
    options = table_options(op.get_bind())
    op.create_table(
        "api_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql"),
            nullable=False,
        ),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=160), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **options,
    )
    op.create_index("ix_api_requests_at", "api_requests", ["at"])
    op.create_table(
        "api_usage_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=160), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("client_errors", sa.BigInteger(), nullable=False),
        sa.Column("server_errors", sa.BigInteger(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in BUCKETS),
        sa.PrimaryKeyConstraint("day", "owner", "key_id", "method", "route"),
        **options,
    )
    op.create_index("ix_api_usage_daily_key_day", "api_usage_daily", ["key_id", "day"])
    op.create_index("ix_api_usage_daily_owner_day", "api_usage_daily", ["owner", "day"])


def downgrade() -> None:
    op.drop_table("api_usage_daily")
    op.drop_table("api_requests")
