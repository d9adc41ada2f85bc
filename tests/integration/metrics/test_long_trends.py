"""Hourly trends over more than a day (read from the week series, `metrics_week_series`)
equal the raw attempts, point by point, on SQLite and MariaDB: before any rollup,
partly rolled up, fully rolled up, after an old hour is rolled up again, and after
migration 0015 fills the series from the hour rollups (and counts the attempts broken
off apart in the stored rollups)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.attempts.models import BROKEN_OFF_CODES, Attempt, Outcome, is_broken_off
from smsfleet.attempts.store import attempts_table
from smsfleet.metrics.buckets import HOUR, MINUTE, floor_to
from smsfleet.metrics.models import LATENCY_BUCKETS_MS, Timeseries
from smsfleet.metrics.series import bucketed_percentile
from smsfleet.metrics.tables import (
    metrics_hour_country_table,
    metrics_hour_table,
    metrics_minute_table,
    metrics_week_series_table,
)
from tests.support.metrics_fleet import Fleet
from tests.support.metrics_stores import migrate_metrics

T0 = datetime.fromisoformat("2026-01-09T12:00:00+00:00")
START = T0 - timedelta(hours=50)  # the week series' weeks turn at Thursday 8 January 00:00
# Over a day, so the long-trend read; both ends inside an hour.
FIRST, LAST = START + timedelta(minutes=17, seconds=3), T0 - timedelta(minutes=7)
GROUPINGS: dict[str | None, Callable[[Attempt], str]] = {
    None: lambda attempt: "all",
    "country": lambda attempt: attempt.country,
    "pair": lambda attempt: attempt.pair,
    "program": lambda attempt: attempt.program,
}
Figures = tuple[int, int, int, int, int, float | None, int | None]


def _coarse(latency: int) -> int:
    """The coarse histogram bucket of a latency: (lower, upper]."""
    return next(
        (i for i, bound in enumerate(LATENCY_BUCKETS_MS) if latency <= bound),
        len(LATENCY_BUCKETS_MS),
    )


def expected(
    attempts: list[Attempt], grouping: str | None, start: datetime, end: datetime
) -> dict[str, dict[datetime, Figures]]:
    """Per key and hour: sent (broken off after sending too), delivered, failed,
    completed, granted (by lease time), success rate, p95 (coarse)."""
    counts: dict[str, dict[datetime, list[int]]] = {}
    first = floor_to(start, HOUR)  # a trend's first point starts on the hour

    def row_of(attempt: Attempt, at: datetime) -> list[int]:
        hours = counts.setdefault(GROUPINGS[grouping](attempt), {})
        return hours.setdefault(floor_to(at, HOUR), [0] * (6 + len(LATENCY_BUCKETS_MS) + 1))

    for attempt in attempts:
        assert attempt.completed_at is not None and attempt.outcome is not None
        if first <= attempt.leased_at < end:
            row_of(attempt, attempt.leased_at)[4] += 1
        if not first <= attempt.completed_at < end:
            continue
        if is_broken_off(attempt.outcome, attempt.error_code):
            if attempt.sent_at is not None:
                row_of(attempt, attempt.completed_at)[5] += 1
            continue
        row = row_of(attempt, attempt.completed_at)
        row[
            ["delivered", "not_delivered", "send_failed", "error"].index(attempt.outcome.value)
        ] += 1
        if attempt.outcome is Outcome.delivered and attempt.latency_ms is not None:
            row[6 + _coarse(attempt.latency_ms)] += 1
    result: dict[str, dict[datetime, Figures]] = {}
    for key, hours in counts.items():
        for hour, (
            delivered,
            not_delivered,
            send_failed,
            error,
            granted,
            broken_off_sent,
            *histogram,
        ) in hours.items():
            completed = delivered + not_delivered + send_failed + error
            result.setdefault(key, {})[hour] = (
                delivered + not_delivered + broken_off_sent,
                delivered,
                send_failed + error,
                completed,
                granted,
                delivered / completed if completed else None,
                bucketed_percentile(histogram, 0.95),
            )
    return result


def check(trend: Timeseries, want: dict[str, dict[datetime, Figures]], keys: set[str]) -> None:
    assert {series.key for series in trend.series} == keys
    first = floor_to(trend.start, HOUR)
    hours = int((trend.end - first) / HOUR) + (1 if (trend.end - first) % HOUR else 0)
    for series in trend.series:
        assert [point.t for point in series.points] == [first + i * HOUR for i in range(hours)]
        for point in series.points:
            figures = (
                point.sent,
                point.delivered,
                point.failed,
                point.completed,
                point.granted,
                point.success_rate,
                point.latency_p95_ms,
            )
            zero = (0, 0, 0, 0, 0, None, None)
            assert figures == want.get(series.key, {}).get(point.t, zero), (series.key, point.t)


def trends(fleet: Fleet) -> list[Timeseries]:
    service = fleet.metrics.service
    result = [
        service.timeseries(start=FIRST, end=LAST, step="1h", group_by=grouping)
        for grouping in GROUPINGS
    ]
    for key in ("UZ_beeline", "XX_none"):
        result.append(
            service.timeseries(start=FIRST, end=LAST, step="1h", group_by="pair", key=key)
        )
    return result


def check_all(fleet: Fleet, attempts: list[Attempt]) -> list[Timeseries]:
    answers = trends(fleet)
    for grouping, trend in zip(GROUPINGS, answers, strict=False):
        want = expected(attempts, grouping, FIRST, LAST)
        check(trend, want, set(want) if grouping else {"all"})
    by_pair = expected(attempts, "pair", FIRST, LAST)
    check(answers[-2], {"UZ_beeline": by_pair["UZ_beeline"]}, {"UZ_beeline"})
    check(answers[-1], {}, {"XX_none"})
    return answers


def test_long_hourly_trends_equal_the_raw_attempts(fleet: Fleet) -> None:
    attempts = fleet.random_attempts(1_500, start=START, span=timedelta(hours=50))
    service = fleet.metrics.service
    service.ingest(attempts)
    fleet.clock.current = T0 + timedelta(seconds=30)
    raw_only = check_all(fleet, attempts)

    fleet.clock.current = T0 - timedelta(hours=20, minutes=13)
    fleet.metrics.job.run_once()  # rolled up to the middle: week series, then raw
    fleet.clock.current = T0 + timedelta(seconds=30)
    assert check_all(fleet, attempts) == raw_only

    fleet.metrics.job.run_once()
    assert service.store.rolled_until() == T0
    with service.store.engine.connect() as connection:
        kinds = connection.execute(sa.select(metrics_week_series_table.c.kind).distinct())
        assert set(kinds.scalars()) == {"fleet", "country", "pair", "program"}
    assert check_all(fleet, attempts) == raw_only

    # A late attempt in old hours (of a pair, country and program seen nowhere else:
    # leased in one hour, reported in the next), rolled up again: only those hours of
    # its week change.
    late = fleet.attempt(
        "KZ_kcell", "program3", Outcome.delivered, T0 - timedelta(hours=30), latency_ms=777
    )
    again = {"start": T0 - timedelta(hours=30, minutes=1), "end": T0 - timedelta(hours=29)}
    service.ingest([late])
    service.rollups.rollup(**again)
    check_all(fleet, [*attempts, late])
    # Gone from the ledger and rolled up again: the hours no longer count it.
    with service.store.engine.begin() as connection:
        connection.execute(attempts_table.delete().where(attempts_table.c.id == late.id))
    service.rollups.rollup(**again)
    assert check_all(fleet, attempts) == raw_only


def test_migrating_from_before_the_week_series_fills_them_from_the_hour_rollups(
    fleet: Fleet,
) -> None:
    attempts = fleet.random_attempts(1_500, start=START, span=timedelta(hours=50))
    service = fleet.metrics.service
    service.ingest(attempts)
    fleet.clock.current = T0 + timedelta(seconds=30)
    fleet.metrics.job.run_once()
    table = metrics_week_series_table
    engine = service.store.engine

    def stored() -> list[tuple[object, ...]]:
        with engine.connect() as connection:
            query = sa.select(table).order_by(table.c.week, table.c.kind, table.c.group_key)
            return [tuple(row) for row in connection.execute(query)]

    written = stored()
    assert written
    try:
        migrate_metrics(engine, "0012", down=True)
        with engine.connect() as connection:
            assert table.name not in sa.inspect(connection).get_table_names()
    finally:
        migrate_metrics(engine, "head")
    fleet.metrics.job.run_once()  # counts the grants of the attempts kept (0018)
    assert stored() == written
    check_all(fleet, attempts)


ROLLUPS = (metrics_minute_table, metrics_hour_table, metrics_hour_country_table)


def stored(engine: Engine) -> list[list[tuple[object, ...]]]:
    """Every row of the rollups and the week series, in key order."""
    with engine.connect() as connection:
        return [
            [
                tuple(row)
                for row in connection.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in (*ROLLUPS, metrics_week_series_table)
        ]


def summed(engine: Engine, column: str) -> list[int]:
    """A counter column summed over each rollup table."""
    with engine.connect() as connection:
        return [
            int(connection.execute(sa.select(sa.func.sum(table.c[column]))).scalar_one())
            for table in ROLLUPS
        ]


def test_migration_0015_counts_stored_attempts_broken_off_apart(fleet: Fleet) -> None:
    """Rollups stored before 0015 counted attempts broken off as errors; 0015 counts
    them apart, as the rollup job now does, and refolds the week series."""
    attempts = fleet.random_attempts(1_500, start=START, span=timedelta(hours=50))
    codes = sorted(BROKEN_OFF_CODES)
    broken_off = [
        fleet.attempt(
            attempt.pair,
            attempt.program,
            Outcome.error,
            (attempt.completed_at or T0) + timedelta(seconds=1),
            error_code=codes[index % len(codes)],
        )
        for index, attempt in enumerate(attempts[::7])
    ]
    service = fleet.metrics.service
    service.ingest([*attempts, *broken_off])
    fleet.clock.current = T0 + timedelta(seconds=30)
    fleet.metrics.job.run_once()
    engine = service.store.engine

    written = stored(engine)
    errors_of_routes = sum(attempt.outcome is Outcome.error for attempt in attempts)
    assert summed(engine, "error") == [errors_of_routes] * 3
    try:
        migrate_metrics(engine, "0014", down=True)
        # As stored before: every error counted as one, and no week series filled yet.
        assert summed(engine, "error") == [errors_of_routes + len(broken_off)] * 3
        with engine.begin() as connection:
            for table in ROLLUPS:
                columns = {c["name"] for c in sa.inspect(connection).get_columns(table.name)}
                assert "broken_off" not in columns
            connection.execute(metrics_week_series_table.delete())
    finally:
        migrate_metrics(engine, "head")
    fleet.metrics.job.run_once()  # counts the grants of the attempts kept (0018)
    assert stored(engine) == written
    check_all(fleet, [*attempts, *broken_off])


def test_migration_0018_counts_the_grants_of_the_attempts_kept(fleet: Fleet) -> None:
    """Rollups stored before 0018 had no grants, and week series 4 figures an hour; 0018
    adds them, sends the rollup job back over the attempts kept, and refolds the week
    series. Its downgrade gives the series back their 4 figures."""
    attempts = fleet.random_attempts(1_500, start=START, span=timedelta(hours=50))
    service = fleet.metrics.service
    service.ingest(attempts)
    fleet.clock.current = T0 + timedelta(seconds=30)
    fleet.metrics.job.run_once()
    engine = service.store.engine

    written = stored(engine)
    assert summed(engine, "granted") == [len(attempts)] * 3
    try:
        migrate_metrics(engine, "0017", down=True)
        with engine.connect() as connection:
            blobs = connection.execute(sa.select(metrics_week_series_table.c.hours)).scalars()
            assert {len(blob) for blob in blobs} == {168 * 4 * 4}
    finally:
        migrate_metrics(engine, "head")
    assert service.store.rolled_until() == floor_to(min(a.leased_at for a in attempts), MINUTE)
    # Read from the raw attempts until the job has rolled them up again.
    check_all(fleet, attempts)
    fleet.metrics.job.run_once()
    assert stored(engine) == written
    check_all(fleet, attempts)


@pytest.mark.parametrize("grouping", [None, "pair"])
def test_a_long_trend_without_rollups_or_attempts_has_zero_points(
    fleet: Fleet, grouping: str | None
) -> None:
    fleet.clock.current = T0
    trend = fleet.metrics.service.timeseries(window="7d", step="1h", group_by=grouping)
    assert [series.key for series in trend.series] == ([] if grouping else ["all"])
    for series in trend.series:
        assert len(series.points) == 7 * 24
        assert {(p.completed, p.success_rate, p.latency_p95_ms) for p in series.points} == {
            (0, None, None)
        }
