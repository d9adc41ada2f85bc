"""The seed search microservice document: a user's searches under the user, through the
gateway, with the search service running beside the control plane as in the demo.

`POST /api/v1/users/<user_id>/search` starts a job (202, the job), `GET
/api/v1/users/<user_id>/search/<job_id>` reads it with its matches once done, and `GET
/api/v1/search/jobs/<job_id>/details` is the same job in full. The user id is the
caller's own, or anyone's for an admin (403 otherwise). What is searched is what the
control plane indexes as it happens: here, the SMS service document's messages.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from smsfleet.auth.models import Role
from tests.support.backends import free_port
from tests.support.fleet import clean_environment, running
from tests.support.live_server import LiveApi, live_api
from tests.support.search import JOB_FIELDS, SEARCH_TOKEN
from tests.support.waiting import eventually

MATCH_FIELDS = {"document_id", "kind", "phone", "text", "at", "score"}
FINISHED = ("done", "failed", "cancelled")
# The control plane indexes what it records within about a second (its feeder's beat).
INDEXED_WITHIN = 15.0


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """`python -m smsfleet.search` and `smsfleet serve` using it, as `smsfleet demo` runs them."""
    work = tmp_path_factory.mktemp("search")
    port = free_port()
    search_url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "smsfleet.search", "--port", str(port), "--data-dir", str(work)]
    environment = clean_environment() | {"SMSFLEET_SEARCH_TOKEN": SEARCH_TOKEN}
    with (
        running(argv, env=environment, work=work, ready=f"{search_url}/healthz"),
        live_api(
            tmp_path_factory.mktemp("control-plane"),
            SMSFLEET_SEARCH_URL=search_url,
            SMSFLEET_SEARCH_TOKEN=SEARCH_TOKEN,
        ) as api,
    ):
        yield api


def send_sms(api: LiveApi, text: str) -> str:
    """The SMS service document's `POST /api/send-sms` with `text`; the message's uuid."""
    message_id = str(uuid.uuid4())
    message = {
        "senderPhone": "1234567890",
        "receiverPhone": "0987654321",
        "messageText": text,
        "timestamp": 1645845235,
        "uuid": message_id,
    }
    sent = api.client.post("/api/send-sms", json=message, headers=api.headers(Role.operator))
    assert sent.status_code == 200, sent.text
    return message_id


def finished(api: LiveApi, path: str, role: Role) -> dict[str, Any]:
    def read() -> dict[str, Any] | None:
        answer = api.client.get(path, headers=api.headers(role))
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        return job if job["status"] in FINISHED else None

    return eventually(read, 10, f"{path} to finish")


def test_a_user_searches_as_themselves_and_reads_the_job_and_its_details(
    control_plane: LiveApi,
) -> None:
    api = control_plane
    word = f"seed{uuid.uuid4().hex[:12]}"
    document = send_sms(api, f"Hello, this is a test message {word}.")
    headers = api.headers(Role.operator)
    created: list[dict[str, Any]] = []

    def found() -> dict[str, Any] | None:
        answer = api.client.post(
            "/api/v1/users/operator/search",
            json={"query": word, "algorithm": "fulltext"},
            headers=headers,
        )
        assert answer.status_code == 202, answer.text
        created.append(answer.json())
        job = finished(api, f"/api/v1/users/operator/search/{answer.json()['id']}", Role.operator)
        return job if job["results"] else None  # not indexed yet: search again

    job = eventually(found, INDEXED_WITHIN, f"a search to find {word}")
    first = created[0]
    assert set(first) >= JOB_FIELDS
    assert (first["owner"], first["query"], first["algorithm"]) == ("operator", word, "fulltext")
    assert first["status"] in ("queued", "running", "done")
    assert (job["status"], job["matched"], job["error"]) == ("done", 1, None)
    (match,) = job["results"]
    assert set(match) >= MATCH_FIELDS
    assert (match["document_id"], match["kind"], match["phone"]) == (
        document,
        "message",
        "0987654321",  # as the document wrote it: a national number of no known country
    )
    assert word in match["text"]
    details = api.client.get(f"/api/v1/search/jobs/{job['id']}/details", headers=headers)
    assert details.status_code == 200, details.text
    assert details.json() == job


def test_another_users_id_is_forbidden_unless_admin(control_plane: LiveApi) -> None:
    api = control_plane
    body = {"query": "Hello", "algorithm": "exact"}
    viewer, admin = api.headers(Role.viewer), api.headers(Role.admin)
    refused = api.client.post("/api/v1/users/operator/search", json=body, headers=viewer)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    created = api.client.post(
        "/api/v1/users/operator/search", json=body, headers=api.headers(Role.operator)
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    read = api.client.get(f"/api/v1/users/operator/search/{job_id}", headers=viewer)
    assert read.status_code == 403, read.text
    # Not the viewer's job, under their own id nor in details.
    assert (
        api.client.get(f"/api/v1/users/viewer/search/{job_id}", headers=viewer).status_code == 404
    )
    assert (
        api.client.get(f"/api/v1/search/jobs/{job_id}/details", headers=viewer).status_code == 404
    )

    as_admin = api.client.get(f"/api/v1/users/operator/search/{job_id}", headers=admin)
    assert (as_admin.status_code, as_admin.json()["owner"]) == (200, "operator")
    on_behalf = api.client.post("/api/v1/users/viewer/search", json=body, headers=admin)
    assert (on_behalf.status_code, on_behalf.json()["owner"]) == (202, "viewer")
    theirs = api.client.get(f"/api/v1/users/viewer/search/{on_behalf.json()['id']}", headers=viewer)
    assert theirs.status_code == 200, theirs.text


def test_the_routes_need_a_token_and_a_well_formed_request(control_plane: LiveApi) -> None:
    api = control_plane
    job_id = "0" * 32
    for method, path in (
        ("POST", "/api/v1/users/operator/search"),
        ("GET", f"/api/v1/users/operator/search/{job_id}"),
        ("GET", f"/api/v1/search/jobs/{job_id}/details"),
    ):
        assert api.client.request(method, path, json={}).status_code == 401, path
    headers = api.headers(Role.operator)
    empty = api.client.post("/api/v1/users/operator/search", json={"query": ""}, headers=headers)
    assert (empty.status_code, empty.json()["error"]["details"][0]["field"]) == (422, "query")
    unknown = api.client.get(f"/api/v1/users/operator/search/{job_id}", headers=headers)
    assert unknown.status_code == 404
    malformed = api.client.get("/api/v1/search/jobs/nope/details", headers=headers)
    assert malformed.status_code == 422
    nobody = api.client.post(
        "/api/v1/users/nobody/search", json={"query": "x"}, headers=api.headers(Role.admin)
    )
    assert nobody.status_code == 404
