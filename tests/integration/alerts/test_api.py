"""`/api/v1/alerts/*` and the seed route `POST /alert`, with a Telegram stand-in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsfleet.alerts.models import AlertRule, Severity, Signal, SubjectKind
from smsfleet.alerts.runtime import Alerts
from smsfleet.auth.models import Role
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock
from tests.support.telegram import TelegramStandIn
from tests.support.waiting import eventually

TOKEN = "4242:alerts-api"


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(token=TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def wired(tmp_path: Path, telegram: TelegramStandIn) -> Iterator[Api]:
    with running_api(
        tmp_path,
        telegram_api_url=telegram.url,
        telegram_bot_token=TOKEN,
        telegram_chat_ids="-100, -200",
        telegram_routes="critical=-999",
    ) as running:
        yield running


def received(telegram: TelegramStandIn, count: int) -> list[str]:
    deadline = time.monotonic() + 10
    while len(telegram.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [f"{m.chat_id}: {m.text}" for m in telegram.messages]


def test_the_seed_route_and_the_test_route_send_at_once(
    wired: Api, telegram: TelegramStandIn
) -> None:
    response = wired.client.post(
        "/alert", json={"message": "UZ <down> & out"}, headers=wired.headers(Role.operator)
    )
    assert response.status_code == 202, response.text
    assert response.json()["channels"] == ["telegram:-100", "telegram:-200", "telegram:-999"]
    sent = sorted(received(telegram, 3))
    assert [line.split(":")[0] for line in sent] == ["-100", "-200", "-999"]
    assert all("CRITICAL" in line and "UZ &lt;down&gt; &amp; out" in line for line in sent)
    assert all(line.endswith(", raised by operator") for line in sent)  # as messages say who
    test = wired.client.post(
        "/api/v1/alerts/test", json={"message": "ping"}, headers=wired.headers(Role.admin)
    )
    assert test.status_code == 202
    assert len(received(telegram, 6)) == 6


def test_messages_telegram_has_not_taken_say_why_and_when_they_are_tried_again(
    wired: Api, telegram: TelegramStandIn
) -> None:
    headers = wired.headers(Role.admin)

    def status() -> dict[str, object]:
        found: dict[str, object] = wired.client.get(
            "/api/v1/alerts/overview", headers=headers
        ).json()["telegram"]
        return found

    assert status()["not_taken"] is None and status()["next_try_at"] is None
    telegram.stop()
    first = wired.client.post("/api/v1/alerts/test", json={"message": "one"}, headers=headers)
    assert first.json()["message"] == "queued for 3 chat(s); it goes out at once"
    eventually(lambda: status()["not_taken"] is not None)
    said = status()
    assert said["pending"] == 3
    assert said["not_taken"] == "Telegram unreachable: ConnectError", said
    assert isinstance(said["next_try_at"], str)
    second = wired.client.post("/api/v1/alerts/test", json={"message": "two"}, headers=headers)
    assert second.json()["message"].startswith(
        "queued for 3 chat(s); it goes out once Telegram takes the messages before it"
        " (Telegram unreachable: ConnectError; next try at "
    ), second.text

    telegram.start()
    assert isinstance(wired.clock, FakeClock)
    wired.clock.advance(120)  # past the retry
    assert len(received(telegram, 6)) == 6
    eventually(lambda: status()["pending"] == 0)
    assert status()["not_taken"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"message": ""}, "message"),
        ({"message": 5}, "message"),
        ({"message": "x", "extra": 1}, "extra"),
    ],
)
def test_bad_messages_are_refused_with_the_field(wired: Api, body: object, field: str) -> None:
    response = wired.client.post("/alert", json=body, headers=wired.headers(Role.operator))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == field


def test_viewers_read_but_do_not_send_or_acknowledge(wired: Api) -> None:
    viewer = wired.headers(Role.viewer)
    assert wired.client.post("/alert", json={"message": "x"}, headers=viewer).status_code == 403
    assert wired.client.get("/api/v1/alerts", headers=viewer).status_code == 200
    assert wired.client.post("/alert", json={"message": "x"}).status_code == 401


def test_without_telegram_a_test_message_is_a_clear_conflict_an_alert_is_kept(api: Api) -> None:
    response = api.client.post("/api/v1/alerts/test", json={"message": "x"}, headers=api.headers())
    assert response.status_code == 409
    assert "SMSFLEET_TELEGRAM_BOT_TOKEN" in response.json()["error"]["message"]
    kept = api.client.post("/alert", json={"message": "x"}, headers=api.headers())
    assert (kept.status_code, kept.json()["channels"]) == (202, [])


def test_the_developer_page_lists_a_telegram_breaker_only_when_telegram_is_set_up(
    wired: Api, tmp_path: Path
) -> None:
    """Without a bot token nothing is sent: no breaker says Telegram works."""

    def breakers(running: Api) -> set[str]:
        answer = running.client.get("/api/v1/developer/breakers", headers=running.headers())
        assert answer.status_code == 200, answer.text
        return {breaker["name"] for breaker in answer.json()}

    assert "telegram" in breakers(wired)
    elsewhere = tmp_path / "without-telegram"
    elsewhere.mkdir()
    with running_api(elsewhere) as plain:
        assert "telegram" not in breakers(plain)


def test_list_filter_acknowledge_and_overview(wired: Api, telegram: TelegramStandIn) -> None:
    alerts: Alerts = wired.services.alerts
    signals = [
        Signal(
            rule=AlertRule.success_rate_low,
            severity=severity,
            subject_kind=SubjectKind.pair,
            subject=subject,
            country=subject[:2],
            summary=f"{subject} low",
        )
        for subject, severity in (("UZ_a", Severity.critical), ("KZ_b", Severity.warning))
    ]
    alerts.service.apply(opened=signals)
    headers = wired.headers(Role.operator)
    listed = wired.client.get("/api/v1/alerts", params={"country": "uz"}, headers=headers)
    assert [a["subject"] for a in listed.json()] == ["UZ_a"]
    critical = wired.client.get(
        "/api/v1/alerts", params={"severity": "critical", "state": "firing"}, headers=headers
    ).json()
    (alert,) = critical
    assert set(alert) >= {"id", "rule", "severity", "state", "summary", "started_at"}
    acked = wired.client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=headers)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "operator"
    unacked = wired.client.get(
        "/api/v1/alerts", params={"acknowledged": "false"}, headers=headers
    ).json()
    assert [a["subject"] for a in unacked] == ["KZ_b"]
    overview = wired.client.get("/api/v1/alerts/overview", headers=headers).json()
    assert overview["counts"] == {"firing": 2, "critical": 1, "unacknowledged": 1}
    assert overview["telegram"]["configured"] is True
    sent = wired.client.get(f"/api/v1/alerts/{alert['id']}/notifications", headers=headers)
    assert {n["chat_id"] for n in sent.json()} == {"-100", "-200", "-999"}
    assert wired.client.get("/api/v1/alerts/nope", headers=headers).status_code == 404
    assert wired.client.post("/api/v1/alerts/nope/ack", headers=headers).status_code == 404
    bad = wired.client.get("/api/v1/alerts", params={"severity": "loud"}, headers=headers)
    assert bad.status_code == 422
    # The critical alert to every chat and the on-call one; the warning to every chat.
    chats = sorted((line.split(":")[0], "CRITICAL" in line) for line in received(telegram, 5))
    assert chats == [
        ("-100", False),
        ("-100", True),
        ("-200", False),
        ("-200", True),
        ("-999", True),
    ]


def test_prometheus_shows_what_is_firing(wired: Api) -> None:
    alerts: Alerts = wired.services.alerts
    alerts.service.apply(
        opened=[
            Signal(
                rule=AlertRule.gateway_errors,
                severity=Severity.warning,
                subject_kind=SubjectKind.gateway,
                subject="program3",
                summary="failing",
            )
        ]
    )
    text = wired.client.get("/metrics").text
    assert 'smsfleet_alerts_firing{rule="gateway_errors",severity="warning"} 1.0' in text
    assert "smsfleet_alert_outbox_pending" in text
