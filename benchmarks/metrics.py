"""Metrics figures on MariaDB: ingest rate, the 30-day hourly trend, the 24-hour summary.

    .venv/bin/python benchmarks/metrics.py [--raw 10000000] [--ingest 50000] [--batch 1000]

- ingest: completed attempts stored through `MetricsService.ingest` in batches
  (one multi-row INSERT per batch), counters and listeners included.
- data: 600 series (200 pairs x 3 programs). Raw attempts over the 14 retained days
  are made by doubling with `INSERT ... SELECT` (each copy shifted back in time);
  their minute and hour rollups are folded by the server with the same sums the
  rollup job computes; hour rollups of days 15-30 (raw already purged) are generated,
  then all hours are folded per country (`metrics_hour_country`) as the job does, and
  on to the week series (`metrics_week_series`) by the code the job and migration 0013
  use. The rollup job itself then re-rolls the last two hours (timed).
- queries: the 24-hour summary by pair, and the 30-day hourly trend (step 1h) for the
  fleet and per series, through the service, median of 5 after a warm-up; the by-pair
  trend also as the JSON the API sends (the service's answer serialised).

A scratch database on the local MariaDB server is dropped at the end.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore, attempts_table
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.metrics.models import LATENCY_BUCKETS_MS, Timeseries
from smsfleet.metrics.rollups import Rollups
from smsfleet.metrics.service import MetricsService
from smsfleet.metrics.store import MetricsStore
from smsfleet.metrics.tables import (
    COUNTER_COLUMNS,
    HISTOGRAM_COLUMNS,
    metrics_hour_country_table,
    metrics_hour_table,
    metrics_minute_table,
    metrics_state_table,
    metrics_week_series_table,
)
from smsfleet.stores import open_config_store
from tests.support.backends import mariadb_database
from tests.support.fakes import FakeClock

# ruff: noqa: S608  (SQL text below is built from this script's constants, never input)

COUNTRIES = 50
OPERATORS = 4
PROGRAMS = 3
SEED_PER_SERIES = 16
RETAINED = timedelta(days=14)
TREND = timedelta(days=30)
NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)


def series() -> list[tuple[str, str, str, str]]:
    """(country, operator, pair, program) of the 600 series."""
    result = []
    for c in range(COUNTRIES):
        country = chr(65 + c // 26) + chr(65 + c % 26)
        for o in range(OPERATORS):
            for p in range(PROGRAMS):
                result.append((country, f"op{o}", f"{country}_op{o}", f"program{p + 1}"))
    return result


def timed(function: Callable[[], Any], runs: int = 5) -> float:
    function()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def attempt(
    index: int, route: tuple[str, str, str, str], at: datetime, *, id_: str | None = None
) -> Attempt:
    country, operator, pair, program = route
    outcome = (Outcome.delivered, Outcome.delivered, Outcome.not_delivered, Outcome.error)[
        index % 4
    ]
    return Attempt(
        id=id_ or f"{index:032x}",
        session=f"{program}_{pair}",
        pair=pair,
        country=country,
        operator=operator,
        program=program,
        phone="+10000000000",
        leased_at=at - timedelta(seconds=20),
        sent_at=at - timedelta(seconds=10),
        completed_at=at,
        outcome=outcome,
        latency_ms=(index * 37) % 20_000 if outcome is Outcome.delivered else None,
        error_code="E_GATEWAY" if outcome is Outcome.error else None,
    )


def bench_ingest(service: MetricsService, count: int, batch: int) -> float:
    routes = series()
    at = NOW - RETAINED - timedelta(days=1)  # outside every measured window
    batches = [
        [attempt(i, routes[i % len(routes)], at) for i in range(first, min(count, first + batch))]
        for first in range(0, count, batch)
    ]
    started = time.perf_counter()
    for attempts in batches:
        service.ingest(attempts)
    elapsed = time.perf_counter() - started
    with service.store.engine.begin() as connection:
        connection.execute(attempts_table.delete())
    return count / elapsed


def _shifted(column: str, seconds: int) -> str:
    return f"{column} - INTERVAL {seconds} SECOND"


def generate_raw(engine: sa.Engine, target: int) -> int:
    routes = series()
    rounds = max(0, round(math.log2(max(1, target / (len(routes) * SEED_PER_SERIES)))))
    width = RETAINED / (2**rounds)
    seeds = []
    index = 0
    for route in routes:
        for k in range(SEED_PER_SERIES):
            at = NOW - width + width * (k + 0.5) / SEED_PER_SERIES - timedelta(seconds=40)
            seeds.append(attempt(index, route, at, id_=f"{index:06x}".ljust(32, "0")))
            index += 1
    AttemptStore(engine).add_many(seeds)
    moments = ("leased_at", "sent_at", "delivered_at", "completed_at")
    for number in range(rounds):
        seconds = int(width.total_seconds() * 2**number)
        columns = [c.name for c in attempts_table.columns]
        selected = [
            # The round's tag in front, the lineage shifted right: ids stay unique and
            # each copy lands in key order at the end of the primary key, not at random.
            f"CONCAT('{number + 0x10:02x}', LEFT(id, 30))"
            if name == "id"
            else _shifted(name, seconds)
            if name in moments
            else name
            for name in columns
        ]
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"INSERT INTO attempts ({', '.join(columns)}) "
                f"SELECT {', '.join(selected)} FROM attempts"
            )
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT COUNT(*) FROM attempts").scalar_one())


def _fold_sql(target: str, source: str, moment: str, floor_seconds: bool, since: datetime) -> str:
    """The server-side form of the rollup job's sums (raw → minute, or minute → hour)."""
    floor = (
        f"{moment} - INTERVAL MICROSECOND({moment}) MICROSECOND - INTERVAL SECOND({moment}) SECOND"
    )
    if not floor_seconds:
        floor += f" - INTERVAL MINUTE({moment}) MINUTE"
    counters = [
        "delivered",
        "not_delivered",
        "send_failed",
        "error",
        "latency_sum_ms",
        "latency_count",
        *HISTOGRAM_COLUMNS,
    ]
    if source == "attempts":
        timed = "outcome = 'delivered' AND latency_ms IS NOT NULL"
        sums = [f"SUM(outcome = '{name}')" for name in counters[:4]]
        sums += [f"SUM(IF({timed}, latency_ms, 0))", f"SUM({timed})"]
        lower = None
        for bound in LATENCY_BUCKETS_MS:
            low = f" AND latency_ms > {lower}" if lower is not None else ""
            sums.append(f"SUM({timed} AND latency_ms <= {bound}{low})")
            lower = bound
        sums.append(f"SUM({timed} AND latency_ms > {lower})")
        where = "outcome IS NOT NULL AND "
    else:
        sums = [f"SUM({name})" for name in counters]
        where = ""
    start = since.replace(tzinfo=None).isoformat(sep=" ")
    return (
        f"INSERT INTO {target} (bucket, pair, program, country, operator, {', '.join(counters)}) "
        f"SELECT {floor}, pair, program, country, operator, {', '.join(sums)} FROM {source} "
        f"WHERE {where}{moment} >= '{start}' GROUP BY 1, pair, program, country, operator"
    )


def generate_rollups(engine: sa.Engine) -> None:
    rolled = NOW.replace(second=0) - timedelta(minutes=1)
    with engine.begin() as connection:
        # Minutes for the last 26 hours (older minutes only feed hours).
        connection.exec_driver_sql(
            _fold_sql("metrics_minute", "attempts", "completed_at", True, NOW - timedelta(hours=26))
        )
        connection.exec_driver_sql(
            f"DELETE FROM metrics_minute WHERE bucket >= '{rolled.replace(tzinfo=None)}'"
        )
        connection.exec_driver_sql(
            _fold_sql("metrics_hour", "attempts", "completed_at", False, NOW - RETAINED)
        )
        # Hours of days 15-30, whose raw attempts were purged: 600 series x 384 hours.
        first_hour = (NOW - TREND).replace(minute=0, second=0, microsecond=0)
        connection.exec_driver_sql("CREATE TEMPORARY TABLE bench_hours (n INT PRIMARY KEY)")
        hours = int(((NOW - RETAINED) - first_hour) / timedelta(hours=1))
        connection.execute(
            sa.text("INSERT INTO bench_hours (n) VALUES (:n)"), [{"n": n} for n in range(hours)]
        )
        counters = ", ".join(
            ["not_delivered", "send_failed", "error", "latency_count", *HISTOGRAM_COLUMNS]
        )
        connection.exec_driver_sql(
            f"INSERT INTO metrics_hour (bucket, pair, program, country, operator, delivered, "
            f"latency_sum_ms, {counters}) "
            f"SELECT '{first_hour.replace(tzinfo=None)}' + INTERVAL h.n HOUR, s.pair, s.program, "
            f"s.country, s.operator, 30, 0, {', '.join('0' for _ in counters.split(', '))} "
            f"FROM bench_hours h CROSS JOIN (SELECT DISTINCT pair, program, country, operator "
            f"FROM metrics_hour) s"
        )
        # Hours per country, as the rollup job folds them from the hour rows.
        connection.exec_driver_sql(
            f"INSERT INTO metrics_hour_country (bucket, country, {', '.join(COUNTER_COLUMNS)}) "
            f"SELECT bucket, country, {', '.join(f'SUM({c})' for c in COUNTER_COLUMNS)} "
            "FROM metrics_hour GROUP BY bucket, country"
        )
        connection.execute(
            metrics_state_table.insert(),
            [
                {"name": "rolled_until", "at": rolled.replace(tzinfo=None)},
                {"name": "purged_until", "at": (NOW - RETAINED).replace(tzinfo=None)},
            ],
        )


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw", type=int, default=10_000_000, help="raw attempts to store")
    parser.add_argument("--ingest", type=int, default=50_000, help="attempts to ingest")
    parser.add_argument("--batch", type=int, default=2_000, help="attempts per ingest batch")
    args = parser.parse_args()

    print(
        f"machine: {platform.node()} {platform.machine()}, {platform.processor() or '?'}; "
        f"Python {platform.python_version()}"
    )
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory() as scratch, mariadb_database() as url:
        engine = create_sql_engine(url)
        config = open_config_store(f"sqlite:///{scratch}/config.db")
        try:
            upgrade_metrics_schema(engine)
            with engine.connect() as connection:
                version = connection.exec_driver_sql("SELECT VERSION()").scalar_one()
            print(f"MariaDB {version}")
            clock = FakeClock(NOW)
            service = MetricsService(
                store=MetricsStore(engine),
                rollups=Rollups(engine),
                attempts=AttemptStore(engine),
                config_store=config,
                clock=clock,
            )
            rate = bench_ingest(service, args.ingest, args.batch)
            print(
                f"ingest: {rate:,.0f} attempts/s ({args.ingest:,} in batches of {args.batch}; "
                "target >= 5,000)"
            )

            started = time.perf_counter()
            raw = generate_raw(engine, args.raw)
            took = time.perf_counter() - started
            print(f"generated {raw:,} raw attempts over 14 days in {took:.0f} s")
            started = time.perf_counter()
            generate_rollups(engine)
            print(
                f"folded rollups server-side in {time.perf_counter() - started:.0f} s: "
                f"{count(engine, metrics_minute_table):,} minute rows, "
                f"{count(engine, metrics_hour_table):,} hour rows, "
                f"{count(engine, metrics_hour_country_table):,} country-hour rows"
            )
            started = time.perf_counter()
            service.rollups.refold_series(start=NOW - TREND - timedelta(days=1), end=NOW)
            print(
                f"folded the week series from the hour rollups in "
                f"{time.perf_counter() - started:.0f} s: "
                f"{count(engine, metrics_week_series_table):,} week rows"
            )
            started = time.perf_counter()
            minutes = service.rollups.rollup(
                start=NOW - timedelta(hours=2), end=NOW - timedelta(minutes=1)
            )
            print(
                f"rollup job re-rolled the last 2 hours ({minutes:,} minute rows) in "
                f"{time.perf_counter() - started:.2f} s"
            )

            def trend(**grouping: str) -> object:
                return service.timeseries(window="30d", step="1h", **grouping)

            summary = service.summary(window="24h", group_by="pair")
            print(
                f"24-hour summary by pair: {len(summary.groups)} groups, "
                f"{summary.totals.completed:,} attempts: "
                f"{timed(lambda: service.summary(window='24h', group_by='pair')):.0f} ms "
                "(target <= 300 ms)"
            )
            print(
                "30-day hourly trend, fleet total (720 points): "
                f"{timed(lambda: service.timeseries(window='30d', step='1h')):.0f} ms "
                "(target <= 200 ms)"
            )
            print(
                "30-day hourly trend, one series (720 points): "
                f"{timed(lambda: trend(group_by='pair', key='AA_op0')):.0f} ms"
            )
            print(
                "30-day hourly trend, by country (50 series x 720 points): "
                f"{timed(lambda: trend(group_by='country'), 3):.0f} ms"
            )
            print(
                "30-day hourly trend, by pair (200 series x 720 points): "
                f"{timed(lambda: trend(group_by='pair'), 3):.0f} ms"
            )
            by_pair = trend(group_by="pair")
            assert isinstance(by_pair, Timeseries)
            print(
                "  the same answer serialised to JSON as the API sends it: "
                f"{timed(by_pair.model_dump_json, 3):.0f} ms "
                f"({len(by_pair.model_dump_json()) / 1e6:.1f} MB)"
            )
        finally:
            config.close()
            engine.dispose()


if __name__ == "__main__":
    main()
