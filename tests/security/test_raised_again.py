"""The same message raised again (`POST /alert`) while its alert is open is that alert,
not a new one, so it is not counted against the person's limit: it must then not notify
the chats again and again either. Raised at a lower severity, the alert is left as it is
(an easing would be told to the chats, and the next raise at the higher one again), and
it stays the alert of the person who raised it first."""

from __future__ import annotations

import time
from pathlib import Path

from smsfleet.auth.models import Role
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock
from tests.support.telegram import TelegramStandIn


def _raise(api: Api, role: Role, severity: str) -> int:
    answer = api.client.post(
        "/alert",
        json={"message": "UZ is down", "severity": severity},
        headers=api.headers(role),
    )
    assert answer.status_code == 202, answer.text
    return len(answer.json()["channels"])


def _settled(telegram: TelegramStandIn, at_least: int) -> int:
    deadline = time.monotonic() + 5
    while len(telegram.messages) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # any more on their way
    return len(telegram.messages)


def test_raising_an_open_alert_again_does_not_notify_in_a_loop(
    tmp_path: Path, telegram: TelegramStandIn
) -> None:
    with running_api(
        tmp_path,
        **telegram.settings("-100"),
        alert_max_raised_per_actor=1,
    ) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        assert _raise(api, Role.admin, "info") == 1
        first = _settled(telegram, 1)
        assert first == 1
        # Someone else, past their own limit, raises it again: worse, once.
        assert _raise(api, Role.operator, "critical") == 1
        assert _settled(telegram, 2) == 2
        for _ in range(3):
            clock.advance(6 * 60)  # past the hold time
            api.tokens.clear()
            assert _raise(api, Role.operator, "info") == 0
            assert _raise(api, Role.operator, "critical") == 0
        assert _settled(telegram, 3) == 2
        listed = api.client.get(
            "/api/v1/alerts", params={"rule": "manual"}, headers=api.headers(Role.viewer)
        ).json()
        assert len(listed) == 1
        assert listed[0]["severity"] == "critical"
        assert listed[0]["details"]["actor"] == "admin"
        # The person's own limit holds for anything new.
        own = api.client.post(
            "/alert", json={"message": "other"}, headers=api.headers(Role.operator)
        )
        assert own.status_code == 202, own.text
        again = api.client.post(
            "/alert", json={"message": "and other"}, headers=api.headers(Role.operator)
        )
        assert again.status_code == 429, again.text
