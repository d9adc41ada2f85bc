"""A name or other one-line field is refused when it holds an invisible character that
changes what is shown or compared: line and paragraph separators, direction marks,
zero-width characters, tags and interlinear annotations. Prose (an alert's message, an
SMS text) keeps them, as real right-to-left text and received SMS carry them. The joiners
Persian and emoji need are written as they are."""

from __future__ import annotations

import pytest

from tests.support.api import Api

# (the character, a word of why it is refused)
UNSEEN = [
    ("\u2028", "line or paragraph separator"),
    ("\u2029", "line or paragraph separator"),
    ("\u200e", "direction mark"),
    ("\u200f", "direction mark"),
    ("\u061c", "direction mark"),
    ("\u200b", "invisible character"),
    ("\u2060", "invisible character"),
    ("\ufeff", "invisible character"),
    ("\U000e0041", "tag character"),
    ("\ufff9", "interlinear annotation"),
    ("\ufffa", "interlinear annotation"),
    ("\ufffb", "interlinear annotation"),
]
JOINED = ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\U0001f469\u200d\U0001f4bb"]


@pytest.fixture
def pair(api: Api) -> str:
    made = api.client.post(
        "/country-operator", json={"country": "IN", "operator": "zz1"}, headers=api.headers()
    )
    assert made.status_code == 201, made.text
    return "IN_zz1"


@pytest.mark.parametrize(("char", "why"), UNSEEN, ids=[f"U+{ord(c):04X}" for c, _ in UNSEEN])
def test_an_unseen_character_is_refused_by_code_and_why(
    api: Api, pair: str, char: str, why: str
) -> None:
    admin = api.headers()
    code = f"U+{ord(char):04X}"
    writes = [
        ("patch", f"/api/v1/pairs/{pair}", {"operator": f"a{char}b"}, "operator"),
        ("post", "/api/v1/auth/api-keys", {"name": f"a{char}b"}, "name"),
    ]
    for method, path, body, field in writes:
        answer = api.client.request(method, path, json=body, headers=admin)
        assert answer.status_code == 422, (path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_error"
        (detail,) = error["details"]
        assert detail["field"] == field
        assert f"{code} at position" in detail["message"], detail
        assert why in detail["message"], detail
    kept = api.store.pairs.get(pair)
    assert kept is not None and kept.operator == "zz1"
    assert api.client.get("/api/v1/auth/api-keys", headers=admin).json() == []
    # Prose keeps it: an Arabic SMS text carries direction marks, and is kept as it came.
    message = f"line one\n\ta{char}b"
    raised = api.client.post("/alert", json={"message": message}, headers=admin)
    assert raised.status_code == 202, raised.text
    alert = api.client.get(f"/api/v1/alerts/{raised.json()['alert_id']}", headers=admin)
    assert alert.json()["summary"] == message


@pytest.mark.parametrize("text", JOINED, ids=["persian-zwnj", "emoji-zwj"])
def test_the_joiners_are_written_as_they_are(api: Api, pair: str, text: str) -> None:
    admin = api.headers()
    changed = api.client.patch(f"/api/v1/pairs/{pair}", json={"operator": text}, headers=admin)
    assert (changed.status_code, changed.json()["operator"]) == (200, text), changed.text
    raised = api.client.post("/alert", json={"message": f"{text}\n\t{text}"}, headers=admin)
    assert raised.status_code == 202, raised.text
