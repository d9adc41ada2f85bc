"""What an account did stays its own: an account deleted and made again under its name (another
person, given the name) sees none of the old one's API use nor its search jobs. Admins still do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsfleet.developer.log import RequestLog
from tests.support.api import Api, running_api
from tests.support.search import SEARCH_TOKEN, index_one_attempt, search_service

PASSWORD = "Alice-long-pass-123!"


def _make_alice(api: Api, role: str) -> dict[str, str]:
    """Alice's account, made by the admin; her sign-in's headers."""
    body = {"username": "alice", "password": PASSWORD, "role": role}
    made = api.client.post("/api/v1/users", json=body, headers=api.headers())
    assert made.status_code == 201, made.text
    login = {"username": "alice", "password": PASSWORD}
    signed_in = api.client.post("/api/v1/auth/login", json=login)
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}


def _made_again(api: Api, role: str) -> dict[str, str]:
    """Alice's account deleted, and another made under her name a second later."""
    deleted = api.client.delete("/api/v1/users/alice", headers=api.headers())
    assert deleted.status_code == 204, deleted.text
    api.clock.advance(1)  # type: ignore[attr-defined]
    return _make_alice(api, role)


def _flush(api: Api) -> None:
    request_log: RequestLog = api.services.usage.log
    while request_log.flush():
        pass


def test_an_account_made_again_sees_none_of_the_old_ones_api_use(api: Api) -> None:
    alice = _make_alice(api, "operator")
    made = api.client.post(
        "/api/v1/auth/api-keys", json={"name": "ci", "scopes": ["read"]}, headers=alice
    )
    assert made.status_code == 201, made.text
    key = made.json()
    for _ in range(3):
        assert api.client.get("/api/v1/pairs", headers={"X-API-Key": key["key"]}).status_code == 200
    _flush(api)

    again = _made_again(api, "viewer")
    _flush(api)
    summary = api.client.get("/api/v1/analytics/usage", headers=again)
    assert summary.status_code == 200, summary.text
    assert summary.json()["requests"] == 0
    # The log's own writer may have written the summary's request since: that one is the new
    # account's, the old one's four are not.
    daily = api.client.get("/api/v1/analytics/usage/daily", headers=again).json()
    assert sum(day["requests"] for day in daily) <= 1, daily
    keys = api.client.get("/api/v1/analytics/usage/keys", headers=again).json()
    assert [k for k in keys if k["api_key_id"] == key["id"]] == []
    endpoints = api.client.get("/api/v1/analytics/usage/endpoints", headers=again).json()
    old_routes = {("GET", "/api/v1/pairs"), ("POST", "/api/v1/auth/api-keys")}
    assert {(e["method"], e["route"]) for e in endpoints} & old_routes == set()
    by_key = api.client.get(
        "/api/v1/analytics/usage", params={"api_key_id": key["id"]}, headers=again
    )
    assert by_key.json()["requests"] == 0
    assert (
        api.client.get(f"/api/v1/auth/api-keys/{key['id']}/usage", headers=again).status_code == 404
    )

    # The new account's own use is its own.
    assert api.client.get("/api/v1/programs", headers=again).status_code == 200
    _flush(api)
    endpoints = api.client.get("/api/v1/analytics/usage/endpoints", headers=again).json()
    assert ("GET", "/api/v1/programs") in {(e["method"], e["route"]) for e in endpoints}

    # An admin still sees the old account's use, under its name.
    admin_keys = api.client.get("/api/v1/analytics/usage/keys", headers=api.headers()).json()
    assert {(k["api_key_id"], k["owner"], k["requests"]) for k in admin_keys} >= {
        (key["id"], "alice", 3)
    }


@pytest.fixture
def searching_api(tmp_path: Path) -> Iterator[Api]:
    with (
        search_service(tmp_path) as search,
        running_api(tmp_path, search_url=search.url, search_token=SEARCH_TOKEN) as api,
    ):
        yield api


def _finished(api: Api, path: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.client.get(path, headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"{path} never finished")


def test_an_account_made_again_sees_none_of_the_old_ones_search_jobs(searching_api: Api) -> None:
    api = searching_api
    index_one_attempt(api)
    alice = _make_alice(api, "operator")
    body = {"query": "NO_ROUTE", "algorithm": "fulltext"}
    started = api.client.post("/api/v1/search/jobs", json=body, headers=alice)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    made_as_her = api.client.post("/api/v1/users/alice/search", json=body, headers=alice)
    assert made_as_her.status_code == 202, made_as_her.text
    for one in (job_id, made_as_her.json()["id"]):
        assert _finished(api, f"/api/v1/search/jobs/{one}", alice)["matched"] == 1

    again = _made_again(api, "operator")
    listed = api.client.get("/api/v1/search/jobs", headers=again)
    assert listed.status_code == 200, listed.text
    assert (listed.json()["total"], listed.json()["items"]) == (0, [])
    for path in (
        f"/api/v1/search/jobs/{job_id}",
        f"/api/v1/search/jobs/{job_id}/details",
        f"/api/v1/users/alice/search/{job_id}",
    ):
        assert api.client.get(path, headers=again).status_code == 404, path
    for action in ("cancel", "retry"):
        refused = api.client.post(f"/api/v1/search/jobs/{job_id}/{action}", headers=again)
        assert refused.status_code == 404, action

    # Her own jobs are hers.
    own = api.client.post("/api/v1/search/jobs", json=body, headers=again)
    assert own.status_code == 202, own.text
    assert _finished(api, f"/api/v1/search/jobs/{own.json()['id']}", again)["matched"] == 1
    mine = api.client.get("/api/v1/search/jobs", headers=again).json()
    assert [j["id"] for j in mine["items"]] == [own.json()["id"]]

    # An admin still reads the old account's jobs.
    admin = api.headers()
    everyone = api.client.get("/api/v1/search/jobs", headers=admin).json()
    assert {job_id, own.json()["id"]} <= {j["id"] for j in everyone["items"]}
    assert api.client.get(f"/api/v1/search/jobs/{job_id}", headers=admin).status_code == 200
    # As the account of the name now, an admin reaches that account's jobs only.
    as_her = api.client.get(f"/api/v1/users/alice/search/{job_id}", headers=admin)
    assert as_her.status_code == 404
