"""Alerts raised by people (`POST /alert`) each go to every chat their severity reaches:
besides the cap on those one person has open at once, one person (or a leaked control key) raises at
most so many in a window, acknowledged ones counted, so raising and acknowledging in a
loop does not flood the chats."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from smsfleet.alerts.manual import MAX_OPEN
from smsfleet.auth.models import Role
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock


def _raise(api: Api, role: Role, message: str) -> Any:
    return api.client.post("/alert", json={"message": message}, headers=api.headers(role))


def _acknowledge(api: Api, alert_id: str) -> None:
    acked = api.client.post(f"/api/v1/alerts/{alert_id}/ack", headers=api.headers(Role.operator))
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "resolved"


def test_one_person_raises_at_most_so_many_alerts_in_a_window(tmp_path: Path) -> None:
    limits = {"alert_max_raised_per_actor": 3, "alert_raised_window_minutes": 60}
    with running_api(tmp_path, **limits) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        raised = []
        for n in range(3):
            raised.append(_raise(api, Role.operator, f"look at {n}"))
            clock.advance(60)
        assert [r.status_code for r in raised] == [202, 202, 202]
        # Acknowledged, they are no longer open, but they were raised all the same.
        for answer in raised[:2]:
            _acknowledge(api, answer.json()["alert_id"])
        clock.advance(420)
        refused = _raise(api, Role.operator, "and this")
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "too_many_requests"
        assert "3 alerts in the last 60 min" in error["message"]
        # Until the first of them is an hour old.
        assert int(refused.headers["Retry-After"]) == 3000
        assert error["details"] == {"retry_after": 3000}
        # The same message as an open alert is that alert again, not a new one.
        again = _raise(api, Role.operator, "look at 2")
        assert (again.status_code, again.json()["alert_id"]) == (202, raised[2].json()["alert_id"])
        # Another person has room of their own; nothing refused was stored.
        assert _raise(api, Role.admin, "the admin's").status_code == 202
        listed = api.client.get(
            "/api/v1/alerts", params={"rule": "manual"}, headers=api.headers(Role.viewer)
        ).json()
        assert sorted(a["subject"] for a in listed) == [
            "look at 0",
            "look at 1",
            "look at 2",
            "the admin's",
        ]
        # Once the first is out of the window, one more.
        clock.advance(3000)
        api.tokens.clear()  # theirs expired meanwhile
        assert _raise(api, Role.operator, "and this").status_code == 202
        again = _raise(api, Role.operator, "one more")
        assert (again.status_code, again.headers["Retry-After"]) == (429, "60")


def test_the_default_limit_is_30_an_hour(api: Api) -> None:
    """Room for a person's alerts (the seed document's `{"message"}`), not for a loop."""
    for n in range(30):
        answer = _raise(api, Role.operator, f"UZ down {n}")
        assert answer.status_code == 202, answer.text
        _acknowledge(api, answer.json()["alert_id"])
    refused = _raise(api, Role.operator, "UZ down again")
    assert refused.status_code == 429, refused.text


def test_one_persons_open_alerts_never_refuse_anothers(api: Api) -> None:
    """The cap on open alerts counts each person's own: an operator who leaves 20 open
    (or a leaked control key raising them) does not silence everyone else."""
    for n in range(MAX_OPEN):
        assert _raise(api, Role.operator, f"UZ down {n}").status_code == 202
    refused = _raise(api, Role.operator, "UZ down again")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["message"] == (
        "you have 20 alerts open that you raised, the most one user may: acknowledge the"
        " ones dealt with first"
    )
    # The same message as an open one is that alert again, not refused.
    assert _raise(api, Role.operator, "UZ down 0").status_code == 202
    assert _raise(api, Role.admin, "the admin's own").status_code == 202


def test_past_both_limits_a_person_is_told_when_to_come_back(tmp_path: Path) -> None:
    """At the open cap and past the rate both, the answer is the rate's 429 with its
    `Retry-After`, which says when a retry can succeed (acknowledging alone would not)."""
    limits = {"alert_max_raised_per_actor": MAX_OPEN, "alert_raised_window_minutes": 60}
    with running_api(tmp_path, **limits) as api:
        for n in range(MAX_OPEN):
            assert _raise(api, Role.operator, f"look at {n}").status_code == 202
        refused = _raise(api, Role.operator, "and this")
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "3600")


@pytest.mark.parametrize("path", ["/alert", "/api/v1/alerts/test"])
@pytest.mark.parametrize("blank", ["   ", "\n\t "], ids=["spaces", "new-line-and-tab"])
def test_a_message_of_only_white_space_is_refused(api: Api, path: str, blank: str) -> None:
    """An alert with an empty subject, or a chat message with nothing in it, tells no one
    anything: refused, nothing kept."""
    answer = api.client.post(path, json={"message": blank}, headers=api.headers(Role.operator))
    assert answer.status_code == 422, answer.text
    assert "only white space" in answer.text
    listed = api.client.get("/api/v1/alerts", headers=api.headers(Role.viewer)).json()
    assert listed == []


def test_alerts_raised_at_once_are_counted_one_after_the_other(api: Api) -> None:
    """A burst of new alerts raised in parallel does not pass the cap on open ones: each is
    counted against it once the ones before it are kept (within one process)."""
    headers = api.headers(Role.operator)
    at_once = 2 * MAX_OPEN + 5

    def raise_one(n: int) -> int:
        answer = api.client.post("/alert", json={"message": f"burst {n}"}, headers=headers)
        return answer.status_code

    with ThreadPoolExecutor(at_once) as pool:
        codes = list(pool.map(raise_one, range(at_once)))
    assert sorted(codes) == [202] * MAX_OPEN + [409] * (at_once - MAX_OPEN)
    listed = api.client.get(
        "/api/v1/alerts", params={"rule": "manual", "state": "firing"}, headers=headers
    ).json()
    assert len(listed) == MAX_OPEN
