"""The seed verification service document: `POST /sendsms/`, its sample request word for word.

`{"phone": "+1234567890", "token_value": {"token": "123456"}, "template_id": 1}`: the
template's placeholders are filled by name from `token_value`, and the send goes out
through the dispatcher (a program's lease carries it) until it is `DONE`. The demo's
fleet and templates (`smsfleet.demo`) are what the request meets, on a running control
plane; every test leaves nothing in flight for the next.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsfleet.auth.models import Role
from smsfleet.core.settings import Settings
from smsfleet.demo import DEMO_PAIRS, DEMO_PROGRAMS, DEMO_TEMPLATES
from smsfleet.messages.runtime import Messages
from tests.support.api import running_api
from tests.support.live_server import LiveApi, live_api
from tests.support.tokens import issued_token_in

SAMPLE = {"phone": "+1234567890", "token_value": {"token": "123456"}, "template_id": 1}
SESSION = "program1_US_verizon"
# The control plane's key, so the test can be the session's program (its worker token).
SECRET_KEY = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """The demo's program1, its US pair (where +1234567890 goes) and its templates."""
    with live_api(tmp_path_factory.mktemp("control-plane"), SMSFLEET_SECRET_KEY=SECRET_KEY) as api:
        admin = api.headers(Role.admin)
        program = DEMO_PROGRAMS[0].model_dump(mode="json", exclude_unset=True)
        made = api.client.post("/api/v1/programs", json=program, headers=admin)
        assert made.status_code == 201, made.text
        # Paced for a test, not a carrier: each test's send is granted at once.
        paced = api.client.patch(
            "/api/v1/countries/US?force=true", json={"cap": 6000}, headers=admin
        )
        assert paced.status_code == 200, paced.text
        (us,) = [pair for pair in DEMO_PAIRS if pair.country == "US"]
        body = us.model_dump(mode="json", exclude_unset=True) | {"programs": ["program1"]}
        pair = api.client.post("/api/v1/pairs", json=body, headers=admin)
        assert pair.status_code == 201, pair.text
        for template_id, name, text in DEMO_TEMPLATES:
            template = {"id": template_id, "name": name, "body": text}
            added = api.client.post("/api/v1/messages/templates", json=template, headers=admin)
            assert added.status_code == 201, added.text
        started = api.client.post(f"/api/v1/sessions/{SESSION}/start", headers=admin)
        assert started.status_code in (200, 202), started.text
        yield api


def worker(api: LiveApi, path: str, body: dict[str, Any]) -> dict[str, Any]:
    token = issued_token_in(api.server.data_dir, secret=SECRET_KEY, session=SESSION)
    answer = api.client.post(
        f"/api/v1/worker/{path}",
        json={"session": SESSION, **body},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def delivered(api: LiveApi, lease: dict[str, Any]) -> None:
    worker(api, "report", {"trigger_id": lease["trigger_id"], "outcome": "delivered"})


def test_the_sample_request_is_sent_and_done(demo: LiveApi) -> None:
    headers = demo.headers(Role.operator)
    queued = demo.client.post("/sendsms/", json=SAMPLE, headers=headers)
    assert queued.status_code == 202, queued.text
    assert (queued.json()["status"], queued.json()["pair"]) == ("PENDING", "US_verizon")
    lease = worker(demo, "lease", {})
    assert lease["action"] == "send", lease
    assert (lease["phone"], lease["message"]) == ("+1234567890", "Your code is 123456")
    delivered(demo, lease)
    send = demo.client.get(f"/api/v1/messages/sends/{queued.json()['id']}", headers=headers)
    assert send.json()["status"] == "DONE", send.json()
    assert send.json()["params"] == {"token": "123456"}


@pytest.mark.parametrize(
    ("token_value", "template_id", "text"),
    [
        ("654321", "1", "Your code is 654321"),
        ({"token": 42}, 2, "42 is your login code. It expires in 10 minutes."),
        ({"token": "777", "unused": "x"}, 3, "Use 777 to reset your password."),
    ],
)
def test_token_values_and_template_ids_in_either_form(
    demo: LiveApi, token_value: object, template_id: object, text: str
) -> None:
    body = {"phone": "+1234567890", "token_value": token_value, "template_id": template_id}
    queued = demo.client.post("/sendsms/", json=body, headers=demo.headers(Role.operator))
    assert queued.status_code == 202, queued.text
    lease = worker(demo, "lease", {})
    assert lease["action"] == "send", lease
    assert lease["message"] == text
    delivered(demo, lease)


def test_the_demo_ships_a_template_per_id() -> None:
    assert [template_id for template_id, _name, _body in DEMO_TEMPLATES] == ["1", "2", "3"]


BAD: list[tuple[dict[str, object], int, str | None]] = [
    ({"template_id": 99}, 404, None),
    ({"template_id": -1}, 422, "template_id"),
    ({"template_id": True}, 422, "template_id"),
    ({"token_value": {}}, 422, "token_value"),
    ({"token_value": {"code": "1"}}, 422, "token_value.token"),
    ({"token_value": {"bad name": "1"}}, 422, "token_value"),
    ({"token_value": ["123456"]}, 422, "token_value"),
    ({"phone": "12"}, 422, "phone"),
    ({"phone": "+123"}, 422, "phone"),
]


def test_bad_requests_say_which_field(demo: LiveApi) -> None:
    headers = demo.headers(Role.operator)
    kept = demo.client.get("/api/v1/messages/sends", headers=headers).json()
    for change, status, field in BAD:
        answer = demo.client.post("/sendsms/", json=SAMPLE | change, headers=headers)
        assert answer.status_code == status, (change, answer.text)
        if field is not None:
            fields = {d["field"] for d in answer.json()["error"]["details"]}
            assert any(f.startswith(field) for f in fields), (change, fields)
    after = demo.client.get("/api/v1/messages/sends", headers=headers).json()
    assert after == kept  # nothing refused was kept


def test_the_pending_sends_job_runs_at_the_configured_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job's interval shows nowhere over HTTP: the control plane is built in process.
    monkeypatch.setenv("SMSFLEET_SEND_RETRY_INTERVAL_SECONDS", "2.5")
    assert Settings(data_dir=tmp_path).send.retry_interval_seconds == 2.5
    with running_api(tmp_path, send_retry_interval_seconds=2.5) as api:
        messages: Messages = api.services.messages
        assert messages.interval_seconds == 2.5
