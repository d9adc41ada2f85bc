"""The seed fleet dashboard write-up: `POST /login`, `POST`/`GET`/`DELETE /country-operator`
and `POST /alert {"message"}`, as its users send them.

`/login` answers the access token the other routes take. A pair is added by country
(name or ISO code) and operator, listed as a JSON array, and deleted by the two again.
An alert is kept, sent where it can be: with no channel configured (the demo) it is
still kept, listed and pushed live (202, no channel); with Telegram it goes to every
chat. It is open until someone acknowledges it. Each test starts, on the same running
control plane, with no alert open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsfleet.auth.models import Role
from tests.support.api import PASSWORDS
from tests.support.live_server import LiveApi, live_api
from tests.support.telegram import TelegramStandIn

MESSAGE = "UZ_uzmobile: no SMS delivered for 10 minutes"
TOKEN = "4242:seed-alert"


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(token=TOKEN) as stand_in:
        yield stand_in


@pytest.fixture(autouse=True)
def no_alert_open(control_plane: LiveApi) -> Iterator[None]:
    """The alerts a test raised are acknowledged after it, so the next starts with none."""
    yield
    headers = control_plane.headers(Role.operator)
    firing = control_plane.client.get("/api/v1/alerts", params={"state": "firing"}, headers=headers)
    for alert in firing.json():
        acked = control_plane.client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=headers)
        assert acked.status_code == 200, acked.text


def seed_login(api: LiveApi, role: Role) -> dict[str, str]:
    """Headers with the token of the document's `POST /login`."""
    answer = api.client.post("/login", json={"username": role.value, "password": PASSWORDS[role]})
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"access_token", "token_type"}
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_login_answers_a_token_the_routes_take(control_plane: LiveApi) -> None:
    api = control_plane
    headers = seed_login(api, Role.viewer)
    assert api.client.get("/country-operator", headers=headers).status_code == 200
    wrong = api.client.post("/login", json={"username": "viewer", "password": "not-its-password"})
    assert wrong.status_code == 401
    assert api.client.get("/country-operator").status_code == 401


def test_country_operator_pairs_are_added_listed_and_deleted(control_plane: LiveApi) -> None:
    api = control_plane
    headers = seed_login(api, Role.operator)
    created = api.client.post(
        "/country-operator",
        json={"country": "Uzbekistan", "operator": "UzMobile", "is_high_priority": False},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert (created.json()["country"], created.json()["key"]) == ("Uzbekistan", "UZ_uzmobile")
    # A high-priority pair's sessions always run: only an admin marks one.
    by_code = api.client.post(
        "/country-operator",
        json={"country": "IN", "operator": "Vi India", "is_high_priority": True},
        headers=seed_login(api, Role.admin),
    )
    assert by_code.status_code == 201, by_code.text
    listed = api.client.get("/country-operator", headers=headers)
    assert listed.status_code == 200
    assert sorted((p["country"], p["operator"], p["is_high_priority"]) for p in listed.json()) == [
        ("India", "Vi India", True),
        ("Uzbekistan", "UzMobile", False),
    ]

    deleted = api.client.delete("/country-operator/Uzbekistan/UzMobile", headers=headers)
    assert deleted.status_code == 200, deleted.text
    # A high-priority pair goes only when an admin insists.
    assert api.client.delete("/country-operator/IN/vi-india", headers=headers).status_code == 403
    forced = api.client.delete(
        "/country-operator/IN/vi-india", params={"force": True}, headers=seed_login(api, Role.admin)
    )
    assert forced.status_code == 200, forced.text
    assert api.client.get("/country-operator", headers=headers).json() == []
    unknown = api.client.delete("/country-operator/UZ/uzmobile", headers=headers)
    assert unknown.status_code == 404


def test_without_a_channel_the_alert_is_kept_listed_and_pushed_live(
    control_plane: LiveApi,
) -> None:
    api = control_plane
    with api.server.live_socket(api.token(Role.viewer)) as socket:
        raised = api.client.post(
            "/alert", json={"message": MESSAGE}, headers=api.headers(Role.operator)
        )
        assert raised.status_code == 202, raised.text
        live = json.loads(socket.recv(timeout=10))
    body = raised.json()
    assert (body["status"], body["state"], body["channels"]) == ("accepted", "firing", [])
    assert (live["topic"], live["data"]["id"]) == ("alerts", body["alert_id"])
    assert (live["data"]["summary"], live["data"]["started_at"]) == (
        MESSAGE,
        live["data"]["last_seen_at"],  # a new alert: the dashboard toasts it
    )
    listed = api.client.get(
        "/api/v1/alerts", params={"state": "firing"}, headers=api.headers(Role.viewer)
    ).json()
    (alert,) = listed
    assert (alert["id"], alert["rule"], alert["severity"]) == (
        body["alert_id"],
        "manual",
        "critical",
    )
    assert (alert["subject_kind"], alert["details"]) == (
        "fleet",
        {"message": MESSAGE, "actor": "operator"},
    )
    counts = api.client.get("/api/v1/alerts/overview", headers=api.headers()).json()["counts"]
    assert counts["firing"] == 1


def test_the_same_message_while_open_is_the_same_alert(control_plane: LiveApi) -> None:
    api = control_plane
    headers = api.headers(Role.operator)
    first = api.client.post("/alert", json={"message": MESSAGE}, headers=headers).json()
    again = api.client.post("/alert", json={"message": MESSAGE}, headers=headers).json()
    other = api.client.post("/alert", json={"message": "another"}, headers=headers).json()
    assert first["alert_id"] == again["alert_id"] != other["alert_id"]
    # No channel is configured: what it says is that, not a repeat interval.
    assert again["message"] == (
        "already open; no channel is configured (SMSFLEET_TELEGRAM_BOT_TOKEN, _CHAT_IDS)"
    )
    firing = api.client.get("/api/v1/alerts", params={"state": "firing"}, headers=headers)
    assert len(firing.json()) == 2


def test_the_same_message_at_a_lower_severity_leaves_the_open_alert_as_it_is(
    control_plane: LiveApi,
) -> None:
    api = control_plane
    headers = api.headers(Role.operator)
    body = {"message": MESSAGE, "severity": "critical"}
    first = api.client.post("/alert", json=body, headers=headers)
    assert first.status_code == 202, first.text
    for lower in ("warning", "info"):
        again = api.client.post("/alert", json={**body, "severity": lower}, headers=headers)
        assert again.status_code == 202, again.text
        assert again.json()["alert_id"] == first.json()["alert_id"]
        assert again.json()["message"].startswith("already open")
    [alert] = api.client.get("/api/v1/alerts", params={"state": "firing"}, headers=headers).json()
    assert alert["severity"] == "critical"


def test_acknowledging_a_persons_alert_resolves_it(control_plane: LiveApi) -> None:
    api = control_plane
    headers = api.headers(Role.operator)
    raised = api.client.post("/alert", json={"message": MESSAGE}, headers=headers).json()
    acked = api.client.post(f"/api/v1/alerts/{raised['alert_id']}/ack", headers=headers)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["state"], acked.json()["acknowledged_by"]) == ("resolved", "operator")
    firing = api.client.get("/api/v1/alerts", params={"state": "firing"}, headers=headers)
    assert firing.json() == []


def test_with_telegram_every_chat_takes_it(tmp_path: Path, telegram: TelegramStandIn) -> None:
    with live_api(
        tmp_path,
        SMSFLEET_TELEGRAM_API_URL=telegram.url,
        SMSFLEET_TELEGRAM_BOT_TOKEN=TOKEN,
        SMSFLEET_TELEGRAM_CHAT_IDS="-100, -200",
    ) as api:
        raised = api.client.post(
            "/alert", json={"message": MESSAGE}, headers=api.headers(Role.operator)
        )
        assert raised.status_code == 202, raised.text
        assert raised.json()["channels"] == ["telegram:-100", "telegram:-200"]
        deadline = time.monotonic() + 10
        while len(telegram.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(m.chat_id for m in telegram.messages) == ["-100", "-200"]
        assert all(MESSAGE in m.text for m in telegram.messages)
        again = api.client.post(
            "/alert", json={"message": MESSAGE}, headers=api.headers(Role.operator)
        ).json()
        assert (again["channels"], again["message"]) == (
            [],
            "already open: not sent again before the repeat interval",
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"message": ""}, "message"),
        ({"message": 5}, "message"),
        ({"message": "x", "severity": "loud"}, "severity"),
        ({"message": "x", "extra": 1}, "extra"),
    ],
)
def test_bad_bodies_are_refused_with_the_field(
    control_plane: LiveApi, body: object, field: str
) -> None:
    api = control_plane
    answer = api.client.post("/alert", json=body, headers=api.headers(Role.operator))
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["field"] == field
