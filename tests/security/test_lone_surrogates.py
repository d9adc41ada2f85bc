"""Half of a surrogate pair alone (`"\\ud800"` in JSON) is refused with every body: no
UTF-8 encoder takes it back, so once kept it made every later answer that held it fail
(the templates, the sends, the programs, and the audit log, which no one can clean). A
pair written whole (an emoji) is text and is written as it is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Api

LONE = "a\ud800b"
UZ_TEST_NUMBER = "+998991234500"

# (method, path, the body with {text} where the string goes)
WRITES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "post",
        "/api/v1/messages/templates",
        {"id": "t2", "name": "x", "body": "x", "provider_bodies": {"provider1": "{text}"}},
    ),
    ("post", "/api/v1/programs", {"name": "progx", "command": ["python3", "x.py", "{text}"]}),
    ("patch", "/api/v1/pairs/UZ_base", {"region": "{text}"}),
    ("patch", "/api/v1/pairs/UZ_base", {"state": "paused", "state_reason": "{text}"}),
    ("post", "/api/v1/pairs", {"country": "UZ", "operator": "Other", "region": "{text}"}),
    ("post", "/api/v1/sessions/actions", {"action": "stop", "country": "UZ", "reason": "{text}"}),
    (
        "post",
        "/api/v1/messages/send",
        {"phone": UZ_TEST_NUMBER, "template_id": "otp", "params": {"token": "{text}"}},
    ),
    ("post", "/api/v1/messages/send", {"phone": UZ_TEST_NUMBER, "text": "{text}"}),
    ("post", "/sendsms/", {"phone": UZ_TEST_NUMBER, "template_id": "otp", "token_value": "{text}"}),
    ("post", "/api/v1/auth/api-keys", {"name": "{text}"}),
]
READS = [
    "/api/v1/messages/templates",
    "/api/v1/messages/sends",
    "/api/v1/programs",
    "/api/v1/pairs",
    "/api/v1/audit?limit=500",
    "/api/v1/auth/api-keys",
]


def _raw(template: dict[str, Any], text: str) -> bytes:
    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return text if value == "{text}" else value

    # ASCII-only JSON: the surrogate goes as its escape, as an attacker's client sends it.
    return json.dumps(fill(template)).encode()


def _read(client: TestClient, headers: dict[str, str]) -> list[Any]:
    answers = [client.get(path, headers=headers) for path in READS]
    assert [answer.status_code for answer in answers] == [200] * len(READS), [
        (path, answer.text) for path, answer in zip(READS, answers, strict=True)
    ]
    return [answer.json() for answer in answers]


@pytest.fixture
def fleet(api: Api) -> Api:
    admin = api.headers()
    for path, body in [
        ("/api/v1/pairs", {"country": "UZ", "operator": "Base", "phone_numbers": [UZ_TEST_NUMBER]}),
        ("/api/v1/messages/templates", {"id": "otp", "name": "otp", "body": "Code: {token}"}),
    ]:
        made = api.client.post(path, json=body, headers=admin)
        assert made.status_code == 201, made.text
    return api


def test_a_lone_surrogate_is_refused_in_every_body_and_nothing_is_written(fleet: Api) -> None:
    admin = {**fleet.headers(), "Content-Type": "application/json"}
    before = _read(fleet.client, admin)
    for method, path, template in WRITES:
        answer = fleet.client.request(method, path, content=_raw(template, LONE), headers=admin)
        assert answer.status_code == 400, (path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "invalid_json", (path, error)
        assert "hex escape" in error["message"], (path, error)
    assert _read(fleet.client, admin) == before


def test_a_surrogate_pair_written_whole_is_text(fleet: Api) -> None:
    admin = {**fleet.headers(), "Content-Type": "application/json"}
    body = {"id": "t3", "name": "x", "body": "x", "provider_bodies": {"provider1": "{text}"}}
    made = fleet.client.post(
        "/api/v1/messages/templates", content=_raw(body, "ok \U0001f389"), headers=admin
    )
    assert made.status_code == 201, made.text
    assert made.json()["provider_bodies"] == {"provider1": "ok \U0001f389"}
    _read(fleet.client, admin)


def test_a_number_json_has_not_is_refused_as_invalid_json(fleet: Api) -> None:
    """`NaN` and `Infinity` are not JSON: refused as such, not read as numbers."""
    admin = {**fleet.headers(), "Content-Type": "application/json"}
    for number in (b"NaN", b"Infinity", b"-Infinity"):
        answer = fleet.client.patch(
            "/api/v1/countries/UZ", content=b'{"cap": ' + number + b"}", headers=admin
        )
        assert answer.status_code == 400, (number, answer.text)
        assert answer.json()["error"]["code"] == "invalid_json"
