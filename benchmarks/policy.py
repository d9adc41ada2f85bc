"""Policy figures: one evaluation of the whole fleet, on SQLite and on MariaDB.

    .venv/bin/python benchmarks/policy.py [--pairs 600] [--per-minute 2] [--hours 4]

- data: `--pairs` pairs (normal priority, one in ten high priority), each with
  completed attempts every `60 / --per-minute` seconds over the last `--hours`
  hours; two pairs in ten (one normal, one high priority) fail for the last 30 minutes.
- first evaluation: every failing pair is paused or held (decisions written, pair
  states changed, one by one through the config store).
- steady evaluation: nothing changes (median of 5 after a warm-up).

The config store is a SQLite file; the metrics store a SQLite file, then a scratch
database on the local MariaDB server (dropped at the end).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.settings import Settings
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.pairs.models import Country, Pair
from smsfleet.policy.service import PolicyConfig, PolicyService
from smsfleet.policy.store import PolicyStore
from smsfleet.stores import ConfigStore, open_config_store
from tests.support.backends import mariadb_database
from tests.support.fakes import FakeClock

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BATCH = 5_000


def make_pairs(store: ConfigStore, count: int) -> list[Pair]:
    pairs = []
    countries = sorted({f"{chr(65 + n // 26)}{chr(65 + n % 26)}" for n in range(count // 12 + 1)})
    for code in countries:
        store.countries.add(Country(code=code, name=code, cap=60))
    for index in range(count):
        country = countries[index // 12]
        pair = Pair(
            key=f"{country}_op{index}",
            country=country,
            operator=f"op{index}",
            slug=f"op{index}",
            is_high_priority=index % 10 == 3,
            state_actor="admin",
            state_changed_at=NOW - timedelta(days=30),
            phone_numbers=["+10000000000"],
            created_at=NOW - timedelta(days=30),
            updated_at=NOW - timedelta(days=30),
        )
        store.pairs.add(pair)
        pairs.append(pair)
    return pairs


def feed(engine_url: str, pairs: list[Pair], per_minute: int, hours: int) -> int:
    engine = create_sql_engine(engine_url)
    upgrade_metrics_schema(engine)
    store = AttemptStore(engine)
    step = timedelta(seconds=60 / per_minute)
    steps = int(timedelta(hours=hours) / step)
    failing_since = NOW - timedelta(minutes=30)
    batch: list[Attempt] = []
    count = 0
    for number, pair in enumerate(pairs):
        for k in range(steps):
            at = NOW - step * k - timedelta(seconds=number % 30)
            failing = number % 10 in (0, 3) and at > failing_since
            batch.append(
                Attempt(
                    id=f"{count:032x}",
                    session=f"program1_{pair.key}",
                    pair=pair.key,
                    country=pair.country,
                    operator=pair.slug,
                    program="program1",
                    phone="+10000000000",
                    leased_at=at - timedelta(seconds=5),
                    completed_at=at,
                    outcome=Outcome.not_delivered if failing else Outcome.delivered,
                )
            )
            count += 1
            if len(batch) == BATCH:
                store.add_many(batch)
                batch = []
    store.add_many(batch)
    engine.dispose()
    return count


def run(label: str, metrics_url: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = open_config_store(f"sqlite:///{scratch}/config.db")
        try:
            pairs = make_pairs(config, args.pairs)
            attempts = feed(metrics_url, pairs, args.per_minute, args.hours)
            engine = create_sql_engine(metrics_url)
            service = PolicyService(
                store=PolicyStore(engine),
                attempts=AttemptStore(engine),
                config_store=config,
                clock=FakeClock(NOW),
                config=PolicyConfig.from_settings(Settings(data_dir=Path(scratch)).policy),
            )
            started = time.perf_counter()
            first = service.evaluate()
            first_ms = (time.perf_counter() - started) * 1000
            service.evaluate()  # warm-up
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                steady = service.evaluate()
                samples.append((time.perf_counter() - started) * 1000)
                assert steady.decisions == []
            engine.dispose()
        finally:
            config.close()
    print(
        f"{label}: {args.pairs} pairs, {attempts:,} attempts; first evaluation "
        f"({len(first.decisions)} decisions) {first_ms:.0f} ms; steady evaluation "
        f"{statistics.median(samples):.0f} ms (median of 5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--per-minute", type=int, default=2)
    parser.add_argument("--hours", type=int, default=4)
    args = parser.parse_args()
    print(f"{platform.machine()}, Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}")
    with tempfile.TemporaryDirectory() as scratch:
        run("SQLite", f"sqlite:///{scratch}/metrics.db", args)
    with mariadb_database() as url:
        run("MariaDB", url, args)


if __name__ == "__main__":
    main()
