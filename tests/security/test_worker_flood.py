"""One session's worker token cannot flood the control plane: past its burst, its requests
are refused with 429 and Retry-After before any store work, while every other session
leases at once; an honest program's pace never meets the limit; and the SDK waits as it
is told. The bucket runs on the app's clock, a fake one here: no test sleeps for it."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from smsfleet.api import create_app
from smsfleet.core.settings import Settings
from smsfleet.stores import open_config_store
from tests.integration.dispatch.test_worker_api import SESSION, Worker
from tests.support.fakes import FakeClock
from tests.support.sqlite_schemas import migrated_stores
from tests.support.statements import outside_jobs, sql_statements
from tests.unit.worker.fakes import (
    DELIVERED,
    Calls,
    FakeControlPlane,
    FakeGateway,
    grant,
    make_worker,
)

OTHER = "program2_UZ_uzmobile"
RATE, BURST = 20, 60


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    """The SQL-only profile (the check comes before either profile's store work), two
    sessions of one pair, the pace at its defaults."""
    settings = Settings(
        data_dir=tmp_path, web_dir=tmp_path / "no-web", supervise=False, redis_url=None
    )
    assert (settings.worker_requests_per_second, settings.worker_request_burst) == (RATE, BURST)
    store = open_config_store(migrated_stores(settings).resolved_config_url)
    clock = FakeClock()
    app = create_app(settings, store=store, clock=clock)
    try:
        with TestClient(app) as client:
            ready = Worker(client, store, clock, settings, app.state.services.dispatcher)
            ready.add_pair()
            ready.add_session("program1")
            ready.add_session("program2")
            yield ready
    finally:
        store.close()


def _flood_report(worker: Worker) -> httpx2.Response:
    """A report of a trigger that does not exist, as the review's flood sent."""
    body = {"trigger_id": uuid.uuid4().hex, "session": SESSION, "outcome": "delivered"}
    return worker.client.post("/api/v1/worker/report", json=body, headers=worker.headers())


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement run meanwhile, by any thread but the background jobs'."""
    with sql_statements(outside_jobs) as seen:
        yield seen


def test_a_flooding_token_is_refused_past_its_burst_and_another_session_leases_at_once(
    worker: Worker, statements: list[str]
) -> None:
    answers = [_flood_report(worker).status_code for _ in range(BURST)]
    assert answers == [404] * BURST  # each looked up: unknown

    statements.clear()
    for _ in range(50):
        refused = _flood_report(worker)
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "1"
        error = refused.json()["error"]
        assert (error["code"], error["details"]) == ("too_many_requests", {"retry_after": 1})
        assert SESSION in error["message"]
    # The session's every route shares its bucket.
    heartbeat = worker.client.post(
        "/api/v1/worker/heartbeat", json={"session": SESSION}, headers=worker.headers()
    )
    lease = worker.client.post(
        "/api/v1/worker/lease", json={"session": SESSION}, headers=worker.headers()
    )
    assert (heartbeat.status_code, lease.status_code) == (429, 429)
    assert statements == []  # refused before any store work

    # Another session of the same pair, at the same moment.
    started = time.monotonic()
    assert worker.lease(OTHER)["action"] == "send"
    assert time.monotonic() - started < 1.0

    # After the Retry-After, the flooding session has a second's worth again.
    worker.clock.advance(1)
    again = [_flood_report(worker).status_code for _ in range(RATE + 5)]
    assert again == [404] * RATE + [429] * 5

    # Counted in /metrics by route and status (bounded labels).
    exposition = worker.client.get("/metrics").text
    counts = {
        (sample.labels["route"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "smsfleet_worker_request_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    }
    assert counts[("report", "429")] == 55
    assert counts[("lease", "429")] == counts[("heartbeat", "429")] == 1


def test_an_honest_program_never_meets_the_limit(worker: Worker) -> None:
    """A program at the SDK's pace, over five simulated minutes: a lease each 0.25 s while
    it waits (the shortest wait it takes), a heartbeat each 5 s (a third of its default),
    and a report per grant; after an outage, the reports of its every attempt in flight
    (`SMSFLEET_MAX_IN_FLIGHT_PER_SESSION`) at once, with a lease and a heartbeat."""
    statuses: set[int] = set()
    in_flight = worker.settings.max_in_flight_per_session

    def post(route: str, body: dict[str, Any]) -> httpx2.Response:
        answer = worker.client.post(f"/api/v1/worker/{route}", json=body, headers=worker.headers())
        statuses.add(answer.status_code)
        return answer

    for tick in range(5 * 60 * 4):
        lease = post("lease", {"session": SESSION}).json()
        if lease.get("action") == "send":
            post(
                "report",
                {"trigger_id": lease["trigger_id"], "session": SESSION, "outcome": "delivered"},
            )
        if tick % 20 == 0:
            post("heartbeat", {"session": SESSION})
        if tick % 240 == 0:  # an outage's reports, arriving at once
            for _ in range(in_flight):
                post(
                    "report",
                    {"trigger_id": uuid.uuid4().hex, "session": SESSION, "outcome": "delivered"},
                )
            post("heartbeat", {"session": SESSION})
        worker.clock.advance(0.25)
    assert 429 not in statuses
    assert statuses <= {200, 204, 404}


@dataclass
class Throttling(FakeControlPlane):
    """Answers a route's first `refusals[route]` requests as a session over its pace."""

    refusals: dict[str, int] = field(default_factory=dict)
    retry_after: str = "0.3"
    seen: list[tuple[str, float, int]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        route = request.url.path.rsplit("/", 1)[-1]
        if self.refusals.get(route, 0) > 0:
            self.refusals[route] -= 1
            self.seen.append((route, time.monotonic(), 429))
            error = {"code": "too_many_requests", "message": "slow down", "details": None}
            return httpx.Response(
                429, json={"error": error}, headers={"Retry-After": self.retry_after}
            )
        self.seen.append((route, time.monotonic(), 200))
        return super().handler(request)


def test_the_sdk_waits_the_retry_after_and_loses_no_report(tmp_path: Path) -> None:
    cp = Throttling(leases=[grant("t-1")], refusals={"lease": 2, "report": 1, "heartbeat": 1})
    gateway = FakeGateway(states={"t-1": [DELIVERED]})
    out = io.StringIO()
    worker = make_worker(tmp_path, cp, gateway, Calls(), out)
    assert worker.run() == 0
    leases = [(at, status) for route, at, status in cp.seen if route == "lease"]
    # Each refused lease is asked again no sooner than its Retry-After says.
    for (at, status), (next_at, _) in pairwise(leases):
        if status == 429:
            assert next_at - at >= 0.3
    assert [status for _, status in leases][:3] == [429, 429, 200]
    # The refused report stayed in the spool and was delivered after.
    assert [r["trigger_id"] for r in cp.reports] == ["t-1"]
    reports = [(at, status) for route, at, status in cp.seen if route == "report"]
    assert [status for _, status in reports] == [429, 200]
    assert reports[1][0] - reports[0][0] >= 0.3  # sent again once its Retry-After passed
    assert cp.heartbeats >= 1  # a refused heartbeat is tried again at its interval
    assert "control plane unreachable (HTTP 429 from /lease)" in out.getvalue()
