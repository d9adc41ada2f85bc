"""One error shape for the three HTTP apps, and a search service that loads nothing of the
control plane."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from smsfleet.api import create_app
from smsfleet.core.errors import ValidationFailed
from smsfleet.core.http_errors import install_error_handlers
from smsfleet.core.settings import Settings
from smsfleet.core.text import Prose
from smsfleet.search.app import create_search_app
from smsfleet.simulator import create_simulator_app, load_config

REPO = Path(__file__).resolve().parents[3]
TOKEN = "search-token-for-error-shape-tests"


def _apps(tmp_path: Path) -> dict[str, tuple[FastAPI, str, dict[str, str]]]:
    """Each app, a POST route with a JSON body, and the headers it takes."""
    settings = Settings(data_dir=tmp_path, web_dir=tmp_path / "no-web", supervise=False)
    search = Settings(data_dir=tmp_path / "search", search_token=TOKEN)
    return {
        "control plane": (create_app(settings), "/api/v1/auth/login", {}),
        "search service": (
            create_search_app(search),
            "/v1/jobs",
            {"Authorization": f"Bearer {TOKEN}", "X-Owner": "alice"},
        ),
        "simulator": (
            create_simulator_app(load_config(REPO / "deploy" / "simulator.toml")),
            "/providers/provider1/send",
            {},
        ),
    }


@pytest.fixture(params=["control plane", "search service", "simulator"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    application, route, headers = _apps(tmp_path)[request.param]
    with TestClient(application, headers=headers) as client:
        yield client, route


def test_every_app_answers_errors_in_one_shape(app: tuple[TestClient, str]) -> None:
    client, route = app
    invalid = client.post(route, json={"unexpected": ["shape"]})
    assert invalid.status_code == 422
    body = invalid.json()["error"]
    assert body["code"] == "validation_error" and body["message"].startswith("invalid input")
    assert all(set(detail) == {"field", "message"} for detail in body["details"])

    not_json = client.post(route, content=b"{oops", headers={"Content-Type": "application/json"})
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "invalid_json")

    missing = client.get("/api/v1/nowhere-at-all")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error"}
    assert set(missing.json()["error"]) == {"code", "message", "details"}


def test_a_field_named_like_where_it_came_from_keeps_its_name(tmp_path: Path) -> None:
    application, route, headers = _apps(tmp_path)["search service"]
    with TestClient(application, headers=headers) as client:
        empty = client.post(route, json={"query": "", "limit": 0})
    assert empty.status_code == 422
    assert [d["field"] for d in empty.json()["error"]["details"]] == ["query", "limit"]


def test_a_refused_field_reads_like_a_validation_error() -> None:
    refused = ValidationFailed.for_field("phone", "not a phone number")
    assert refused.message == "phone: not a phone number"
    assert refused.details == [{"field": "phone", "message": "not a phone number"}]
    assert ValidationFailed.for_field("pair", "unknown", message="no pair 'x'").message == (
        "no pair 'x'"
    )


def test_the_search_service_loads_nothing_of_the_control_plane() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, smsfleet.search.app, smsfleet.search.__main__;"
            " print(json.dumps(sorted(m for m in sys.modules if m.startswith('smsfleet'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = json.loads(loaded.stdout)
    foreign = [
        name
        for name in modules
        if name != "smsfleet" and not name.startswith(("smsfleet.core", "smsfleet.search"))
    ]
    assert foreign == []


class ShortText(BaseModel):
    text: Prose | None = Field(default=None, min_length=1, max_length=5)


def test_a_text_too_short_or_too_long_is_said_in_characters() -> None:
    """An optional text checked by a validator of its own (`Prose | None`) has its length
    counted by pydantic as items: the answer says characters, as it does of any text."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/texts")
    def take(body: ShortText) -> str | None:
        return body.text

    with TestClient(app) as client:
        for text, said in (
            ("", "String should have at least 1 character"),
            ("toolong", "String should have at most 5 characters"),
        ):
            answer = client.post("/texts", json={"text": text})
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["details"] == [{"field": "text", "message": said}]
