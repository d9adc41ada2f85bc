"""The reads every tally is made of: over a rollup table, or over the ledger's raw
attempts (the minutes not rolled up yet), in the same shape."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from smsfleet.attempts import queries as ledger
from smsfleet.attempts.models import Outcome
from smsfleet.core.quantiles import Bins, bin_of
from smsfleet.core.sql import aware_utc, naive_utc
from smsfleet.metrics.buckets import HOUR, MINUTE, Source, epoch, time_bucket
from smsfleet.metrics.models import LATENCY_BUCKETS_MS
from smsfleet.metrics.tables import (
    COUNTER_COLUMNS,
    LATENCY_TABLES,
    OUTCOME_COLUMNS,
    STATE_ROLLED,
    metrics_hour_country_table,
    metrics_hour_errors_table,
    metrics_hour_table,
    metrics_minute_errors_table,
    metrics_minute_table,
    metrics_state_table,
)
from smsfleet.metrics.tally import BucketedKey, Tally


def grouped(
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


def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def raw_counters() -> list[ColumnElement[Any]]:
    """The counter columns of a rollup row, counted from the ledger's attempts."""
    timed, latency = ledger.timed, ledger.latency_ms
    # An error broken off is counted apart from the errors (only errors are broken off).
    counters = [
        count_if(
            sa.and_(ledger.outcome == outcome, ~ledger.broken_off)
            if outcome == Outcome.error
            else ledger.outcome == outcome
        )
        for outcome in OUTCOME_COLUMNS
    ]
    counters.append(count_if(ledger.broken_off))
    counters.append(count_if(sa.and_(ledger.broken_off, ledger.sent)))
    # Grants are counted by lease time (`granted_query`), not with the completions.
    counters.append(sa.literal(0))
    counters.append(sa.func.sum(sa.case((timed, latency), else_=0)))
    counters.append(count_if(timed))
    lower: int | None = None
    for bound in LATENCY_BUCKETS_MS:
        condition = sa.and_(timed, latency <= bound)
        if lower is not None:
            condition = sa.and_(condition, latency > lower)
        counters.append(count_if(condition))
        lower = bound
    counters.append(count_if(sa.and_(timed, latency > lower)))
    return counters


def state_of(connection: Connection) -> dict[str, datetime]:
    """How far rollups go and how far raw attempts were purged (`metrics_state`)."""
    table = metrics_state_table
    rows = connection.execute(sa.select(table.c.name, table.c.at)).all()
    return {name: aware_utc(at) for name, at in rows}


def rolled_until(connection: Connection) -> datetime | None:
    """Every minute before it is rolled up (None: none is yet)."""
    table = metrics_state_table
    value = connection.execute(sa.select(table.c.at).where(table.c.name == STATE_ROLLED)).scalar()
    return aware_utc(value) if value is not None else None


def read_bins(
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
    for row in connection.execute(bins_query(source, start, end, group, step, key)):
        bucket = epoch(row[0]) if step is not None else None
        bins = result.setdefault((bucket, tuple(row[offset : offset + len(group)])), {})
        value, n = row[offset + len(group)], int(row[offset + len(group) + 1])
        index = bin_of(float(value)) if raw else int(value)
        bins[index] = bins.get(index, 0) + n
    return result


def tally_query(
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
        counters = raw_counters()
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
    columns, where = grouped(column, moment, source, start, end, group, step, key, where)
    return sa.select(*columns, *counters).where(*where).group_by(*columns)


def granted_query(
    start: datetime,
    end: datetime,
    group: Sequence[str],
    step: timedelta | None,
    key: str | None,
) -> sa.Select[Any]:
    """Rows of [bucket], group columns and the attempts leased in [start, end), by
    lease time, reported or not."""
    columns, where = grouped(
        ledger.column, ledger.leased_at, "raw", start, end, group, step, key, []
    )
    return sa.select(*columns, sa.func.count()).where(*where).group_by(*columns)


def read_tallies(
    connection: Connection,
    source: Source,
    start: datetime,
    end: datetime,
    group: Sequence[str],
    step: timedelta | None,
    key: str | None,
) -> dict[BucketedKey, Tally]:
    """Tallies over [start, end) by `group` and, with `step`, by time bucket, without
    their latency bins (`read_bins`): from raw attempts, outcomes by completion time
    and grants by lease time."""
    result: dict[BucketedKey, Tally] = {}
    offset = 1 if step is not None else 0
    width = offset + len(group)

    def tally_of(row: Sequence[Any]) -> Tally:
        """The tally of the row's [bucket and] group, the first row of it making it."""
        bucket = epoch(row[0]) if step is not None else None
        return result.setdefault((bucket, tuple(row[offset:width])), Tally())

    for row in connection.execute(tally_query(source, start, end, group, step, key)):
        tally_of(row).add(Tally.from_values(row[width:]))
    if source == "raw":
        for row in connection.execute(granted_query(start, end, group, step, key)):
            tally_of(row).granted += int(row[width])
    return result


def bins_query(
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
    columns, where = grouped(column, moment, source, start, end, group, step, key, where)
    return sa.select(*columns, value, count).where(*where).group_by(*columns, value)


def errors_query(
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
    columns, where = grouped(column, moment, source, start, end, group, step, key, where)
    return sa.select(*columns, code, count).where(*where).group_by(*columns, code)
