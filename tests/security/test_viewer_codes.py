"""A one-time code is never read below the operator role: not by a viewer, nor by a `read`
API key (which acts as one), on any path that serves sends or SMS — the sends list and
detail, a number's thread, the seed SMS service's conversation, search, the live socket,
nor any other GET. An operator still reads them in full.

The code travels as `/sendsms/`'s `token_value`, as a free text send, and back as the
SMS a fleet's number received: each is hidden (docs/security.md says why received
texts are)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from smsfleet.auth.models import Role
from tests.support.api import Api
from tests.support.live import live_socket
from tests.support.search import sending_api

PHONE = "+1234567890"
CODE = "731904"  # the template's {token}
TYPED = "558213"  # in a text sent without a template
RECEIVED = "660417"  # in an SMS one of the fleet's numbers received
CODES = (CODE, TYPED, RECEIVED)
TEMPLATE = {"id": "1", "name": "Verification code", "body": "Your code is {token}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The control plane with the search service, a US pair run by program1, template 1."""
    with sending_api(
        tmp_path,
        pair={"country": "US", "operator": "Verizon", "phone_numbers": ["+12025550100"]},
        template=TEMPLATE,
    ) as api:
        yield api


def _send_codes(api: Api) -> list[str]:
    """A `/sendsms/` send and a free text one, each handed to its program by a lease (so
    each sent its text, kept in the number's thread), and an SMS received with a code."""
    operator = api.headers(Role.operator)
    seed = {"phone": PHONE, "token_value": {"token": CODE}, "template_id": 1}
    typed = {"phone": PHONE, "text": f"Your login code is {TYPED}"}
    ids = []
    for path, body in (("/sendsms/", seed), ("/api/v1/messages/send", typed)):
        queued = api.client.post(path, json=body, headers=operator)
        assert queued.status_code == 202, queued.text
        ids.append(queued.json()["id"])
    sends = api.services.messages.sends
    for n in range(2):
        claimed = sends.claim(pair="US_verizon", program="program1", attempt_id=f"{n}" * 32)
        assert claimed is not None  # as a lease does: the text goes out
    received = {
        "senderPhone": "+12025550143",
        "receiverPhone": PHONE,
        "messageText": f"{RECEIVED} is your verification code",
        "timestamp": "2026-01-05T11:59:00Z",
        "uuid": str(uuid.uuid4()),
    }
    kept = api.client.post("/api/receive-sms", json=received, headers=operator)
    assert kept.status_code == 200, kept.text
    api.services.search_feeder.flush()
    return ids


def _searched(api: Api, headers: dict[str, str], query: str) -> dict[str, Any]:
    body = {"query": query, "algorithm": "fulltext"}
    created = api.client.post("/api/v1/search/jobs", json=body, headers=headers)
    assert created.status_code == 202, created.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.client.get(
            f"/api/v1/search/jobs/{created.json()['id']}", headers=headers
        ).json()
        if job["status"] == "done":
            return job
        time.sleep(0.05)
    raise AssertionError("the search never finished")


def _read(api: Api, headers: dict[str, str], ids: list[str]) -> str:
    """All that `headers` reads of the sends and the number's SMS, as text."""
    paths = [
        f"/api/v1/messages/sends?phone=%2B{PHONE[1:]}",
        *(f"/api/v1/messages/sends/{send_id}" for send_id in ids),
        f"/api/v1/messages/conversations/%2B{PHONE[1:]}",
        f"/api/get-conversation/%2B{PHONE[1:]}",
    ]
    answers = []
    for path in paths:
        answer = api.client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        answers.append(answer.text)
    for code in CODES:
        answers.append(str(_searched(api, headers, code)["results"]))
    return "\n".join(answers)


def _read_key(api: Api) -> dict[str, str]:
    """An admin's key of the `read` scope: it acts as a viewer."""
    made = api.client.post(
        "/api/v1/auth/api-keys",
        json={"name": "dashboards", "scopes": ["read"]},
        headers=api.headers(Role.admin),
    )
    assert made.status_code == 201, made.text
    return {"X-API-Key": made.json()["key"]}


def test_a_viewer_and_a_read_key_read_no_code_an_operator_reads_them(api: Api) -> None:
    ids = _send_codes(api)
    for who, headers in (("viewer", api.headers(Role.viewer)), ("read key", _read_key(api))):
        seen = _read(api, headers, ids)
        assert not [code for code in CODES if code in seen], (who, seen)
        sends = api.client.get("/api/v1/messages/sends", headers=headers).json()
        assert sorted((s["sent_text"], s["text"], s["params"], s["redacted"]) for s in sends) == [
            ("Your code is •••", None, {"token": "•••"}, True),
            ("•••", "•••", {}, True),
        ]
        thread = api.client.get(f"/api/v1/messages/conversations/%2B{PHONE[1:]}", headers=headers)
        sms = [item for item in thread.json()["items"] if item["kind"] == "sms"]
        assert [(item["text"], item["redacted"]) for item in sms] == [(None, True)] * 3
        only_sms = {"query": CODE, "kinds": ["message"]}
        refused = api.client.post("/api/v1/search/jobs", json=only_sms, headers=headers)
        assert refused.status_code == 403, refused.text
        assert "operator role" in refused.json()["error"]["message"]
    seen = _read(api, api.headers(Role.operator), ids)
    assert all(code in seen for code in CODES), seen
    send = api.client.get(f"/api/v1/messages/sends/{ids[0]}", headers=api.headers(Role.operator))
    assert send.json()["params"] == {"token": CODE}
    assert (send.json()["sent_text"], send.json()["redacted"]) == (f"Your code is {CODE}", False)


def test_no_get_a_viewer_reaches_holds_a_code(api: Api) -> None:
    """Every GET route without a path parameter, asked by a viewer: none holds a code (the
    request log and audit log, the metrics, the attempts…)."""
    _send_codes(api)
    viewer = api.headers(Role.viewer)
    app = api.client.app
    assert isinstance(app, FastAPI), app
    paths = app.openapi()["paths"]
    gets = [path for path, methods in paths.items() if "get" in methods and "{" not in path]
    assert "/api/v1/audit" in gets  # (an admin's only: refused)
    for path in gets:
        answer = api.client.get(path, headers=viewer)
        assert not [code for code in CODES if code in answer.text], path


def test_a_viewers_live_socket_carries_no_code(api: Api) -> None:
    with live_socket(api.client, api.token(Role.viewer)) as socket:
        _send_codes(api)
        events: list[dict[str, Any]] = []
        while len(events) < 4:  # two sends made, and each handed out
            message = socket.receive_json()
            if message["topic"] == "sends":
                events.append(message["data"])
    assert not [code for code in CODES if code in str(events)], events
    assert {e["redacted"] for e in events} == {True}
    assert {e["sent_text"] for e in events[2:]} == {"Your code is •••", "•••"}


def test_an_operator_lowered_to_viewer_reads_no_code_of_their_earlier_search(api: Api) -> None:
    _send_codes(api)
    job = _searched(api, api.headers(Role.operator), "code")
    assert CODE in str(job["results"])  # theirs while an operator
    lowered = api.client.patch(
        "/api/v1/users/operator", json={"role": "viewer"}, headers=api.headers(Role.admin)
    )
    assert lowered.status_code == 200, lowered.text
    api.tokens.pop(Role.operator)  # revoked by the change
    now = api.headers(Role.operator)
    read = api.client.get(f"/api/v1/search/jobs/{job['id']}", headers=now)
    assert (read.status_code, read.json()["redacted"]) == (200, True)
    assert CODE not in read.text
    again = api.client.post(f"/api/v1/search/jobs/{job['id']}/retry", headers=now)
    assert again.status_code == 403, again.text
