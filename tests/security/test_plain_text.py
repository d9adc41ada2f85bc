"""Free text people write is refused when it would change how the text around it is shown:
control characters and the Unicode controls that reorder text (an override turns a
neighbouring region or reason around: "evil" read as "live"). Scripts written right to
left, and the marks and joiners they use, are written as they are."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api

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
WRITTEN_AS_IS = ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "Beeline \u200fUZ", "Vi India"]


def _body(template: dict[str, Any], text: str) -> dict[str, Any]:
    return {key: text if value == "{text}" else value for key, value in template.items()}


@pytest.fixture
def base_pair(api: Api) -> None:
    made = api.client.post(
        "/api/v1/pairs", json={"country": "UZ", "operator": "Base"}, headers=api.headers()
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


@pytest.mark.parametrize("text", WRITTEN_AS_IS, ids=["persian-zwnj", "rlm", "latin"])
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
