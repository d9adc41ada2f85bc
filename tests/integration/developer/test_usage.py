"""Every request is logged; the analytics equal a count of the requests made."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine

from smsfleet.auth.models import Role
from smsfleet.developer.log import RequestLog
from smsfleet.developer.store import LoggedRequest, UsageStore
from tests.support.api import Api
from tests.support.fakes import FakeClock

DAY = "2026-01-05"  # the fake clock's day


def flush(api: Api) -> None:
    request_log: RequestLog = api.services.usage.log
    while request_log.flush():
        pass


def test_a_keys_requests_refused_by_its_quota_count_as_its_client_errors(api: Api) -> None:
    admin = api.headers()
    created = api.client.post(
        "/api/v1/auth/api-keys", json={"name": "ci", "daily_quota": 3}, headers=admin
    ).json()
    key = {"X-API-Key": created["key"]}
    answers = [api.client.get("/api/v1/pairs", headers=key).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    flush(api)
    params = {"api_key_id": created["id"]}
    usage = api.client.get("/api/v1/analytics/usage", params=params, headers=admin).json()
    assert (usage["requests"], usage["client_errors"]) == (5, 2)
    keys = api.client.get("/api/v1/analytics/usage/keys", headers=admin).json()
    assert {k["api_key_id"]: k["requests"] for k in keys}[created["id"]] == 5


def test_the_analytics_equal_the_requests_made(api: Api) -> None:
    created = api.client.post(
        "/api/v1/auth/api-keys", json={"name": "ci", "scopes": ["control"]}, headers=api.headers()
    ).json()
    flush(api)  # the creation itself is the admin's, with a token
    key = {"X-API-Key": created["key"]}
    made: Counter[tuple[str, str, int]] = Counter()
    for _ in range(5):
        assert api.client.get("/api/v1/pairs", headers=key).status_code == 200
        made["GET", "/api/v1/pairs", 200] += 1
    for _ in range(2):
        assert api.client.get("/api/v1/pairs/XX_none", headers=key).status_code == 404
        made["GET", "/api/v1/pairs/{key}", 404] += 1
    assert api.client.post("/api/v1/pairs", json={}, headers=key).status_code == 422
    made["POST", "/api/v1/pairs", 422] += 1
    assert api.client.get("/api/v1/programs", headers=api.headers(Role.viewer)).status_code == 200
    assert api.client.get("/healthz").status_code == 200  # not API use: not logged
    flush(api)

    admin = api.headers()
    params = {"api_key_id": created["id"]}
    usage = api.client.get("/api/v1/analytics/usage", params=params, headers=admin).json()
    assert usage["requests"] == sum(made.values()) == 8
    assert (usage["client_errors"], usage["server_errors"]) == (3, 0)
    assert usage["error_rate"] == 3 / 8
    assert usage["latency_avg_ms"] > 0 and usage["latency_p95_ms"] >= usage["latency_avg_ms"] / 10
    assert sum(usage["latency_histogram"]) == 8
    # The bucket edges the histogram is counted on, its last bucket open-ended.
    bounds = usage["latency_histogram_bounds_ms"]
    assert bounds == [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
    assert len(usage["latency_histogram"]) == len(bounds) + 1
    assert (usage["start_date"], usage["end_date"]) == ("2025-12-07", DAY)

    endpoints = api.client.get(
        "/api/v1/analytics/usage/endpoints", params=params, headers=admin
    ).json()
    per_route: Counter[tuple[str, str]] = Counter()
    for (method, route, _status), count in made.items():
        per_route[method, route] += count
    assert {(e["method"], e["route"]): e["requests"] for e in endpoints} == per_route
    assert endpoints[0]["route"] == "/api/v1/pairs"  # busiest first

    daily = api.client.get("/api/v1/analytics/usage/daily", params=params, headers=admin).json()
    assert [(d["day"], d["requests"]) for d in daily] == [(DAY, 8)]
    own = api.client.get(f"/api/v1/auth/api-keys/{created['id']}/usage", headers=admin).json()
    assert own["requests"] == 8

    # Flushed here, not left to the writer's timer, which may or may not have run.
    flush(api)
    keys = api.client.get("/api/v1/analytics/usage/keys", headers=admin).json()
    by_key = {(k["api_key_id"], k["owner"]): k["requests"] for k in keys}
    assert by_key[created["id"], "admin"] == 8
    assert by_key["", "viewer"] == 1
    assert by_key["", "admin"] == 5  # the key's creation and the four reads above

    # A viewer sees its own use only; another's key is unknown to it.
    mine = api.client.get("/api/v1/analytics/usage", headers=api.headers(Role.viewer)).json()
    assert mine["requests"] == 1
    theirs = api.client.get(
        f"/api/v1/auth/api-keys/{created['id']}/usage", headers=api.headers(Role.viewer)
    )
    assert theirs.status_code == 404


def test_bad_ranges_are_refused(api: Api) -> None:
    for params in (
        {"start_date": "2026-02-01", "end_date": "2026-01-01"},
        {"start_date": "2024-01-01", "end_date": "2026-01-01"},
        {"start_date": "yesterday"},
    ):
        response = api.client.get("/api/v1/analytics/usage", params=params, headers=api.headers())
        assert response.status_code == 422, params


def test_the_rollup_adds_up_batches_on_both_backends(metrics_engine: Engine) -> None:
    store = UsageStore(metrics_engine)
    at = datetime(2026, 1, 5, 23, 59, tzinfo=UTC)

    def request(status: int, latency: float, when: datetime = at) -> LoggedRequest:
        return LoggedRequest(when, "alice", "k1", "GET", "/api/v1/pairs", status, latency)

    store.add([request(200, 3.0), request(500, 40.0)])
    store.add([request(200, 3.0), request(200, 1.0, at + timedelta(minutes=2))])
    rows = {
        row.group: row.counters
        for row in store.summed(start=date(2026, 1, 1), end=date(2026, 1, 31), by=("day",))
    }
    assert rows[(date(2026, 1, 5),)]["requests"] == 3
    assert rows[(date(2026, 1, 5),)]["server_errors"] == 1
    assert rows[(date(2026, 1, 5),)]["latency_sum_ms"] == 46.0
    assert rows[(date(2026, 1, 6),)]["requests"] == 1
    assert store.count_raw() == 4
    assert store.summed(start=date(2026, 1, 1), end=date(2026, 1, 31), key_id="k2") == []


def test_raw_requests_past_their_retention_are_purged(metrics_engine: Engine) -> None:
    store = UsageStore(metrics_engine)
    now = datetime(2026, 1, 20, 12, tzinfo=UTC)
    old = [
        LoggedRequest(now - timedelta(days=9, minutes=n), "anon", "", "POST", "/login", 401, 1.0)
        for n in range(25)
    ]
    recent = [
        LoggedRequest(now - timedelta(hours=1), "alice", "k1", "GET", "/api/v1/pairs", 200, 1.0)
    ]
    store.add([*old, *recent])
    clock = FakeClock(now)
    request_log = RequestLog(store, clock, retention=timedelta(days=7))
    assert request_log.purge_due() == 25
    assert store.count_raw() == 1
    # At most hourly; and the daily rollup the analytics read is kept.
    store.add(old[:3])
    assert request_log.purge_due() == 0
    clock.advance(3600)
    assert request_log.purge_due() == 3
    assert store.summed(start=date(2026, 1, 1), end=date(2026, 1, 31))[0].counters["requests"] == 29
