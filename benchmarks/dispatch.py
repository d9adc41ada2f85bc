"""Limiter decisions per second on this machine: SQL (SQLite, MariaDB) and Redis.

Prints, per backend, for one caller at the default cap (10/min): grants/s (a fake
clock steps one spacing per ask, so every ask is granted: the most the limiter can
hand out) and waits/s (the clock stands still, so every ask is answered `wait`,
the common case); then grants/s with several OS processes contending on the real
clock at the highest cap a country may have (10 000/min, i.e. 167/s).

    .venv/bin/python benchmarks/dispatch.py [--asks 2000] [--processes 4]

MariaDB: a scratch database on the local server (dropped after); Redis at
SMSFLEET_TEST_REDIS_URL or redis://127.0.0.1:6379/0 under a random prefix (removed after).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsfleet.core.clock import Clock, SystemClock
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.dispatch._redis_limiter import RedisLimiter
from smsfleet.dispatch._sql_limiter import SqlLimiter
from smsfleet.dispatch.limiter import Ask, Limiter
from tests.support.backends import mariadb_database, random_name

REDIS_URL = os.environ.get("SMSFLEET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CAP = 10  # per minute: the default
HIGHEST_CAP = 10_000  # per minute: 6 ms apart, the most a country may be given
PAIRS = 4


class SteppingClock:
    def __init__(self, step: timedelta) -> None:
        self.current = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self.step = step

    def now(self) -> datetime:
        self.current += self.step
        return self.current


def remove_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def opened(backend: str, url: str, clock: Clock) -> Iterator[Limiter]:
    if backend == "redis":
        prefix = random_name("bench:")
        limiter: Limiter = RedisLimiter.from_url(url, clock=clock, prefix=prefix)
        try:
            yield limiter
        finally:
            limiter.close()
            remove_keys(url, prefix)
        return
    engine = create_sql_engine(url)
    try:
        yield SqlLimiter(engine, clock=clock)
    finally:
        engine.dispose()


def per_second(backend: str, url: str, asks: int, *, step_ms: int) -> float:
    clock = SteppingClock(timedelta(milliseconds=step_ms))
    with opened(backend, url, clock) as limiter:
        started = time.perf_counter()
        for index in range(asks):
            pair = f"UZ_op{index % PAIRS}"
            limiter.acquire(Ask(country="UZ", pair=pair, program="program1", cap=CAP))
        return asks / (time.perf_counter() - started)


def _contend(backend: str, url: str, prefix: str, index: int, seconds: float) -> int:
    clock = SystemClock()
    if backend == "redis":
        limiter: Limiter = RedisLimiter.from_url(url, clock=clock, prefix=prefix)
        engine = None
    else:
        engine = create_sql_engine(url)
        limiter = SqlLimiter(engine, clock=clock)
    ask = Ask(country="UZ", pair=f"UZ_op{index}", program="program1", cap=HIGHEST_CAP)
    granted = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        granted += limiter.acquire(ask).granted
    limiter.close()
    if engine is not None:
        engine.dispose()
    return granted


def contended(backend: str, url: str, processes: int, seconds: float = 3.0) -> float:
    prefix = random_name("bench:")
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        counts = pool.starmap(
            _contend, [(backend, url, prefix, index, seconds) for index in range(processes)]
        )
    if backend == "redis":
        remove_keys(url, prefix)
    return sum(counts) / seconds


def migrated(url: str) -> str:
    engine = create_sql_engine(url)
    upgrade_metrics_schema(engine)
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asks", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, mariadb_database() as mariadb_url:
        backends = {
            "sql-sqlite": migrated(f"sqlite:///{scratch}/metrics.sqlite3"),
            "sql-mariadb": migrated(mariadb_url),
            "redis": REDIS_URL,
        }
        print(f"{'backend':<12} {'grants/s':>9} {'waits/s':>9} {'grants/s, ':>10}")
        print(f"{'':<12} {'1 caller':>9} {'1 caller':>9} {args.processes:>2} processes")
        for name, url in backends.items():
            grants = per_second(name, url, args.asks, step_ms=6_000)
            waits = per_second(name, url, args.asks, step_ms=0)
            together = contended(name, url, args.processes)
            print(f"{name:<12} {grants:>9.0f} {waits:>9.0f} {together:>10.0f}")
        print(
            f"(cap {HIGHEST_CAP}/min = {HIGHEST_CAP / 60:.0f} grants/s at most on the real clock)"
        )


if __name__ == "__main__":
    main()
