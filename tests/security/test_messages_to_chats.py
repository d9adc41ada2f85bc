"""A person's own messages to the chats (`POST /api/v1/alerts/test`) each go to every
configured chat: one person sends at most so many in a window, sent or not, and has at most
a few waiting at once, so a script's loop neither floods the chats nor, with Telegram down,
takes all the room for messages from everyone else."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from smsfleet.alerts.service import MAX_PENDING_MESSAGES_PER_ACTOR
from smsfleet.auth.models import Role
from tests.security.test_programs_trust import api_key, audit
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock
from tests.support.telegram import TelegramStandIn

CHATS = "-100,-200"


def _send(api: Api, role: Role, message: str) -> Any:
    return api.client.post(
        "/api/v1/alerts/test", json={"message": message}, headers=api.headers(role)
    )


def _delivered(telegram: TelegramStandIn, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(telegram.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(telegram.messages) == count


def test_one_person_sends_at_most_so_many_messages_in_a_window(
    tmp_path: Path, telegram: TelegramStandIn
) -> None:
    with running_api(
        tmp_path,
        **telegram.settings(CHATS),
        alert_max_messages_per_actor=3,
        alert_raised_window_minutes=60,
    ) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        for n in range(3):
            assert _send(api, Role.operator, f"test {n}").status_code == 202
            clock.advance(60)
        _delivered(telegram, 3 * 2)  # each to both chats, counted once
        refused = _send(api, Role.operator, "one more")
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["message"] == (
            "you sent 3 messages to the chats in the last 60 min, the most one user may"
        )
        # Until the first of them is an hour old.
        assert refused.headers["Retry-After"] == "3420"
        # Another person has room of their own; nothing refused went out.
        assert _send(api, Role.admin, "the admin's").status_code == 202
        _delivered(telegram, 4 * 2)
        assert not [m for m in telegram.messages if "one more" in m.text]
        clock.advance(3420)
        api.tokens.clear()  # theirs expired meanwhile
        assert _send(api, Role.operator, "one more").status_code == 202


def test_one_persons_waiting_messages_never_refuse_anothers(
    tmp_path: Path, telegram: TelegramStandIn
) -> None:
    """With Telegram unreachable, a person's messages wait: a few of them at most, so
    one person's burst never fills the room for everyone's."""
    with running_api(
        tmp_path,
        **telegram.settings(CHATS),
    ) as api:
        telegram.stop()
        for n in range(MAX_PENDING_MESSAGES_PER_ACTOR):
            assert _send(api, Role.operator, f"test {n}").status_code == 202
        refused = _send(api, Role.operator, "one more")
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["message"] == (
            f"{MAX_PENDING_MESSAGES_PER_ACTOR} of your messages wait to go out to a Telegram"
            " chat, the most one user may have waiting; try again once they are sent"
        )
        assert int(refused.headers["Retry-After"]) > 0
        assert _send(api, Role.admin, "the admin's").status_code == 202


def test_messages_to_the_chats_and_acknowledgements_are_audited(
    tmp_path: Path, telegram: TelegramStandIn
) -> None:
    """Who told every chat what, and who stopped an alert's repeats (or resolved a
    person's alert), each once: an acknowledgement refused records nothing."""
    with running_api(tmp_path, **telegram.settings(CHATS)) as api:
        assert _send(api, Role.operator, "deploying at 14:00").status_code == 202
        raised = api.client.post(
            "/alert", json={"message": "route check"}, headers=api.headers(Role.admin)
        )
        assert raised.status_code == 202, raised.text
        alert_id = raised.json()["alert_id"]
        key = api_key(api, Role.operator, ["read", "control"])
        acked = api.client.post(f"/api/v1/alerts/{alert_id}/ack", headers=key)
        assert acked.status_code == 200, acked.text
        again = api.client.post(f"/api/v1/alerts/{alert_id}/ack", headers=key)
        assert again.status_code == 409, again.text  # resolved by the first
        [message] = audit(api, action="alert.message_sent")
        assert (message["actor"], message["target"], message["reason"]) == (
            "operator",
            "telegram",
            "deploying at 14:00",
        )
        [ack] = audit(api, target=alert_id)
        assert (ack["action"], ack["actor_role"], ack["api_key_id"] is not None) == (
            "alert.acknowledged",
            "operator",
            True,
        )
        assert ack["before"]["acknowledged_by"] is None
        assert (ack["after"]["acknowledged_by"], ack["after"]["state"]) == ("operator", "resolved")
