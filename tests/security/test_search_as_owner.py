"""A search an admin starts as another user (`POST /api/v1/users/{user_id}/search`) is the
owner's job, and runs over what the owner may search: a viewer's never over SMS texts,
whose match count on an exact query would tell a code the viewer may not read."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI

from smsfleet.auth.models import Role
from smsfleet.search.models import JobStatus
from smsfleet.search.service import SearchService
from tests.support.api import Api, running_api
from tests.support.search import SEARCH_TOKEN, search_service, sending_api

PHONE = "+1234567890"
CODE = "660417"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The control plane with the search service, and an SMS with a code indexed."""
    pair = {"country": "US", "operator": "Verizon", "phone_numbers": ["+12025550100"]}
    template = {"id": "1", "name": "Verification code", "body": "Your code is {token}"}
    with sending_api(tmp_path, pair=pair, template=template) as api:
        received = {
            "senderPhone": "+12025550143",
            "receiverPhone": PHONE,
            "messageText": f"{CODE} is your verification code",
            "timestamp": "2026-01-05T11:59:00Z",
            "uuid": str(uuid.uuid4()),
        }
        kept = api.client.post(
            "/api/receive-sms", json=received, headers=api.headers(Role.operator)
        )
        assert kept.status_code == 200, kept.text
        api.services.search_feeder.flush()
        yield api


def _done(api: Api, path: str, role: Role) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.client.get(path, headers=api.headers(role)).json()
        if job["status"] == "done":
            return job
        time.sleep(0.05)
    raise AssertionError(f"{path} never finished")


def test_an_admin_searches_sms_texts_as_a_viewer_no_more_than_the_viewer(api: Api) -> None:
    admin = api.headers(Role.admin)
    only_sms = {"query": CODE, "algorithm": "exact", "kinds": ["message"]}
    # Refused as the viewer's own request is.
    own = api.client.post(
        "/api/v1/users/viewer/search", json=only_sms, headers=api.headers(Role.viewer)
    )
    refused = api.client.post("/api/v1/users/viewer/search", json=only_sms, headers=admin)
    assert (own.status_code, refused.status_code) == (403, 403), refused.text
    assert own.json()["error"]["code"] == refused.json()["error"]["code"] == "forbidden"
    message = refused.json()["error"]["message"]
    assert message.startswith("searching SMS texts needs the operator role"), message
    assert message.endswith("'viewer', the job's owner, is viewer"), message
    # Over every kind, it runs over attempts only, as the viewer's own would.
    every_kind = {"query": CODE, "algorithm": "exact"}
    created = api.client.post("/api/v1/users/viewer/search", json=every_kind, headers=admin)
    assert created.status_code == 202, created.text
    assert (created.json()["owner"], created.json()["kinds"]) == ("viewer", ["attempt"])
    path = f"/api/v1/users/viewer/search/{created.json()['id']}"
    job = _done(api, path, Role.viewer)
    assert (job["kinds"], job["matched"], job["results"]) == (["attempt"], 0, [])
    # An admin's own search still reads SMS texts, and finds the code.
    mine = api.client.post("/api/v1/users/admin/search", json=only_sms, headers=admin)
    assert mine.status_code == 202, mine.text
    found = _done(api, f"/api/v1/users/admin/search/{mine.json()['id']}", Role.admin)
    assert found["matched"] == 1
    # The job run as the viewer is in the audit log, who ran it and as whom; the admin's
    # own is not.
    logged = api.client.get(
        "/api/v1/audit", params={"action": "search.run_as"}, headers=admin
    ).json()
    assert [(e["actor"], e["target"], e["reason"]) for e in logged] == [
        ("admin", created.json()["id"], "started as viewer")
    ]


def test_an_admin_retries_a_job_over_sms_texts_only_while_its_owner_may_read_them(
    tmp_path: Path,
) -> None:
    """An operator's job over SMS texts, stopped; the operator lowered to viewer since: an
    admin's retry would search the texts for a viewer, who reads the match count."""
    with (
        search_service(tmp_path) as search,
        running_api(tmp_path, search_url=search.url, search_token=SEARCH_TOKEN) as api,
    ):
        admin = api.headers(Role.admin)
        only_sms = {"query": CODE, "algorithm": "exact", "kinds": ["message"]}
        created = api.client.post(
            "/api/v1/search/jobs", json=only_sms, headers=api.headers(Role.operator)
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        _done(api, f"/api/v1/search/jobs/{job_id}", Role.operator)
        service: SearchService = cast(FastAPI, search.app).state.search
        done = service.store.job(job_id)
        assert done is not None
        stopped = done.model_copy(update={"status": JobStatus.cancelled})
        assert service.store.save_job(stopped, only_if=(JobStatus.done,))

        def retried_after_role(role: Role) -> Any:
            lowered = api.client.patch(
                "/api/v1/users/operator", json={"role": role.value}, headers=admin
            )
            assert lowered.status_code == 200, lowered.text
            return api.client.post(f"/api/v1/search/jobs/{job_id}/retry", headers=admin)

        refused = retried_after_role(Role.viewer)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"].endswith("'operator', the job's owner, is viewer")
        assert retried_after_role(Role.operator).status_code == 200
        logged = api.client.get(
            "/api/v1/audit", params={"action": "search.run_as"}, headers=admin
        ).json()
        assert [(e["target"], e["reason"]) for e in logged] == [(job_id, "retried as operator")]
