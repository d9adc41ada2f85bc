"""fine latency bins beside the rollups (api_usage_latency_daily, metrics_*_latency)

Existing rollup rows get one bin per non-empty coarse bucket, at the bucket's middle
(its last bound for the open-ended one): old quantiles stay as coarse as they were.
Days of the request log still held whole in `api_requests` are binned from it, and
the metrics rollup job is sent back to re-roll the minutes whose raw attempts are
still kept (reads take those minutes from the raw attempts until it has).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.quantiles import bin_of
from smsfleet.core.sql import table_options

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Coarse bounds (ms) at the time of this revision: request log, delivery latency.
REQUEST_BOUNDS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
DELIVERY_BOUNDS = (
    *(250, 500, 1_000, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000),
    *(30_000, 45_000, 60_000, 90_000, 120_000, 180_000, 300_000),
)
USAGE_KEY = ("day", "owner", "key_id", "method", "route")
ROLLUP_KEY = ("bucket", "pair", "program")
INSERT_CHUNK = 5_000


def _datetime() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql")


def _middles(bounds: tuple[int, ...]) -> list[int]:
    """The fine bin standing for each coarse bucket."""
    lowers = (0, *bounds[:-1])
    return [bin_of((lower + upper) / 2) for lower, upper in zip(lowers, bounds, strict=True)] + [
        bin_of(bounds[-1])
    ]


def _latency_table(name: str, options: dict[str, Any]) -> None:
    op.create_table(
        name,
        sa.Column("bucket", _datetime(), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("program", sa.String(length=32), nullable=False),
        sa.Column("bin", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("operator", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "pair", "program", "bin"),
        **options,
    )
    op.create_index(f"ix_{name}_pair_bucket", name, ["pair", "bucket"])


def _from_coarse(
    source: str, target: str, keys: tuple[str, ...], columns: list[str], bins: list[int]
) -> None:
    """One bin row per non-empty coarse bucket of every `source` row."""
    for column, index in zip(columns, bins, strict=True):
        op.execute(
            f"INSERT INTO {target} ({', '.join(keys)}, bin, n) "  # noqa: S608 (names are ours)
            f"SELECT {', '.join(keys)}, {index}, {column} FROM {source} WHERE {column} > 0"
        )


def _usage_from_raw(connection: sa.Connection) -> None:
    """Bin again, from the raw log, the days it still holds whole."""
    raw = sa.table("api_requests", *(sa.column(name) for name in USAGE_KEY[1:]))
    raw.append_column(sa.column("at", sa.DateTime()))
    raw.append_column(sa.column("latency_ms", sa.Float()))
    daily = sa.table("api_usage_daily", sa.column("day", sa.Date()), sa.column("requests"))
    bins = sa.table(
        "api_usage_latency_daily",
        *(sa.column(name) for name in USAGE_KEY[1:]),
        sa.column("day", sa.Date()),
        sa.column("bin"),
        sa.column("n"),
    )
    day_of = sa.func.date(raw.c.at, type_=sa.Date())
    logged = {
        (day if isinstance(day, date) else date.fromisoformat(str(day))): int(count)
        for day, count in connection.execute(
            sa.select(day_of, sa.func.count()).group_by(day_of)
        ).all()
    }
    rolled = {
        day: int(count)
        for day, count in connection.execute(
            sa.select(daily.c.day, sa.func.sum(daily.c.requests)).group_by(daily.c.day)
        ).all()
    }
    for day, count in sorted(logged.items()):
        if rolled.get(day) != count:
            continue  # partly purged (or not folded): keep the coarse bins
        start = datetime.combine(day, datetime.min.time())
        per_key: dict[tuple[Any, ...], int] = {}
        groups = [raw.c[name] for name in USAGE_KEY[1:]]
        rows = connection.execute(
            sa.select(*groups, raw.c.latency_ms, sa.func.count())
            .where(raw.c.at >= start, raw.c.at < start + timedelta(days=1))
            .group_by(*groups, raw.c.latency_ms)
        )
        for *group, latency, n in rows:
            key = (*group, bin_of(float(latency)))
            per_key[key] = per_key.get(key, 0) + int(n)
        connection.execute(sa.delete(bins).where(bins.c.day == day))
        values = [
            {**dict(zip(USAGE_KEY[1:], key[:-1], strict=True)), "day": day, "bin": key[-1], "n": n}
            for key, n in per_key.items()
        ]
        for first in range(0, len(values), INSERT_CHUNK):
            connection.execute(sa.insert(bins), values[first : first + INSERT_CHUNK])


def _rewind_rollups(connection: sa.Connection) -> None:
    """Send the rollup job back to the first minute whose raw attempts are still kept."""
    state = sa.table("metrics_state", sa.column("name"), sa.column("at", sa.DateTime()))
    attempts = sa.table("attempts", sa.column("completed_at", sa.DateTime()))
    at = dict(connection.execute(sa.select(state.c.name, state.c.at)).all())
    rolled, purged = at.get("rolled_until"), at.get("purged_until")
    earliest = connection.execute(sa.select(sa.func.min(attempts.c.completed_at))).scalar()
    if rolled is None or earliest is None:
        return
    first = earliest.replace(second=0, microsecond=0)
    if purged is not None:
        first = max(first, purged)
    if first < rolled:
        connection.execute(sa.update(state).where(state.c.name == "rolled_until").values(at=first))


def upgrade() -> None:
    connection = op.get_bind()
    options = table_options(connection)
    op.create_table(
        "api_usage_latency_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=160), nullable=False),
        sa.Column("bin", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "owner", "key_id", "method", "route", "bin"),
        **options,
    )
    op.create_index(
        "ix_api_usage_latency_daily_key_day", "api_usage_latency_daily", ["key_id", "day"]
    )
    op.create_index(
        "ix_api_usage_latency_daily_owner_day", "api_usage_latency_daily", ["owner", "day"]
    )
    _latency_table("metrics_minute_latency", options)
    _latency_table("metrics_hour_latency", options)
    op.create_table(
        "metrics_hour_country_latency",
        sa.Column("bucket", _datetime(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("bin", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "country", "bin"),
        **options,
    )

    _from_coarse(
        "api_usage_daily",
        "api_usage_latency_daily",
        USAGE_KEY,
        [f"b{index:02d}" for index in range(len(REQUEST_BOUNDS) + 1)],
        _middles(REQUEST_BOUNDS),
    )
    _usage_from_raw(connection)
    histogram = [f"latency_b{index:02d}" for index in range(len(DELIVERY_BOUNDS) + 1)]
    for source in ("metrics_minute", "metrics_hour"):
        _from_coarse(
            source,
            f"{source}_latency",
            (*ROLLUP_KEY, "country", "operator"),
            histogram,
            _middles(DELIVERY_BOUNDS),
        )
    _from_coarse(
        "metrics_hour_country",
        "metrics_hour_country_latency",
        ("bucket", "country"),
        histogram,
        _middles(DELIVERY_BOUNDS),
    )
    _rewind_rollups(connection)


def downgrade() -> None:
    op.drop_table("metrics_hour_country_latency")
    op.drop_table("metrics_hour_latency")
    op.drop_table("metrics_minute_latency")
    op.drop_table("api_usage_latency_daily")
