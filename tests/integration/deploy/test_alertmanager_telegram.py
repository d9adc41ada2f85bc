"""The shipped Alertmanager configuration and Telegram template, on a real Alertmanager.

Alerts are posted to its API as Prometheus would; the Telegram stand-in shows what reached
which chat: grouping by alert name and country, critical alerts on the on-call chat, the
inhibitions, HTML escaping, the list cut at 5 and the resolved message.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.deploy import (
    BOT_TOKEN,
    FLEET_CHAT,
    ONCALL_CHAT,
    running_alertmanager,
    wait_for,
)
from tests.support.telegram import TelegramStandIn

TELEGRAM_LIMIT = 4096


def alert(name: str, severity: str, *, ended: bool = False, **labels: str) -> dict[str, Any]:
    subject = labels.get("session") or labels.get("pair") or labels["country"]
    body: dict[str, Any] = {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {
            "summary": f"{subject}: {name}",
            "description": f"{subject} <needs> a look & a fix",
        },
        "startsAt": datetime.now(UTC).isoformat(),
    }
    if ended:
        body["endsAt"] = datetime.now(UTC).isoformat()
    return body


def session_down(number: int, *, ended: bool = False) -> dict[str, Any]:
    return alert(
        "SmsfleetSessionDown",
        "critical",
        ended=ended,
        country="IN",
        pair="IN_vi",
        program=f"program{number}",
        session=f"program{number}_IN_vi",
    )


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, TelegramStandIn]]:
    with (
        TelegramStandIn(token=BOT_TOKEN) as telegram,
        running_alertmanager(tmp_path, telegram=telegram) as url,
    ):
        yield url, telegram


def test_groups_route_inhibit_and_render_for_telegram(
    alertmanager: tuple[str, TelegramStandIn],
) -> None:
    url, telegram = alertmanager

    def post(alerts: list[dict[str, Any]]) -> None:
        response = httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=10)
        assert response.status_code == 200, response.text

    def texts(chat: int) -> list[str]:
        return [m.text for m in telegram.messages if int(m.chat_id) == chat]

    def explain() -> str:
        return f"Telegram received {telegram.messages}"

    post(
        [
            *(session_down(n) for n in range(1, 8)),
            # Held back: program1_IN_vi is down, and a route's warning yields to its critical.
            alert(
                "SmsfleetRouteSuccessLow",
                "critical",
                country="IN",
                pair="IN_vi",
                program="program1",
            ),
            alert(
                "SmsfleetRouteSuccessLow",
                "warning",
                country="UZ",
                pair="UZ_ucell",
                program="program9",
            ),
            # Sent: nothing holds these back.
            alert(
                "SmsfleetRouteSuccessLow",
                "critical",
                country="UZ",
                pair="UZ_ucell",
                program="program9",
            ),
            alert("SmsfleetCountryUnderTarget", "warning", country="TJ"),
        ]
    )
    wait_for("not every group reached Telegram", lambda: len(telegram.messages) >= 3, explain)

    oncall = texts(ONCALL_CHAT)
    down = next(text for text in oncall if "SmsfleetSessionDown" in text)
    assert down.startswith("🔴 <b>SmsfleetSessionDown</b> in IN: 7 firing")
    assert "program1_IN_vi &lt;needs&gt; a look &amp; a fix" in down
    assert "session <code>program5_IN_vi</code>" in down
    assert "program6_IN_vi" not in down
    assert "… 5 shown of 7" in down
    route = next(text for text in oncall if "SmsfleetRouteSuccessLow" in text)
    assert route.startswith("🔴 <b>SmsfleetRouteSuccessLow</b> in UZ: 1 firing")
    assert "<b>CRITICAL</b> UZ_ucell: SmsfleetRouteSuccessLow" in route
    assert "IN_vi" not in "".join(text for text in oncall if "SmsfleetRouteSuccessLow" in text)
    assert [text.splitlines()[0] for text in texts(FLEET_CHAT)] == [
        "🔴 <b>SmsfleetCountryUnderTarget</b> in TJ: 1 firing"
    ]

    post([session_down(n, ended=True) for n in (1, 2)])
    wait_for(
        "no message told of the resolved sessions",
        lambda: any("2 resolved" in text for text in texts(ONCALL_CHAT)),
        explain,
    )
    resolved = next(text for text in texts(ONCALL_CHAT) if "2 resolved" in text)
    assert resolved.startswith("🔴 <b>SmsfleetSessionDown</b> in IN: 5 firing, 2 resolved")
    assert "<b>Resolved</b>" in resolved
    assert ", resolved " in resolved
    assert all(len(m.text) < TELEGRAM_LIMIT for m in telegram.messages)
    assert all(m.parse_mode == "HTML" for m in telegram.messages)
