"""Reads of the metrics store: tallies, error codes and `sms_metrics` over any range.

A query over [start, end) reads whole hours from `metrics_hour`, whole minutes from
`metrics_minute`, and the rest (partial minutes, minutes not rolled up yet) from the
ledger's raw attempts, so it always equals what the raw attempts say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.quantiles import add_bins
from smsfleet.core.sql import aware_utc, naive_utc
from smsfleet.metrics.buckets import HOUR, epoch, plan
from smsfleet.metrics.queries import errors_query, read_bins, rolled_until, tally_query
from smsfleet.metrics.tables import sms_metrics_table
from smsfleet.metrics.tally import BucketedKey, GroupKey, Tally

__all__ = ["MetricsStore", "SmsMetricRow"]


@dataclass(frozen=True)
class SmsMetricRow:
    timestamp: datetime
    country: str
    operator: str
    sms_sent: int
    success_rate: float
    failures: int


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
                if source == "hour" and tuple(group) in ((), ("country",)):
                    source = "hour_country"
                query = tally_query(source, a, b, group, step, key)
                for row in connection.execute(query):
                    bucket = epoch(row[0]) if step is not None else None
                    offset = 1 if step is not None else 0
                    group_key = tuple(row[offset : offset + len(group)])
                    tally = Tally.from_values(row[offset + len(group) :])
                    result.setdefault((bucket, group_key), Tally()).add(tally)
                if not fine_latencies:
                    continue
                for (bucket, group_key), bins in read_bins(
                    connection, source, a, b, group, step, key
                ).items():
                    add_bins(result.setdefault((bucket, group_key), Tally()).bins, bins)
        return result

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
            SmsMetricRow(aware_utc(at), country, operator, sent, float(rate), failures)
            for at, country, operator, sent, rate, failures in rows
        ]
