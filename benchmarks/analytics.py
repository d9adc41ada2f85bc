"""Usage analytics figures: what logging a request adds, and the usage queries at scale.

    .venv/bin/python benchmarks/analytics.py [--requests 1000000] [--calls 20000]

1. Added latency: an ASGI app that answers at once, called `--calls` times directly
   (no network), bare and behind the HTTP edge (body cap, security headers, request
   log); the added time per request is the difference of the two distributions'
   percentiles. The log's writer thread runs meanwhile, as in production.
2. Usage endpoints: `--requests` logged requests (30 days, 20 API keys and their
   owners' tokens, 40 routes, 3 % errors) written through the request log's store
   into a scratch MariaDB database, then each analytics query (the service behind
   `/api/v1/analytics/usage`, `/usage/daily`, `/usage/endpoints`, `/usage/keys`),
   fleet-wide and for one key: median of 5 after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client.registry import CollectorRegistry

from smsfleet.auth.models import Role, User
from smsfleet.core.clock import SystemClock
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.developer.log import RequestLog, RequestRecorder, worker_request_seconds
from smsfleet.developer.models import UsageQuery
from smsfleet.developer.service import UsageService
from smsfleet.developer.store import LoggedRequest, UsageStore
from smsfleet.edge import Edge
from tests.support.backends import mariadb_database
from tests.support.fakes import FakeClock

BATCH = 10_000
END = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
ROUTE = SimpleNamespace(path="/api/v1/pairs/{key}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def answer(scope: dict[str, object], receive: object, send: object) -> None:
    scope["route"] = ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"{}"})  # type: ignore[operator]


async def timed(app: object, calls: int) -> list[float]:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(_: dict[str, object]) -> None:
        return None

    durations = []
    for _ in range(calls):
        scope = {"type": "http", "method": "GET", "path": "/api/v1/pairs/UZ_a", "state": {}}
        scope["state"] = {"principal": "key:ab12cd34:alice"}
        started = time.perf_counter()
        await app(scope, receive, send)  # type: ignore[operator]
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def added_latency(engine_url: str, calls: int) -> list[tuple[str, str]]:
    engine = create_sql_engine(engine_url)
    request_log = RequestLog(UsageStore(engine), SystemClock())
    request_log.start()
    recorder = RequestRecorder(
        request_log=lambda: request_log,
        worker_seconds=worker_request_seconds(CollectorRegistry()),
    )
    wrapped = Edge(answer, max_bytes=1024 * 1024, finished=recorder)  # type: ignore[arg-type]
    try:
        asyncio.run(timed(answer, 2000))  # warm-up
        bare = asyncio.run(timed(answer, calls))
        logged = asyncio.run(timed(wrapped, calls))
    finally:
        request_log.close()
        engine.dispose()
    rows = []
    for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        added = percentile(logged, fraction) - percentile(bare, fraction)
        rows.append((name, f"{added * 1000:.1f} µs"))
    return rows


def fill(store: UsageStore, total: int) -> float:
    rng = random.Random(7)
    keys = [(f"k{n:07d}", f"user{n % 7}") for n in range(20)]
    routes = [("GET", f"/api/v1/route{n}/{{id}}") for n in range(30)] + [
        ("POST", f"/api/v1/route{n}") for n in range(10)
    ]
    started = time.perf_counter()
    span = 30 * 86_400
    for offset in range(0, total, BATCH):
        batch = []
        for _ in range(min(BATCH, total - offset)):
            key_id, owner = rng.choice(keys)
            if rng.random() < 0.3:
                key_id = ""  # a token, not a key
            method, route = rng.choice(routes)
            status = 200 if rng.random() > 0.03 else rng.choice((404, 422, 500))
            at = END - timedelta(seconds=rng.random() * span)
            batch.append(
                LoggedRequest(at, owner, key_id, method, route, status, rng.expovariate(1 / 12))
            )
        store.add(batch)
    return time.perf_counter() - started


def query_times(service: UsageService) -> list[tuple[str, float]]:
    admin = User(
        username="admin", role=Role.admin, password_hash="-", created_at=END, updated_at=END
    )
    everything = UsageQuery(start_date=date(2026, 3, 2), end_date=date(2026, 3, 31))
    one_key = everything.model_copy(update={"api_key_id": "k0000003"})
    calls: dict[str, Callable[[], object]] = {
        "usage (all)": lambda: service.summary(everything, actor=admin),
        "usage/daily (all)": lambda: service.daily(everything, actor=admin),
        "usage/endpoints (all)": lambda: service.endpoints(everything, actor=admin),
        "usage/keys (all)": lambda: service.keys(everything, actor=admin),
        "usage (one key)": lambda: service.summary(one_key, actor=admin),
        "usage/daily (one key)": lambda: service.daily(one_key, actor=admin),
    }
    results = []
    for name, call in calls.items():
        call()
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        results.append((name, statistics.median(samples)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    with mariadb_database() as url:
        engine = create_sql_engine(url)
        upgrade_metrics_schema(engine)
        added = added_latency(url, args.calls)
        store = UsageStore(engine)
        fill_seconds = fill(store, args.requests)
        service = UsageService(store=store, clock=FakeClock(END))
        times = query_times(service)
        logged = store.count_raw()
        engine.dispose()
    python = sys.version.split()[0]
    print(f"# analytics — {platform.node()}, {os.cpu_count()} CPUs, Python {python}, MariaDB")
    print(f"calls: {args.calls}; logged requests: {logged} (written in {fill_seconds:.0f} s)")
    print("| request logging: added latency | value | target |")
    print("| --- | --- | --- |")
    for name, value in added:
        print(f"| {name} | {value} | {'≤ 1 ms' if name == 'p95' else ''} |")
    print("| usage query (30 days) | median | target |")
    print("| --- | --- | --- |")
    for name, ms in times:
        print(f"| {name} | {ms:.1f} ms | ≤ 200 ms |")


if __name__ == "__main__":
    main()
