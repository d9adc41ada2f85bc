"""The control plane as the search service's gateway: owners, feeding, and the breaker."""

from __future__ import annotations

import time
from typing import Any

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.auth.models import Role
from smsfleet.search.gateway import SearchFeeder
from tests.support.api import Api
from tests.support.servers import ThreadedServer


def finished(api: Api, job_id: str, role: Role = Role.operator) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.client.get(
            f"/api/v1/search/jobs/{job_id}", headers=api.headers(role)
        ).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job never finished")


def test_reported_attempts_are_indexed_and_found_by_their_owner_only(gateway_api: Api) -> None:
    api = gateway_api
    attempt = Attempt(
        id="f" * 32,
        session="program3_UZ_uzmobile",
        pair="UZ_uzmobile",
        country="UZ",
        operator="uzmobile",
        program="program3",
        phone="+998901234567",
        leased_at=api.clock.now(),
        completed_at=api.clock.now(),
        outcome=Outcome.send_failed,
        error_code="ROUTE_ERROR",
    )
    state = api.services
    assert state.dispatcher.on_report is not None  # wired: to the search feeder and metrics
    state.dispatcher.on_report(attempt)  # as the dispatcher does with every outcome
    feeder: SearchFeeder = state.search_feeder
    feeder.flush()  # now (unless its thread, every second, just did)
    created = api.client.post(
        "/api/v1/search/jobs",
        json={"query": "ROUTE_ERROR program3", "algorithm": "fulltext"},
        headers=api.headers(Role.operator),
    )
    assert created.status_code == 202, created.text
    job = finished(api, created.json()["id"])
    assert [m["document_id"] for m in job["results"]] == ["f" * 32]
    assert job["owner"] == "operator"
    # Another person does not see it; an admin does.
    other = api.client.get(f"/api/v1/search/jobs/{job['id']}", headers=api.headers(Role.viewer))
    assert other.status_code == 404
    everyone = api.client.get("/api/v1/search/jobs", headers=api.headers(Role.admin)).json()
    assert [j["id"] for j in everyone["items"]] == [job["id"]]
    mine = api.client.get("/api/v1/search/jobs", headers=api.headers(Role.viewer)).json()
    assert mine["total"] == 0


def test_search_down_is_a_fast_503_and_the_rest_of_the_api_works(
    gateway_api: Api, search_server: ThreadedServer
) -> None:
    api = gateway_api
    headers = api.headers(Role.operator)
    body = {"query": "x", "algorithm": "exact"}
    assert api.client.post("/api/v1/search/jobs", json=body, headers=headers).status_code == 202
    search_server.stop()
    # The first failures open the breaker (three in a row).
    for _ in range(3):
        down = api.client.get("/api/v1/search/jobs", headers=headers)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "unavailable"
    started = time.monotonic()
    fast = api.client.post("/api/v1/search/jobs", json=body, headers=headers)
    assert time.monotonic() - started < 1.0
    assert fast.status_code == 503 and "tries it again" in fast.json()["error"]["message"]
    assert fast.headers["Retry-After"] == "1"
    assert api.client.get("/api/v1/pairs", headers=headers).status_code == 200
    states = api.client.get("/api/v1/developer/breakers", headers=headers).json()
    assert {s["name"]: s["state"] for s in states}["search"] == "open"
    assert 'smsfleet_circuit_breaker_state{name="search"} 2.0' in api.client.get("/metrics").text

    # Back: after the reset time one call goes through, closes the breaker, jobs run.
    search_server.start()
    time.sleep(1.1)
    created = api.client.post("/api/v1/search/jobs", json=body, headers=headers)
    assert created.status_code == 202, created.text
    assert finished(api, created.json()["id"])["status"] == "done"
    states = api.client.get("/api/v1/developer/breakers", headers=headers).json()
    assert {s["name"]: s["state"] for s in states}["search"] == "closed"


def test_without_a_search_service_search_is_a_clear_503(api: Api) -> None:
    response = api.client.get("/api/v1/search/jobs", headers=api.headers())
    assert response.status_code == 503
    assert "SMSFLEET_SEARCH_URL" in response.json()["error"]["message"]
