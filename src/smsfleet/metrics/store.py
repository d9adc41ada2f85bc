"""Reads of the metrics store: tallies, error codes and `sms_metrics` over any range.

A query over [start, end) reads whole hours from `metrics_hour`, whole minutes from
`metrics_minute`, and the rest (partial minutes, minutes not rolled up yet) from the
ledger's raw attempts, so it always equals what the raw attempts say. Hourly series
over more than a day read their whole hours from the week series
(`metrics_week_series`, a week of one series to a row) instead of `metrics_hour`.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smsfleet.core.quantiles import add_bins
from smsfleet.core.sql import aware_utc, naive_utc
from smsfleet.metrics.buckets import HOUR, Source, ceil_to, epoch, floor_to, plan, time_bucket
from smsfleet.metrics.queries import errors_query, read_bins, read_tallies, rolled_until
from smsfleet.metrics.series import BLANK_HOUR, FIELDS, WEEK, unpack
from smsfleet.metrics.tables import metrics_week_series_table, sms_metrics_table
from smsfleet.metrics.tally import BucketedKey, GroupKey, Tally

__all__ = ["HourlySeries", "MetricsStore", "SmsMetricRow"]


@dataclass(frozen=True)
class SmsMetricRow:
    timestamp: datetime
    country: str
    operator: str
    sms_sent: int
    success_rate: float | None  # None: the minute judged nothing (all broken off)
    failures: int


@dataclass
class HourlySeries:
    """Hourly figures of a range by a grouping: its whole rolled-up hours from the week
    series (`values`: per key, `FIELDS` integers an hour from `first`, `hours` of them;
    `smsfleet.metrics.series`), the rest (partial hours, hours not rolled up yet) as
    tallies by hour bucket with the coarse histogram only."""

    first: int
    hours: int
    values: dict[str, array[int]] = field(default_factory=dict)
    tallies: dict[BucketedKey, Tally] = field(default_factory=dict)


class MetricsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def rolled_until(self) -> datetime | None:
        with self.engine.connect() as connection:
            return rolled_until(connection)

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
            for source, a, b in plan(start, end, rolled_until(connection), hours=hours):
                self._add_tallies(
                    connection, result, source, a, b, group, step, key, fine_latencies
                )
        return result

    def hourly_series(
        self, *, start: datetime, end: datetime, kind: str, group: Sequence[str], key: str | None
    ) -> HourlySeries:
        """Figures by hour over [start, end) (whole hours apart from its ends) by a
        grouping: `kind` names its week series, `group` its tally columns."""
        result = HourlySeries(epoch(ceil_to(start, HOUR)), 0)
        with self.engine.connect() as connection:
            for source, a, b in plan(start, end, rolled_until(connection), hours=True):
                if source != "hour":
                    self._add_tallies(connection, result.tallies, source, a, b, group, HOUR, key)
                    continue
                result.first, result.hours = epoch(a), int((b - a) / HOUR)
                result.values = _read_week_series(connection, kind, key, a, b)
        return result

    @staticmethod
    def _add_tallies(
        connection: Connection,
        result: dict[BucketedKey, Tally],
        source: Source,
        start: datetime,
        end: datetime,
        group: Sequence[str],
        step: timedelta | None,
        key: str | None,
        fine_latencies: bool = False,
    ) -> None:
        if source == "hour" and tuple(group) in ((), ("country",)):
            source = "hour_country"
        for where, tally in read_tallies(connection, source, start, end, group, step, key).items():
            result.setdefault(where, Tally()).add(tally)
        if not fine_latencies:
            return
        for (bucket, group_key), bins in read_bins(
            connection, source, start, end, group, step, key
        ).items():
            add_bins(result.setdefault((bucket, group_key), Tally()).bins, bins)

    def error_codes(
        self, *, start: datetime, end: datetime, group: Sequence[str], key: str | None = None
    ) -> dict[GroupKey, dict[str, int]]:
        result: dict[GroupKey, dict[str, int]] = {}
        with self.engine.connect() as connection:
            for source, a, b in plan(start, end, rolled_until(connection), hours=True):
                for row in connection.execute(errors_query(source, a, b, group, None, key)):
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
            SmsMetricRow(
                aware_utc(at),
                country,
                operator,
                sent,
                None if rate is None else float(rate),
                failures,
            )
            for at, country, operator, sent, rate, failures in rows
        ]


def _read_week_series(
    connection: Connection, kind: str, key: str | None, start: datetime, end: datetime
) -> dict[str, array[int]]:
    """Per key with a completed attempt in [start, end) (whole hours), its hours' figures."""
    table = metrics_week_series_table
    # The week as epoch seconds (a week starts on a whole hour): no datetime made for
    # each row.
    week_seconds = time_bucket(table.c.week, HOUR)
    query = sa.select(week_seconds, table.c.group_key, table.c.hours).where(
        table.c.kind == kind,
        table.c.week >= naive_utc(floor_to(start, WEEK)),
        table.c.week < naive_utc(ceil_to(end, WEEK)),
    )
    if key is not None:
        query = query.where(table.c.group_key == key)
    first, last = epoch(start), epoch(end)
    hour = int(HOUR.total_seconds())
    empty = array("i", BLANK_HOUR) * ((last - first) // hour)
    result: dict[str, array[int]] = {}
    for week, name, blob in connection.execute(query):
        values = unpack(blob)
        week_first = int(week)
        # The part of the week inside [first, last), as indexes into its values and ours.
        lower = max(first, week_first)
        upper = min(last, week_first + len(values) // FIELDS * hour)
        if lower >= upper:
            continue
        series = result.get(name)
        if series is None:
            series = result[name] = array("i", empty)
        ours, theirs = (lower - first) // hour * FIELDS, (lower - week_first) // hour * FIELDS
        size = (upper - lower) // hour * FIELDS
        series[ours : ours + size] = values[theirs : theirs + size]
    return {name: values for name, values in result.items() if values != empty}
