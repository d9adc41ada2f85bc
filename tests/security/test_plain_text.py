"""Free text people write is refused when it would change how the text around it is shown:
control characters and the Unicode controls that reorder text (an override turns a
neighbouring region or reason around: "evil" read as "live"). Scripts written right to
left, and the joiners they and emoji use, are written as they are (the invisible
characters refused besides: test_invisible_text)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from smsfleet.auth.models import Role
from tests.support.api import Api
from tests.support.search import sending_api

# (method, path, the body with {text} where free text goes, the field the 422 names)
WRITES: list[tuple[str, str, dict[str, Any], str]] = [
    ("post", "/api/v1/pairs", {"country": "UZ", "operator": "{text}"}, "operator"),
    (
        "post",
        "/api/v1/pairs",
        {"country": "UZ", "operator": "Ok", "slug": "ok", "region": "{text}"},
        "region",
    ),
    ("patch", "/api/v1/pairs/UZ_base", {"state_reason": "{text}"}, "state_reason"),
    ("post", "/country-operator", {"country": "UZ", "operator": "{text}"}, "operator"),
    (
        "post",
        "/api/v1/programs",
        {"name": "progx", "command": ["python3", "x.py"], "description": "{text}"},
        "description",
    ),
    (
        "post",
        "/api/v1/messages/templates",
        {"id": "otp", "name": "{text}", "body": "Your code: {token}"},
        "name",
    ),
    ("post", "/api/v1/auth/api-keys", {"name": "{text}"}, "name"),
    ("post", "/api/v1/alerts/test", {"message": "{text}"}, "message"),
    (
        "post",
        "/api/v1/sessions/actions",
        {"action": "stop", "country": "UZ", "reason": "{text}"},
        "reason",
    ),
]
HOSTILE = [
    "live\u202eevil",  # right-to-left override
    "a\u2066b",  # left-to-right isolate
    "nul\x00",
    "esc\x1b]0;title\x07",
    "bell\x07",
    "c1\x9b2J",
]
UZ_TEST_NUMBER = "+998991234500"  # the pairs' own: a pair without one sends nothing
WRITTEN_AS_IS = [
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    "Beeline \U0001f469\u200d\U0001f4bb",
    "Vi India",
]


def _body(template: dict[str, Any], text: str) -> dict[str, Any]:
    return {key: text if value == "{text}" else value for key, value in template.items()}


@pytest.fixture
def base_pair(api: Api) -> None:
    made = api.client.post(
        "/api/v1/pairs",
        json={"country": "UZ", "operator": "Base", "phone_numbers": [UZ_TEST_NUMBER]},
        headers=api.headers(),
    )
    assert made.status_code == 201, made.text


@pytest.mark.usefixtures("base_pair")
@pytest.mark.parametrize("text", HOSTILE, ids=["rlo", "isolate", "nul", "osc", "bell", "c1"])
def test_hostile_text_is_refused_by_name_and_nothing_is_written(api: Api, text: str) -> None:
    admin = api.headers()
    before = {
        "pairs": api.store.pairs.list(),
        "templates": api.client.get("/api/v1/messages/templates", headers=admin).json(),
        "keys": api.client.get("/api/v1/auth/api-keys", headers=admin).json(),
        "programs": api.client.get("/api/v1/programs", headers=admin).json(),
    }
    for method, path, template, field in WRITES:
        answer = api.client.request(method, path, json=_body(template, text), headers=admin)
        assert answer.status_code == 422, (path, field, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_error", (path, error)
        assert field in answer.text and "not allowed" in answer.text, (path, answer.text)
    assert before == {
        "pairs": api.store.pairs.list(),
        "templates": api.client.get("/api/v1/messages/templates", headers=admin).json(),
        "keys": api.client.get("/api/v1/auth/api-keys", headers=admin).json(),
        "programs": api.client.get("/api/v1/programs", headers=admin).json(),
    }


@pytest.mark.parametrize("text", WRITTEN_AS_IS, ids=["persian-zwnj", "emoji-zwj", "latin"])
def test_right_to_left_text_and_its_marks_are_written_as_they_are(api: Api, text: str) -> None:
    admin = api.headers()
    made = api.client.post(
        "/api/v1/pairs",
        json={"country": "UZ", "operator": text, "slug": "rtl", "region": text},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert (made.json()["operator"], made.json()["region"]) == (text, text)
    template = {"id": "otp", "name": text, "body": f"{text}\n\tYour code: {{token}}"}
    added = api.client.post("/api/v1/messages/templates", json=template, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["body"] == template["body"]  # a body keeps its new lines and tabs


# What is sent, recorded as sent or searched, and shown to everyone who reads the sends,
# the conversations and the searches: (path, the body with {text} where free text goes,
# the field the 422 names, whether new lines and tabs belong in it).
UZ, UZ_OTHER = "+998991234567", "+998991234568"
SEED_SMS = {
    "senderPhone": UZ.removeprefix("+"),
    "receiverPhone": UZ_OTHER.removeprefix("+"),
    "timestamp": 1645845235,
}
SENT_AND_SEARCHED: list[tuple[str, dict[str, Any], str, bool]] = [
    ("/api/v1/messages/send", {"phone": UZ, "text": "{text}"}, "text", True),
    (
        "/api/v1/messages/send",
        {"phone": UZ, "template_id": "otp", "params": {"token": "{text}"}},
        "params.token",
        True,
    ),
    (
        "/api/v1/messages/send",
        {"phone": UZ, "template_id": "otp", "params": {"token": "1", "{text}": "1"}},
        "params.",  # then the name itself
        False,
    ),
    (
        "/sendsms/",
        {"phone": UZ, "template_id": "otp", "token_value": "{text}"},
        "token_value.token",
        False,
    ),
    (
        "/sendsms/",
        {"phone": UZ, "template_id": "otp", "token_value": {"token": "{text}"}},
        "token_value.by_name.token.text",
        False,
    ),
    ("/api/send-sms", {**SEED_SMS, "messageText": "{text}"}, "messageText", True),
    ("/api/receive-sms", {**SEED_SMS, "messageText": "{text}"}, "messageText", True),
    ("/api/v1/search/jobs", {"query": "{text}"}, "query", False),
]
SENT_IDS = [
    "send-text",
    "send-params",
    "send-param-name",
    "sendsms-token",
    "sendsms-by-name",
    "send-sms",
    "receive-sms",
    "search-query",
]
ORDINARY = "Código ÄÖÜ ñ ✓ 🎉 мир \u0645\u0631\u062d\u0628\u0627"


def _sent(template: dict[str, Any], text: str) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {fill(key): fill(item) for key, item in value.items()}
        return text if value == "{text}" else value

    body: dict[str, Any] = fill(template)
    if "messageText" in body:
        body["uuid"] = str(uuid.uuid4())
    return body


def _shown(api: Api) -> str:
    """What an operator reads of sends, conversations (404: none) and their searches, as
    JSON: texts in full (a viewer reads none, test_viewer_codes)."""
    operator = api.headers(Role.operator)
    reads = [
        "/api/v1/messages/sends",
        f"/api/v1/messages/conversations/{UZ}",
        f"/api/v1/messages/conversations/{UZ_OTHER}",
        "/api/v1/search/jobs",
    ]
    answers = [api.client.get(path, headers=operator) for path in reads]
    return json.dumps([(answer.status_code, answer.json()) for answer in answers])


@pytest.fixture
def sending(tmp_path: Path) -> Iterator[Api]:
    """A control plane that sends (a UZ pair, a program, the template `otp`) and searches
    (the search service on loopback)."""
    otp = {"id": "otp", "name": "Otp", "body": "{token}"}
    with sending_api(
        tmp_path,
        pair={"country": "UZ", "operator": "Uz", "phone_numbers": [UZ_TEST_NUMBER]},
        template=otp,
    ) as api:
        yield api


@pytest.mark.parametrize(("path", "template", "field", "prose"), SENT_AND_SEARCHED, ids=SENT_IDS)
def test_hostile_text_sent_or_searched_is_refused_by_name_and_nothing_is_kept(
    sending: Api, path: str, template: dict[str, Any], field: str, prose: bool
) -> None:
    api = sending
    before = _shown(api)
    # One line holds no new line nor tab; a text or a value may hold both.
    for text in [*HOSTILE, *([] if prose else ["two\nlines", "a\ttab"])]:
        answer = api.client.post(
            path, json=_sent(template, text), headers=api.headers(Role.operator)
        )
        assert answer.status_code == 422, (path, field, text, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_error", (path, error)
        assert any(d["field"].startswith(field) for d in error["details"]), (path, error)
        assert "not allowed" in answer.text, (path, answer.text)
    assert _shown(api) == before


@pytest.mark.parametrize(("path", "template", "field", "prose"), SENT_AND_SEARCHED, ids=SENT_IDS)
def test_ordinary_text_is_sent_and_searched_as_it_is(
    sending: Api, path: str, template: dict[str, Any], field: str, prose: bool
) -> None:
    api = sending
    text = f"{ORDINARY}\n\tline two" if prose else ORDINARY
    answer = api.client.post(path, json=_sent(template, text), headers=api.headers(Role.operator))
    assert answer.status_code in (200, 202), (field, answer.text)
    assert json.dumps(text)[1:-1] in _shown(api), field


def _a_control(c: str) -> bool:
    return (
        ord(c) < 0x20
        or 0x7F <= ord(c) <= 0x9F
        or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )


@pytest.mark.parametrize("text", HOSTILE, ids=["rlo", "isolate", "nul", "osc", "bell", "c1"])
def test_an_error_repeats_what_was_sent_with_its_controls_escaped(api: Api, text: str) -> None:
    """A 422 names the field, which may be a key someone sent, and its message may repeat
    a value: their controls are written as \\uXXXX, so an error cannot ring, retitle or
    turn around whatever shows it (the dashboard shows a form's errors)."""
    template = {"id": "otp", "name": "OTP", "body": "Your code: {token}"}
    answer = api.client.post(
        "/api/v1/messages/templates",
        json={**template, "provider_bodies": {f"p{text}": "Code {token}"}},
        headers=api.headers(),
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    shown = [error["message"], *(f"{d['field']} {d['message']}" for d in error["details"])]
    assert not [line for line in shown if any(_a_control(c) for c in line)]
    escaped = "".join(f"\\u{ord(c):04x}" if _a_control(c) else c for c in text)
    assert f"provider_bodies.p{escaped}" in error["details"][0]["field"]


@pytest.mark.parametrize("text", HOSTILE, ids=["rlo", "isolate", "nul", "osc", "bell", "c1"])
@pytest.mark.parametrize("route", ["/api/v1/messages/conversations/", "/api/get-conversation/"])
def test_a_number_not_found_is_repeated_with_its_controls_escaped(
    api: Api, route: str, text: str
) -> None:
    answer = api.client.get(route + quote(f"+1{text}234", safe=""), headers=api.headers())
    assert answer.status_code == 404, answer.text
    message = answer.json()["error"]["message"]
    assert not any(_a_control(c) for c in message), message
    assert "\\u" in message
