"""metrics: whole hours per series a week to a row (metrics_week_series), from metrics_hour

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options
from smsfleet.metrics.rollups import refold_series_from_hours

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql")


def upgrade() -> None:
    connection = op.get_bind()
    op.create_table(
        "metrics_week_series",
        sa.Column("week", _datetime(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("group_key", sa.String(length=40), nullable=False),
        sa.Column("hours", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("week", "kind", "group_key"),
        **table_options(connection),
    )
    # A day at a time from the existing hours (the code's fold, as at this revision).
    first, last = connection.execute(
        sa.text("SELECT MIN(bucket), MAX(bucket) FROM metrics_hour")
    ).one()
    if first is None:
        return
    day = _aware(first).replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= _aware(last):
        refold_series_from_hours(connection, day, day + timedelta(days=1))
        day += timedelta(days=1)


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC)


def downgrade() -> None:
    op.drop_table("metrics_week_series")
