"""Request latency percentiles equal the exact ones of the requests logged, within 2 %."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from smsfleet.auth.models import Role, User
from smsfleet.core.quantiles import quantile
from smsfleet.developer.models import UsageQuery
from smsfleet.developer.service import UsageService
from smsfleet.developer.store import LoggedRequest, UsageStore
from tests.support.fakes import FakeClock
from tests.support.latencies import QUANTILES, exact, samples, within

START = datetime(2026, 1, 3, 8, tzinfo=UTC)
KINDS = ("lognormal", "bimodal", "constant")


@pytest.fixture
def logged(metrics_engine: Engine) -> tuple[UsageStore, dict[str, list[float]]]:
    """Each kind of sample logged under a key of its own, over three days and two
    routes, in batches of 500 (so the rollup merges rows and batches)."""
    store = UsageStore(metrics_engine)
    made = {kind: samples(kind, 3_000, scale=20.0) for kind in KINDS}
    for kind, latencies in made.items():
        requests = [
            LoggedRequest(
                START + timedelta(seconds=84 * index),
                "alice",
                kind[:16],
                "GET",
                ("/api/v1/pairs", "/api/v1/programs")[index % 2],
                200,
                max(latency, 0.01),
            )
            for index, latency in enumerate(latencies)
        ]
        for first in range(0, len(requests), 500):
            store.add(requests[first : first + 500])
        made[kind] = [request.latency_ms for request in requests]
    return store, made


def test_the_store_and_the_service_give_the_exact_quantiles_within_two_percent(
    logged: tuple[UsageStore, dict[str, list[float]]],
) -> None:
    store, made = logged
    now = START + timedelta(days=3)
    admin = User(
        username="admin", role=Role.admin, password_hash="-", created_at=now, updated_at=now
    )
    service = UsageService(store=store, clock=FakeClock(now))
    for kind, latencies in made.items():
        (row,) = store.summed(start=date(2026, 1, 1), end=date(2026, 1, 31), key_id=kind)
        assert sum(row.bins.values()) == len(latencies)
        for q in QUANTILES:
            assert within(quantile(row.bins, q), exact(latencies, q)), (kind, q)
        summary = service.summary(
            UsageQuery(start_date=date(2026, 1, 1), end_date=date(2026, 1, 31), api_key_id=kind),
            actor=admin,
        )
        assert summary.requests == len(latencies)
        assert within(summary.latency_p95_ms, exact(latencies, 0.95)), kind
        assert within(summary.latency_p99_ms, exact(latencies, 0.99)), kind
        assert sum(summary.latency_histogram) == len(latencies)


def test_per_day_and_per_route_quantiles_are_within_two_percent(
    logged: tuple[UsageStore, dict[str, list[float]]],
) -> None:
    store, made = logged
    latencies = made["lognormal"]
    at = [START + timedelta(seconds=84 * index) for index in range(len(latencies))]
    for (day,), bins in (
        (row.group, row.bins)
        for row in store.summed(
            start=date(2026, 1, 1), end=date(2026, 1, 31), by=("day",), key_id="lognormal"
        )
    ):
        those = [value for value, when in zip(latencies, at, strict=True) if when.date() == day]
        for q in QUANTILES:
            assert within(quantile(bins, q), exact(those, q)), (day, q)
    routes = store.summed(
        start=date(2026, 1, 1), end=date(2026, 1, 31), by=("route",), key_id="lognormal"
    )
    for row in routes:
        index = ("/api/v1/pairs", "/api/v1/programs").index(row.group[0])
        those = latencies[index::2]
        for q in QUANTILES:
            assert within(quantile(row.bins, q), exact(those, q)), (row.group, q)
