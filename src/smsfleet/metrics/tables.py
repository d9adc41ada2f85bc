"""The metrics store's rollup tables, their state, and the seed documents' `sms_metrics`.

The rollup job folds completed minutes of the attempts ledger into `metrics_minute`
(per minute, pair and program: outcomes by completion minute, `granted` by lease
minute) and from there into `metrics_hour`, with their error
codes in `metrics_minute_errors` and `metrics_hour_errors`, and folds each hour on to
one row per country in `metrics_hour_country` (what the fleet and per-country hourly
trends read) and each week's hours on to one row per series in `metrics_week_series`
(what trends over more than a day read); it also writes `sms_metrics` (one row per
minute and pair). Each rollup table has a `*_latency` table beside it with the fine
latency bins of its rows (`smsfleet.core.quantiles`). `metrics_state` holds how far
rollups go (`rolled_until`) and how far raw attempts were purged (`purged_until`).
"""

from __future__ import annotations

import sqlalchemy as sa

from smsfleet.core.sql import DateTimeColumn, metrics_metadata
from smsfleet.metrics.models import LATENCY_BUCKETS_MS

HISTOGRAM_SIZE = len(LATENCY_BUCKETS_MS) + 1
HISTOGRAM_COLUMNS = tuple(f"latency_b{index:02d}" for index in range(HISTOGRAM_SIZE))
# The outcomes that judge a route (`error` without the attempts broken off), then those
# broken off (`smsfleet.attempts.models.BROKEN_OFF_CODES`), counted apart, and of them
# those whose SMS had reached the gateway (`sent_at` set), counted in `sent`.
OUTCOME_COLUMNS = ("delivered", "not_delivered", "send_failed", "error")
COUNTER_COLUMNS = (
    *OUTCOME_COLUMNS,
    "broken_off",
    "broken_off_sent",
    "granted",
    "latency_sum_ms",
    "latency_count",
    *HISTOGRAM_COLUMNS,
)
# The key of a rollup row besides its bucket.
ROLLUP_KEY = ("pair", "program", "country", "operator")

STATE_ROLLED = "rolled_until"
STATE_PURGED = "purged_until"


def _broken_off_column() -> sa.Column[int]:
    # Defaults to 0 for rows written before it was counted (migration 0015).
    return sa.Column("broken_off", sa.Integer, nullable=False, server_default="0")


def _broken_off_sent_column() -> sa.Column[int]:
    # Of `broken_off`, the attempts whose SMS had reached the gateway: counted in `sent`.
    # Defaults to 0 for rows written before it was counted (migration 0023).
    return sa.Column("broken_off_sent", sa.Integer, nullable=False, server_default="0")


def _granted_column() -> sa.Column[int]:
    # Attempts leased in the bucket, by lease time, unlike the outcomes (counted by
    # completion): what each country's cap counts. Defaults to 0 for rows written
    # before it was counted (migration 0018).
    return sa.Column("granted", sa.Integer, nullable=False, server_default="0")


def _rollup_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metrics_metadata,
        sa.Column("bucket", DateTimeColumn, primary_key=True),
        sa.Column("pair", sa.String(40), primary_key=True),
        sa.Column("program", sa.String(32), primary_key=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("operator", sa.String(32), nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False) for name in OUTCOME_COLUMNS),
        _broken_off_column(),
        _broken_off_sent_column(),
        _granted_column(),
        sa.Column("latency_sum_ms", sa.BigInteger, nullable=False),
        sa.Column("latency_count", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False) for name in HISTOGRAM_COLUMNS),
        # One pair's trend (a click on the dashboard) reads only that pair's rows.
        sa.Index(f"ix_{name}_pair_bucket", "pair", "bucket"),
    )


def _latency_table(name: str) -> sa.Table:
    """The latency bins of a rollup table's rows: `n` delivered attempts in `bin`."""
    return sa.Table(
        name,
        metrics_metadata,
        sa.Column("bucket", DateTimeColumn, primary_key=True),
        sa.Column("pair", sa.String(40), primary_key=True),
        sa.Column("program", sa.String(32), primary_key=True),
        sa.Column("bin", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("operator", sa.String(32), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Index(f"ix_{name}_pair_bucket", "pair", "bucket"),
    )


def _errors_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metrics_metadata,
        sa.Column("bucket", DateTimeColumn, primary_key=True),
        sa.Column("pair", sa.String(40), primary_key=True),
        sa.Column("program", sa.String(32), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("operator", sa.String(32), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
    )


metrics_minute_table = _rollup_table("metrics_minute")
metrics_hour_table = _rollup_table("metrics_hour")
# Hours per country: 600 series' hours folded into one row per country, so a trend
# over the whole fleet or by country reads a fraction of `metrics_hour`.
metrics_hour_country_table = sa.Table(
    "metrics_hour_country",
    metrics_metadata,
    sa.Column("bucket", DateTimeColumn, primary_key=True),
    sa.Column("country", sa.String(2), primary_key=True),
    *(sa.Column(name, sa.Integer, nullable=False) for name in OUTCOME_COLUMNS),
    _broken_off_column(),
    _broken_off_sent_column(),
    _granted_column(),
    sa.Column("latency_sum_ms", sa.BigInteger, nullable=False),
    sa.Column("latency_count", sa.Integer, nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False) for name in HISTOGRAM_COLUMNS),
)
metrics_hour_country_latency_table = sa.Table(
    "metrics_hour_country_latency",
    metrics_metadata,
    sa.Column("bucket", DateTimeColumn, primary_key=True),
    sa.Column("country", sa.String(2), primary_key=True),
    sa.Column("bin", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
)
# Whole hours per series (the fleet, a country, a pair, a program), a week to a row:
# the figures of 168 trend points packed in `hours` (`smsfleet.metrics.series`).
metrics_week_series_table = sa.Table(
    "metrics_week_series",
    metrics_metadata,
    sa.Column("week", DateTimeColumn, primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("group_key", sa.String(40), primary_key=True),
    sa.Column("hours", sa.LargeBinary, nullable=False),
)
metrics_minute_latency_table = _latency_table("metrics_minute_latency")
metrics_hour_latency_table = _latency_table("metrics_hour_latency")
LATENCY_TABLES: dict[str, sa.Table] = {
    "minute": metrics_minute_latency_table,
    "hour": metrics_hour_latency_table,
    "hour_country": metrics_hour_country_latency_table,
}
metrics_minute_errors_table = _errors_table("metrics_minute_errors")
metrics_hour_errors_table = _errors_table("metrics_hour_errors")

metrics_state_table = sa.Table(
    "metrics_state",
    metrics_metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False),
)

# The seed documents' table, kept as specified (one row per minute and pair that
# completed or sent anything): `sms_sent` is `sent`, `failures` `failed` and
# `success_rate` delivered / completed (null in a minute that completed nothing).
sms_metrics_table = sa.Table(
    "sms_metrics",
    metrics_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("country", sa.String(10), nullable=False),
    sa.Column("operator", sa.String(50), nullable=False),
    sa.Column("sms_sent", sa.Integer, nullable=False),
    sa.Column("success_rate", sa.Float, nullable=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("timestamp", sa.TIMESTAMP, nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("timestamp", "country", "operator", name="uq_sms_metrics_minute"),
)
