"""Quota counters on SQLite and MariaDB: exact under concurrency, refusals not counted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from smsfleet.apikeys.store import QuotaStore

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_concurrent_requests_never_overshoot_a_limit(metrics_engine: Engine) -> None:
    store = QuotaStore(metrics_engine)
    limits: dict[str, int | None] = {"d2026-01-05": 50, "m2026-01": None}

    def take(_: int) -> bool:
        _counts, refused = store.take("k1", limits, now=NOW)
        return refused is None

    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = sum(pool.map(take, range(80)))
    assert accepted == 50
    assert store.used("k1", list(limits)) == {"d2026-01-05": 50, "m2026-01": 50}
    assert store.used("k2", list(limits)) == {}
