"""The search document's routes over the same jobs: `/api/v1/users/{user_id}/search…`
and `/api/v1/search/jobs/{job_id}/details`; a user searches as themselves, an admin as anyone."""

from __future__ import annotations

import time
from typing import Any

from smsfleet.auth.models import Role
from tests.support.api import Api
from tests.support.search import JOB_FIELDS, index_one_attempt


def done(api: Api, path: str, role: Role) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = api.client.get(path, headers=api.headers(role))
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"{path} never finished")


def test_a_user_searches_as_themselves_and_reads_the_job_in_the_job_routes_shape(
    gateway_api: Api,
) -> None:
    api = gateway_api
    document = index_one_attempt(api)
    created = api.client.post(
        "/api/v1/users/operator/search",
        json={"query": "NO_ROUTE program4", "algorithm": "fulltext"},
        headers=api.headers(Role.operator),
    )
    assert created.status_code == 202, created.text
    job = created.json()
    assert set(job) >= JOB_FIELDS
    assert job["owner"] == "operator"
    assert job["status"] in ("queued", "running", "done")

    finished = done(api, f"/api/v1/users/operator/search/{job['id']}", Role.operator)
    assert finished["status"] == "done"
    assert [m["document_id"] for m in finished["results"]] == [document]
    # The same job, in the same shape, on the existing routes and on its details.
    same = api.client.get(f"/api/v1/search/jobs/{job['id']}", headers=api.headers(Role.operator))
    details = api.client.get(
        f"/api/v1/search/jobs/{job['id']}/details", headers=api.headers(Role.operator)
    )
    assert details.status_code == 200, details.text
    assert details.json() == same.json() == finished
    listed = api.client.get("/api/v1/search/jobs", headers=api.headers(Role.operator)).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]


def test_another_user_s_id_is_refused_unless_admin(gateway_api: Api) -> None:
    api = gateway_api
    body = {"query": "anything", "algorithm": "exact"}
    refused = api.client.post(
        "/api/v1/users/operator/search", json=body, headers=api.headers(Role.viewer)
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    # Refused before the body is looked at.
    assert (
        api.client.post(
            "/api/v1/users/operator/search", json={}, headers=api.headers(Role.viewer)
        ).status_code
        == 403
    )
    created = api.client.post(
        "/api/v1/users/operator/search", json=body, headers=api.headers(Role.operator)
    )
    job_id = created.json()["id"]
    viewer = api.headers(Role.viewer)
    other = api.client.get(f"/api/v1/users/operator/search/{job_id}", headers=viewer)
    assert other.status_code == 403
    # Under their own id, another's job is not found; nor are its details.
    own = api.client.get(f"/api/v1/users/viewer/search/{job_id}", headers=viewer)
    assert own.status_code == 404
    details = api.client.get(f"/api/v1/search/jobs/{job_id}/details", headers=viewer)
    assert details.status_code == 404

    # An admin reads it under its owner, and starts a job as that user.
    admin = api.headers(Role.admin)
    read = api.client.get(f"/api/v1/users/operator/search/{job_id}", headers=admin)
    assert read.status_code == 200 and read.json()["owner"] == "operator"
    assert api.client.get(f"/api/v1/search/jobs/{job_id}/details", headers=admin).status_code == 200
    # Under another user's id, it is not that user's job.
    assert api.client.get(f"/api/v1/users/viewer/search/{job_id}", headers=admin).status_code == 404
    on_behalf = api.client.post("/api/v1/users/viewer/search", json=body, headers=admin)
    assert on_behalf.status_code == 202, on_behalf.text
    assert on_behalf.json()["owner"] == "viewer"
    mine = api.client.get("/api/v1/search/jobs", headers=api.headers(Role.viewer)).json()
    assert [j["id"] for j in mine["items"]] == [on_behalf.json()["id"]]
    # A user who does not exist has no jobs to start.
    nobody = api.client.post("/api/v1/users/nobody/search", json=body, headers=admin)
    assert nobody.status_code == 404
