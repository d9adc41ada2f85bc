"""Writes of the metrics store: the rollups recomputed from the ledger, and its state."""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smsfleet.attempts import queries as ledger
from smsfleet.core.sql import aware_utc, naive_utc
from smsfleet.metrics.buckets import HOUR, MINUTE, Source, ceil_to, epoch, floor_to, from_epoch
from smsfleet.metrics.queries import errors_query, read_bins, read_tallies, rolled_until, state_of
from smsfleet.metrics.series import (
    BLANK_HOUR,
    FIELDS,
    HOURS_PER_WEEK,
    WEEK,
    empty_week,
    fold_hours,
    pack,
    unpack,
    week_of,
)
from smsfleet.metrics.tables import (
    COUNTER_COLUMNS,
    ROLLUP_KEY,
    STATE_PURGED,
    STATE_ROLLED,
    metrics_hour_country_latency_table,
    metrics_hour_country_table,
    metrics_hour_errors_table,
    metrics_hour_latency_table,
    metrics_hour_table,
    metrics_minute_errors_table,
    metrics_minute_latency_table,
    metrics_minute_table,
    metrics_state_table,
    metrics_week_series_table,
    sms_metrics_table,
)
from smsfleet.metrics.tally import BucketedKey, GroupKey, Tally

__all__ = ["Rollups"]

ROLLUP_CHUNK = timedelta(hours=6)
DAY = timedelta(days=1)


class Rollups:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def rollup(self, *, start: datetime, end: datetime) -> int:
        """Recompute the rollups of the whole minutes in [start, end) from raw attempts.

        Idempotent: a minute rolled up again is replaced, never added twice. Minutes
        whose raw attempts were purged are left as they are. Returns the minute rows
        written.
        """
        start, end = floor_to(start, MINUTE), floor_to(end, MINUTE)
        with self.engine.connect() as connection:
            purged = state_of(connection).get(STATE_PURGED)
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
            rolled = first = rolled_until(connection)
            if rolled is None:  # the first rollup advances from the ledger's first moment
                first = ledger.earliest(connection)
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
            hours = self._recompute(
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
            refold_series(connection, hours, hours_start, hours_end)
            self._write_sms_metrics(connection, minutes, start, end)
            if advances and (rolled is None or end > rolled):
                self._set_state(connection, STATE_ROLLED, end)
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
        tallies = _stepped(read_tallies(connection, source, start, end, ROLLUP_KEY, step, None))
        errors = connection.execute(errors_query(source, start, end, ROLLUP_KEY, step, None)).all()
        bins = read_bins(connection, source, start, end, ROLLUP_KEY, step, None)
        for table in (target, target_errors, target_latency):
            connection.execute(
                table.delete().where(
                    table.c.bucket >= naive_utc(start), table.c.bucket < naive_utc(end)
                )
            )
        rows = [
            {
                "bucket": naive_utc(from_epoch(bucket)),
                **dict(zip(ROLLUP_KEY, key, strict=True)),
                **tally.values(),
            }
            for (bucket, key), tally in tallies.items()
        ]
        if rows:
            connection.execute(target.insert(), rows)
        error_rows = [
            {
                "bucket": naive_utc(from_epoch(int(row[0]))),
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
                "bucket": naive_utc(from_epoch(int(bucket or 0))),
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

    def refold_series(self, *, start: datetime, end: datetime) -> None:
        """Refold the whole hours of `metrics_hour` in [start, end) on to the week series
        (a fill from existing hours; the rollup job refolds the hours it rewrites), a day
        at a time."""
        first, end = floor_to(start, DAY), ceil_to(end, DAY)
        while first < end:
            last = min(first + DAY, end)
            with self.engine.begin() as connection:
                refold_series_from_hours(connection, first, last)
            first = last

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
                "timestamp": naive_utc(from_epoch(bucket)),
                "country": country,
                "operator": operator,
                "sms_sent": tally.sent,
                # A minute whose SMS were all broken off after sending judged nothing: its
                # row says them sent, with no rate.
                "success_rate": tally.delivered / tally.completed if tally.completed else None,
                "failures": tally.failed,
            }
            for (bucket, country, operator), tally in sorted(per_pair.items())
            if tally.completed or tally.sent
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
        with self.engine.connect() as connection:
            rolled = rolled_until(connection)
        return None if rolled is None else min(floor_to(before, MINUTE), rolled)

    def mark_purged(self, cutoff: datetime) -> None:
        """Raw attempts before `cutoff` are gone: rollups stop recomputing those minutes."""
        with self.engine.begin() as connection:
            table = metrics_state_table
            query = sa.select(table.c.at).where(table.c.name == STATE_PURGED)
            purged = connection.execute(query).scalar()
            if purged is None or cutoff > aware_utc(purged):
                self._set_state(connection, STATE_PURGED, cutoff)


def refold_series(
    connection: Connection,
    hours: Mapping[tuple[int, GroupKey], Tally],
    start: datetime,
    end: datetime,
) -> None:
    """Write the hours in [start, end) of the week series from `hours`, the rollup hours
    (epoch, rollup key) of that range; the weeks' other hours stay as they are."""
    table = metrics_week_series_table
    window = (
        table.c.week >= naive_utc(floor_to(start, WEEK)),
        table.c.week < naive_utc(ceil_to(end, WEEK)),
    )
    query = sa.select(table.c.week, table.c.kind, table.c.group_key, table.c.hours).where(*window)
    stored = {
        (epoch(week), kind, key): unpack(blob)
        for week, kind, key, blob in connection.execute(query.with_for_update())
    }
    first, last, hour = epoch(start), epoch(end), int(HOUR.total_seconds())
    blank = array("i", BLANK_HOUR)
    for (week, _, _), values in stored.items():
        for index in range(HOURS_PER_WEEK):
            if first <= week + index * hour < last:
                values[index * FIELDS : (index + 1) * FIELDS] = blank
    for (bucket, (kind, key)), figures in fold_hours(hours).items():
        week = week_of(bucket)
        index = (bucket - week) // hour * FIELDS
        stored.setdefault((week, kind, key), empty_week())[index : index + FIELDS] = array(
            "i", figures
        )
    connection.execute(table.delete().where(*window))
    empty = empty_week()
    rows = [
        {"week": naive_utc(from_epoch(week)), "kind": kind, "group_key": key, "hours": pack(values)}
        for (week, kind, key), values in stored.items()
        if values != empty
    ]
    if rows:
        connection.execute(table.insert(), rows)


def refold_series_from_hours(connection: Connection, start: datetime, end: datetime) -> None:
    """Write the hours in [start, end) of the week series from `metrics_hour`."""
    hours = _stepped(read_tallies(connection, "hour", start, end, ROLLUP_KEY, HOUR, None))
    refold_series(connection, hours, start, end)


def _stepped(tallies: Mapping[BucketedKey, Tally]) -> dict[tuple[int, GroupKey], Tally]:
    """Tallies read by time bucket, keyed by their (epoch) buckets."""
    return {(bucket, key): tally for (bucket, key), tally in tallies.items() if bucket is not None}
