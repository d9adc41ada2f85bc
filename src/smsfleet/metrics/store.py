"""The metrics store's rollup tables and the queries over raw attempts and rollups.

Raw attempts stay in `attempts` (dispatch). The rollup job folds completed minutes
into `metrics_minute` (per minute, pair and program) and from there into
`metrics_hour`, with their error codes in `metrics_minute_errors` and
`metrics_hour_errors`, and folds each hour on to one row per country in
`metrics_hour_country` (what the fleet and per-country hourly trends read); it also
writes the seed documents' `sms_metrics` (one row per minute and pair). Each rollup
table has a `*_latency` table beside it with the fine latency bins of its rows
(`smsfleet.core.quantiles`: one row per bin that holds delivered attempts), which the
latency percentiles are read from; the coarse histogram columns stay as they were.
`metrics_state` holds how far rollups go (`rolled_until`: every minute before it is
rolled up) and how far raw attempts were purged.

A query over [start, end) reads whole hours from `metrics_hour`, whole minutes from
`metrics_minute`, and the rest (partial minutes, minutes not rolled up yet) from
raw attempts, so it always equals what the raw attempts say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from smsfleet.attempts import queries as ledger
from smsfleet.core.quantiles import Bins, add_bins, bin_of
from smsfleet.core.sql import DateTimeColumn, aware_utc, metrics_metadata, naive_utc
from smsfleet.metrics.models import LATENCY_BUCKETS_MS

__all__ = [
    "GROUP_COLUMNS",
    "HISTOGRAM_SIZE",
    "MetricsStore",
    "SmsMetricRow",
    "Tally",
    "metrics_hour_country_latency_table",
    "metrics_hour_country_table",
    "metrics_hour_latency_table",
    "metrics_hour_table",
    "metrics_minute_latency_table",
    "metrics_minute_table",
    "sms_metrics_table",
]

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
HISTOGRAM_SIZE = len(LATENCY_BUCKETS_MS) + 1
HISTOGRAM_COLUMNS = tuple(f"latency_b{index:02d}" for index in range(HISTOGRAM_SIZE))
OUTCOME_COLUMNS = ("delivered", "not_delivered", "send_failed", "error")
COUNTER_COLUMNS = (*OUTCOME_COLUMNS, "latency_sum_ms", "latency_count", *HISTOGRAM_COLUMNS)
# Group columns a query may ask for, in the order they are selected.
GROUP_COLUMNS = ("country", "pair", "program", "operator")
ROLLUP_KEY = ("pair", "program", "country", "operator")
ROLLUP_CHUNK = timedelta(hours=6)

_STATE_ROLLED = "rolled_until"
_STATE_PURGED = "purged_until"


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

# The seed documents' table, kept as specified (one row per minute and pair).
sms_metrics_table = sa.Table(
    "sms_metrics",
    metrics_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("country", sa.String(10), nullable=False),
    sa.Column("operator", sa.String(50), nullable=False),
    sa.Column("sms_sent", sa.Integer, nullable=False),
    sa.Column("success_rate", sa.Float, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("timestamp", sa.TIMESTAMP, nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("timestamp", "country", "operator", name="uq_sms_metrics_minute"),
)


# --- time buckets in SQL ---------------------------------------------------------


class epoch_floor(sa.sql.functions.FunctionElement[int]):  # noqa: N801 (SQL function style)
    """Seconds since the epoch of a naive-UTC datetime column, floored to a step."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "epoch_floor"


def time_bucket(column: ColumnElement[Any], step: timedelta) -> epoch_floor:
    # The step is part of the statement's text (not a bound value), so statement
    # caching keeps one compiled form per step.
    return epoch_floor(column, sa.literal_column(str(int(step.total_seconds()))))


def _epoch_floor_parts(element: epoch_floor, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, step = list(element.clauses)
    return compiler.process(column, **kw), compiler.process(step, **kw)


@compiles(epoch_floor, "sqlite")
def _epoch_floor_sqlite(element: epoch_floor, compiler: SQLCompiler, **kw: Any) -> str:
    column, step = _epoch_floor_parts(element, compiler, **kw)
    # Whole seconds first: strftime rounds 14:34:59.999995 up to 14:35:00, which would
    # put the row in a bucket its chunk's range (compared as text) does not cover.
    return f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) / {step} * {step})"


@compiles(epoch_floor, "mysql")
@compiles(epoch_floor, "mariadb")
def _epoch_floor_mysql(element: epoch_floor, compiler: SQLCompiler, **kw: Any) -> str:
    # Not UNIX_TIMESTAMP: it reads the column in the session's time zone.
    column, step = _epoch_floor_parts(element, compiler, **kw)
    return f"(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {column}) DIV {step} * {step})"


def _grouped(
    column: Callable[[str], ColumnElement[Any]],
    moment: ColumnElement[Any],
    source: Source,
    start: datetime,
    end: datetime,
    group: Sequence[str],
    step: timedelta | None,
    key: str | None,
    where: list[ColumnElement[bool]],
) -> tuple[list[ColumnElement[Any]], list[ColumnElement[bool]]]:
    """The group-by columns ([time bucket,] group) and the conditions of a read of
    [start, end) from a table whose columns `column` names, by `group` and, with
    `step`, by time bucket."""
    where = [*where, moment >= naive_utc(start), moment < naive_utc(end)]
    if key is not None and group:
        where.append(column(group[0]) == key)
    columns: list[ColumnElement[Any]] = [column(name) for name in group]
    if step is not None:
        # A rollup read at its own grain groups by the stored bucket: it follows the
        # primary key's order, with no expression to compute or sort on.
        same_grain = (source, step) in (("minute", MINUTE), ("hour", HOUR), ("hour_country", HOUR))
        columns.insert(0, moment if same_grain else time_bucket(moment, step))
    return columns, where


def _epoch(value: int | datetime) -> int:
    if isinstance(value, datetime):
        return int(aware_utc(value).timestamp())
    return int(value)


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def floor_to(value: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return value - (value - epoch) % step


def ceil_to(value: datetime, step: timedelta) -> datetime:
    floored = floor_to(value, step)
    return floored if floored == value else floored + step


# --- tallies ---------------------------------------------------------------------


@dataclass
class Tally:
    """Counters of completed attempts; adds up across minutes, hours and raw rows."""

    delivered: int = 0
    not_delivered: int = 0
    send_failed: int = 0
    error: int = 0
    latency_sum_ms: int = 0
    latency_count: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_SIZE)
    # Delivered attempts by fine latency bin (`smsfleet.core.quantiles`).
    bins: Bins = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return self.delivered + self.not_delivered + self.send_failed + self.error

    def add(self, other: Tally) -> None:
        self.delivered += other.delivered
        self.not_delivered += other.not_delivered
        self.send_failed += other.send_failed
        self.error += other.error
        self.latency_sum_ms += other.latency_sum_ms
        self.latency_count += other.latency_count
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]
        add_bins(self.bins, other.bins)

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Tally:
        """From the counter columns in `COUNTER_COLUMNS` order (SQL sums may be Decimal)."""
        numbers = [int(value or 0) for value in values]
        delivered, not_delivered, send_failed, error, latency_sum, latency_count = numbers[:6]
        return cls(
            delivered, not_delivered, send_failed, error, latency_sum, latency_count, numbers[6:]
        )

    def values(self) -> dict[str, int]:
        row = dict(
            zip(
                OUTCOME_COLUMNS,
                (self.delivered, self.not_delivered, self.send_failed, self.error),
                strict=True,
            )
        )
        row["latency_sum_ms"] = self.latency_sum_ms
        row["latency_count"] = self.latency_count
        row.update(zip(HISTOGRAM_COLUMNS, self.histogram, strict=True))
        return row


@dataclass(frozen=True)
class SmsMetricRow:
    timestamp: datetime
    country: str
    operator: str
    sms_sent: int
    success_rate: float
    failures: int


Source = Literal["raw", "minute", "hour", "hour_country"]
GroupKey = tuple[str, ...]
BucketedKey = tuple[int | None, GroupKey]


def plan(
    start: datetime, end: datetime, rolled_until: datetime | None, *, hours: bool
) -> list[tuple[Source, datetime, datetime]]:
    """Which source answers which part of [start, end): rollups where complete, else raw."""
    if rolled_until is None:
        return [("raw", start, end)] if start < end else []
    first, last = ceil_to(start, MINUTE), min(floor_to(end, MINUTE), rolled_until)
    if first >= last:
        return [("raw", start, end)] if start < end else []
    pieces: list[tuple[Source, datetime, datetime]] = [("raw", start, first)]
    hour_first, hour_last = ceil_to(first, HOUR), floor_to(last, HOUR)
    if hours and hour_first < hour_last:
        pieces += [
            ("minute", first, hour_first),
            ("hour", hour_first, hour_last),
            ("minute", hour_last, last),
        ]
    else:
        pieces.append(("minute", first, last))
    pieces.append(("raw", last, end))
    return [piece for piece in pieces if piece[1] < piece[2]]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _raw_counters() -> list[ColumnElement[Any]]:
    """The counter columns of a rollup row, counted from the ledger's attempts."""
    timed, latency = ledger.timed, ledger.latency_ms
    counters = [_count_if(ledger.outcome == outcome) for outcome in OUTCOME_COLUMNS]
    counters.append(sa.func.sum(sa.case((timed, latency), else_=0)))
    counters.append(_count_if(timed))
    lower: int | None = None
    for bound in LATENCY_BUCKETS_MS:
        condition = sa.and_(timed, latency <= bound)
        if lower is not None:
            condition = sa.and_(condition, latency > lower)
        counters.append(_count_if(condition))
        lower = bound
    counters.append(_count_if(sa.and_(timed, latency > lower)))
    return counters


class MetricsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- reads -----------------------------------------------------------------

    def state(self) -> dict[str, datetime]:
        table = metrics_state_table
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(table.c.name, table.c.at)).all()
        return {name: aware_utc(at) for name, at in rows}

    def rolled_until(self) -> datetime | None:
        return self.state().get(_STATE_ROLLED)

    def tallies(
        self,
        *,
        start: datetime,
        end: datetime,
        group: Sequence[str],
        step: timedelta | None = None,
        key: str | None = None,
        fine_latencies: bool = True,
    ) -> dict[BucketedKey, Tally]:
        """Tallies over [start, end) by `group` columns and, with `step`, by time bucket.

        Buckets are the epoch seconds of each step's start. Without `fine_latencies` the
        latency bins are not read (they hold tens of rows per rollup row): the tallies
        carry the coarse histogram only.
        """
        hours = step is None or step % HOUR == timedelta(0)
        result: dict[BucketedKey, Tally] = {}
        with self.engine.connect() as connection:
            for source, a, b in plan(start, end, self._rolled(connection), hours=hours):
                if source == "hour" and tuple(group) in ((), ("country",)):
                    source = "hour_country"
                query = self._tally_query(source, a, b, group, step, key)
                for row in connection.execute(query):
                    bucket = _epoch(row[0]) if step is not None else None
                    offset = 1 if step is not None else 0
                    group_key = tuple(row[offset : offset + len(group)])
                    tally = Tally.from_values(row[offset + len(group) :])
                    result.setdefault((bucket, group_key), Tally()).add(tally)
                if not fine_latencies:
                    continue
                for (bucket, group_key), bins in self._bins(
                    connection, source, a, b, group, step, key
                ).items():
                    add_bins(result.setdefault((bucket, group_key), Tally()).bins, bins)
        return result

    def _bins(
        self,
        connection: Connection,
        source: Source,
        start: datetime,
        end: datetime,
        group: Sequence[str],
        step: timedelta | None,
        key: str | None,
    ) -> dict[BucketedKey, Bins]:
        """Latency bins over [start, end) by `group` and, with `step`, by time bucket."""
        result: dict[BucketedKey, Bins] = {}
        offset = 1 if step is not None else 0
        raw = source == "raw"
        for row in connection.execute(self._bins_query(source, start, end, group, step, key)):
            bucket = _epoch(row[0]) if step is not None else None
            bins = result.setdefault((bucket, tuple(row[offset : offset + len(group)])), {})
            value, n = row[offset + len(group)], int(row[offset + len(group) + 1])
            index = bin_of(float(value)) if raw else int(value)
            bins[index] = bins.get(index, 0) + n
        return result

    def error_codes(
        self, *, start: datetime, end: datetime, group: Sequence[str], key: str | None = None
    ) -> dict[GroupKey, dict[str, int]]:
        result: dict[GroupKey, dict[str, int]] = {}
        with self.engine.connect() as connection:
            for source, a, b in plan(start, end, self._rolled(connection), hours=True):
                for row in connection.execute(self._errors_query(source, a, b, group, None, key)):
                    codes = result.setdefault(tuple(row[: len(group)]), {})
                    code = str(row[len(group)])
                    codes[code] = codes.get(code, 0) + int(row[len(group) + 1])
        return result

    def sms_metrics(self, *, start: datetime, end: datetime) -> list[SmsMetricRow]:
        table = sms_metrics_table
        query = (
            sa.select(
                table.c.timestamp,
                table.c.country,
                table.c.operator,
                table.c.sms_sent,
                table.c.success_rate,
                table.c.failures,
            )
            .where(table.c.timestamp >= naive_utc(start), table.c.timestamp < naive_utc(end))
            .order_by(table.c.timestamp, table.c.country, table.c.operator)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            SmsMetricRow(aware_utc(at), country, operator, sent, float(rate), failures)
            for at, country, operator, sent, rate, failures in rows
        ]

    def _rolled(self, connection: Connection) -> datetime | None:
        table = metrics_state_table
        query = sa.select(table.c.at).where(table.c.name == _STATE_ROLLED)
        value = connection.execute(query).scalar()
        return aware_utc(value) if value is not None else None

    def _tally_query(
        self,
        source: Source,
        start: datetime,
        end: datetime,
        group: Sequence[str],
        step: timedelta | None,
        key: str | None,
    ) -> sa.Select[Any]:
        column: Callable[[str], ColumnElement[Any]]
        if source == "raw":
            column, moment = ledger.column, ledger.completed_at
            counters = _raw_counters()
            where: list[ColumnElement[bool]] = [ledger.completed]
        else:
            table = {
                "minute": metrics_minute_table,
                "hour": metrics_hour_table,
                "hour_country": metrics_hour_country_table,
            }[source]
            column, moment = table.c.__getitem__, table.c.bucket
            counters = [sa.func.sum(table.c[name]) for name in COUNTER_COLUMNS]
            where = []
        columns, where = _grouped(column, moment, source, start, end, group, step, key, where)
        return sa.select(*columns, *counters).where(*where).group_by(*columns)

    def _bins_query(
        self,
        source: Source,
        start: datetime,
        end: datetime,
        group: Sequence[str],
        step: timedelta | None,
        key: str | None,
    ) -> sa.Select[Any]:
        """Rows of [bucket], group columns, bin (the latency itself from raw attempts)
        and count."""
        column: Callable[[str], ColumnElement[Any]]
        if source == "raw":
            column, moment = ledger.column, ledger.completed_at
            value: ColumnElement[Any] = ledger.latency_ms
            count: ColumnElement[Any] = sa.func.count()
            where: list[ColumnElement[bool]] = [ledger.timed]
        else:
            table = LATENCY_TABLES[source]
            column, moment = table.c.__getitem__, table.c.bucket
            value, count = table.c.bin, sa.func.sum(table.c.n)
            where = []
        columns, where = _grouped(column, moment, source, start, end, group, step, key, where)
        return sa.select(*columns, value, count).where(*where).group_by(*columns, value)

    def _errors_query(
        self,
        source: Source,
        start: datetime,
        end: datetime,
        group: Sequence[str],
        step: timedelta | None,
        key: str | None,
    ) -> sa.Select[Any]:
        column: Callable[[str], ColumnElement[Any]]
        if source == "raw":
            column, moment = ledger.column, ledger.completed_at
            code: ColumnElement[Any] = ledger.error_code
            count: ColumnElement[Any] = sa.func.count()
            where: list[ColumnElement[bool]] = [ledger.failed_with_code]
        else:
            table = metrics_minute_errors_table if source == "minute" else metrics_hour_errors_table
            column, moment = table.c.__getitem__, table.c.bucket
            code, count = table.c.code, sa.func.sum(table.c.n)
            where = []
        where += [moment >= naive_utc(start), moment < naive_utc(end)]
        if key is not None and group:
            where.append(column(group[0]) == key)
        columns: list[ColumnElement[Any]] = [column(name) for name in group]
        if step is not None:
            columns.insert(0, time_bucket(moment, step))
        return sa.select(*columns, code, count).where(*where).group_by(*columns, code)

    # --- rollup and purge -----------------------------------------------------------

    def rollup(self, *, start: datetime, end: datetime) -> int:
        """Recompute the rollups of the whole minutes in [start, end) from raw attempts.

        Idempotent: a minute rolled up again is replaced, never added twice. Minutes
        whose raw attempts were purged are left as they are. Returns the minute rows
        written.
        """
        start, end = floor_to(start, MINUTE), floor_to(end, MINUTE)
        purged = self.state().get(_STATE_PURGED)
        if purged is not None:
            start = max(start, purged)
        written = 0
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(chunk_start + ROLLUP_CHUNK, end)
            written += self._rollup_chunk(chunk_start, chunk_end)
            chunk_start = chunk_end
        return written

    def _rollup_chunk(self, start: datetime, end: datetime) -> int:
        with self.engine.begin() as connection:
            rolled = first = self._rolled(connection)
            if rolled is None:  # the first rollup advances from the ledger's first completion
                earliest = connection.execute(sa.select(sa.func.min(ledger.completed_at))).scalar()
                first = aware_utc(earliest) if earliest is not None else None
            advances = first is None or start <= first
            minutes = self._recompute(
                connection,
                "raw",
                metrics_minute_table,
                metrics_minute_errors_table,
                metrics_minute_latency_table,
                start,
                end,
                MINUTE,
            )
            hours_start, hours_end = floor_to(start, HOUR), ceil_to(end, HOUR)
            self._recompute(
                connection,
                "minute",
                metrics_hour_table,
                metrics_hour_errors_table,
                metrics_hour_latency_table,
                hours_start,
                hours_end,
                HOUR,
            )
            self._recompute_countries(connection, hours_start, hours_end)
            self._write_sms_metrics(connection, minutes, start, end)
            if advances and (rolled is None or end > rolled):
                self._set_state(connection, _STATE_ROLLED, end)
        return len(minutes)

    def _recompute(
        self,
        connection: Connection,
        source: Source,
        target: sa.Table,
        target_errors: sa.Table,
        target_latency: sa.Table,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> dict[tuple[int, GroupKey], Tally]:
        tallies: dict[tuple[int, GroupKey], Tally] = {}
        for row in connection.execute(
            self._tally_query(source, start, end, ROLLUP_KEY, step, None)
        ):
            tallies[(_epoch(row[0]), tuple(row[1:5]))] = Tally.from_values(row[5:])
        errors = connection.execute(
            self._errors_query(source, start, end, ROLLUP_KEY, step, None)
        ).all()
        bins = self._bins(connection, source, start, end, ROLLUP_KEY, step, None)
        for table in (target, target_errors, target_latency):
            connection.execute(
                table.delete().where(
                    table.c.bucket >= naive_utc(start), table.c.bucket < naive_utc(end)
                )
            )
        rows = [
            {
                "bucket": naive_utc(_from_epoch(bucket)),
                **dict(zip(ROLLUP_KEY, key, strict=True)),
                **tally.values(),
            }
            for (bucket, key), tally in tallies.items()
        ]
        if rows:
            connection.execute(target.insert(), rows)
        error_rows = [
            {
                "bucket": naive_utc(_from_epoch(int(row[0]))),
                **dict(zip(ROLLUP_KEY, row[1:5], strict=True)),
                "code": row[5],
                "n": int(row[6]),
            }
            for row in errors
        ]
        if error_rows:
            connection.execute(target_errors.insert(), error_rows)
        latency_rows = [
            {
                "bucket": naive_utc(_from_epoch(int(bucket or 0))),
                **dict(zip(ROLLUP_KEY, key, strict=True)),
                "bin": index,
                "n": n,
            }
            for (bucket, key), per_key in bins.items()
            for index, n in per_key.items()
        ]
        if latency_rows:
            connection.execute(target_latency.insert(), latency_rows)
        return tallies

    def _recompute_countries(self, connection: Connection, start: datetime, end: datetime) -> None:
        """Refold the hours in [start, end) of `metrics_hour` on to one row per country."""
        source, target = metrics_hour_table, metrics_hour_country_table
        window = (source.c.bucket >= naive_utc(start), source.c.bucket < naive_utc(end))
        connection.execute(
            target.delete().where(
                target.c.bucket >= naive_utc(start), target.c.bucket < naive_utc(end)
            )
        )
        connection.execute(
            target.insert().from_select(
                ["bucket", "country", *COUNTER_COLUMNS],
                sa.select(
                    source.c.bucket,
                    source.c.country,
                    *(sa.func.sum(source.c[name]) for name in COUNTER_COLUMNS),
                )
                .where(*window)
                .group_by(source.c.bucket, source.c.country),
            )
        )
        source, target = metrics_hour_latency_table, metrics_hour_country_latency_table
        window = (source.c.bucket >= naive_utc(start), source.c.bucket < naive_utc(end))
        connection.execute(
            target.delete().where(
                target.c.bucket >= naive_utc(start), target.c.bucket < naive_utc(end)
            )
        )
        connection.execute(
            target.insert().from_select(
                ["bucket", "country", "bin", "n"],
                sa.select(source.c.bucket, source.c.country, source.c.bin, sa.func.sum(source.c.n))
                .where(*window)
                .group_by(source.c.bucket, source.c.country, source.c.bin),
            )
        )

    def _write_sms_metrics(
        self,
        connection: Connection,
        minutes: dict[tuple[int, GroupKey], Tally],
        start: datetime,
        end: datetime,
    ) -> None:
        table = sms_metrics_table
        per_pair: dict[tuple[int, str, str], Tally] = {}
        for (bucket, (_pair, _program, country, operator)), tally in minutes.items():
            per_pair.setdefault((bucket, country, operator), Tally()).add(tally)
        connection.execute(
            table.delete().where(
                table.c.timestamp >= naive_utc(start), table.c.timestamp < naive_utc(end)
            )
        )
        rows = [
            {
                "timestamp": naive_utc(_from_epoch(bucket)),
                "country": country,
                "operator": operator,
                "sms_sent": tally.delivered + tally.not_delivered,
                "success_rate": tally.delivered / tally.completed,
                "failures": tally.send_failed + tally.error,
            }
            for (bucket, country, operator), tally in sorted(per_pair.items())
            if tally.completed
        ]
        if rows:
            connection.execute(table.insert(), rows)

    def _set_state(self, connection: Connection, name: str, at: datetime) -> None:
        table = metrics_state_table
        updated = connection.execute(
            table.update().where(table.c.name == name).values(at=naive_utc(at))
        ).rowcount
        if not updated:
            connection.execute(table.insert().values(name=name, at=naive_utc(at)))

    def purge_cutoff(self, before: datetime) -> datetime | None:
        """How far raw attempts may be purged for a retention ending at `before`: never
        past what is rolled up (None: nothing is yet)."""
        rolled = self.rolled_until()
        return None if rolled is None else min(floor_to(before, MINUTE), rolled)

    def mark_purged(self, cutoff: datetime) -> None:
        """Raw attempts before `cutoff` are gone: rollups stop recomputing those minutes."""
        with self.engine.begin() as connection:
            table = metrics_state_table
            query = sa.select(table.c.at).where(table.c.name == _STATE_PURGED)
            purged = connection.execute(query).scalar()
            if purged is None or cutoff > aware_utc(purged):
                self._set_state(connection, _STATE_PURGED, cutoff)


def merge(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total
