"""What a signed-in socket sends is budgeted: SMSFLEET_LIVE_COMMAND_BURST messages at once
and SMSFLEET_LIVE_COMMANDS_PER_SECOND a second after that (60 and 20). A dashboard opening,
closing and switching log drawers never meets it; a client flooding follow and unfollow
commands has its socket closed with 4429, the reason naming the budget, and the message over
it is not carried out. A follow is carried out (its session looked up in the store, its log's
end read, in a thread) only at the socket's next log read, so one undone before then costs
nothing: the follows carried out are counted by `LiveSockets.follows_carried_out`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from smsfleet import live
from smsfleet.auth.models import Role
from smsfleet.live import LiveSockets
from tests.support.api import Api, running_api
from tests.support.live import add_sessions, live_socket, write_log
from tests.support.waiting import eventually

TOO_MANY_CLOSE = 4429
KEPT = "program1_UZ_uzmobile"  # its log has lines
QUIET = "program1_KE_airtel"  # its log has none: following it sends nothing
REFUSAL = "too many commands on your live sockets: at most 60 at once and 20 a second"


def _sockets(api: Api) -> LiveSockets:
    app = api.client.app
    assert isinstance(app, FastAPI), app
    sockets: LiveSockets = app.state.live_sockets
    return sockets


def _two_sessions(api: Api) -> None:
    assert add_sessions(api, ("UZ", "UzMobile"), ("KE", "Airtel")) == [KEPT, QUIET]
    write_log(api, KEPT, "kept: first")


def _logs(feed: WebSocketTestSession) -> dict[str, Any]:
    """The next log lines the socket sends (events before them skipped)."""
    while (message := feed.receive_json())["topic"] != "logs":
        pass
    data: dict[str, Any] = message["data"]
    return data


def _closed(feed: WebSocketTestSession) -> WebSocketDisconnect:
    """How the socket was closed; fails on any message it sends instead."""
    try:
        message = feed.receive_json()
    except WebSocketDisconnect as closed:
        return closed
    pytest.fail(f"the socket is still open: it sent {message}")


def test_opening_and_closing_log_drawers_stays_within_the_budget(api: Api) -> None:
    """20 drawers opened and closed over about two seconds, then one left open: each
    follow and unfollow carried out as before, the socket never closed."""
    _two_sessions(api)
    with live_socket(api.client, api.token(Role.viewer)) as feed:
        for _ in range(20):
            feed.send_json({"follow_logs": QUIET})
            feed.send_json({"unfollow_logs": QUIET})
            time.sleep(0.1)
        # Switching sessions quickly: 10 switches at once.
        for name in (QUIET, KEPT) * 5:
            feed.send_json({"follow_logs": name})
            feed.send_json({"unfollow_logs": name})
        feed.send_json({"follow_logs": KEPT})
        assert _logs(feed) == {"name": KEPT, "lines": ["kept: first"]}
        write_log(api, KEPT, "kept: second")
        assert _logs(feed) == {"name": KEPT, "lines": ["kept: second"]}


def test_a_flood_of_follows_closes_the_socket_past_its_budget(api: Api) -> None:
    """As in the finding: viewer sockets each sending thousands of follow and unfollow
    pairs. Each is closed with 4429 past its burst; what it sent after is not carried
    out (a log followed then is never sent), and the follows carried out stay within
    what the budgets allow, not thousands. The API answers meanwhile and after."""
    _two_sessions(api)
    sockets = _sockets(api)
    viewer = api.headers(Role.viewer)
    with (
        live_socket(api.client, api.token(Role.viewer)) as first,
        live_socket(api.client, api.token(Role.viewer)) as second,
    ):
        feeds = (first, second)
        for _ in range(2000):
            for feed in feeds:
                feed.send_json({"follow_logs": QUIET})
                feed.send_json({"unfollow_logs": QUIET})
        assert api.client.get("/api/v1/pairs", headers=viewer).status_code == 200
        for feed in feeds:
            feed.send_json({"follow_logs": KEPT})  # never carried out
        for feed in feeds:
            closed = _closed(feed)
            assert (closed.code, closed.reason) == (TOO_MANY_CLOSE, REFUSAL)
    eventually(lambda: sockets.open == 0, timeout=5)
    # The user's burst of 60, shared by both sockets, holds 30 follows at most; a few more
    # refilled meanwhile.
    assert sockets.follows_carried_out <= 40, sockets.follows_carried_out
    assert api.client.get("/api/v1/pairs", headers=viewer).status_code == 200


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[Api]:
    """A budget of 3 messages, refilled once in 100 s."""
    with running_api(tmp_path, live_command_burst=3, live_commands_per_second=0.01) as api:
        yield api


def test_the_message_over_the_budget_is_not_carried_out(tight: Api) -> None:
    """Every message counts, an ignored one too (each is read and decoded); the budget
    comes from the settings, and the reason names it."""
    _two_sessions(tight)
    sockets = _sockets(tight)
    with live_socket(tight.client, tight.token(Role.viewer)) as feed:
        feed.send_text("not json")
        feed.send_json({"follow_logs": "not a session name"})
        feed.send_json({"unfollow_logs": QUIET})
        feed.send_json({"follow_logs": KEPT})  # the fourth: over the budget
        closed = _closed(feed)  # KEPT's lines never came
    assert closed.code == TOO_MANY_CLOSE
    assert (
        closed.reason
        == "too many commands on your live sockets: at most 3 at once and 0.01 a second"
    )
    eventually(lambda: sockets.open == 0, timeout=5)
    assert sockets.follows_carried_out == 0


def test_a_socket_opened_again_gets_no_fresh_budget(tight: Api) -> None:
    """The budget is the user's, all their sockets together: one closed for it and opened
    again is closed at its first message, and so is a second socket meanwhile."""
    _two_sessions(tight)
    token = tight.token(Role.viewer)
    with live_socket(tight.client, token) as feed:
        for _ in range(3):
            feed.send_json({"unfollow_logs": QUIET})
        feed.send_json({"follow_logs": KEPT})
        assert _closed(feed).code == TOO_MANY_CLOSE
    with live_socket(tight.client, token) as again:
        again.send_json({"follow_logs": KEPT})
        closed = _closed(again)
    assert (closed.code, closed.reason) == (
        TOO_MANY_CLOSE,
        "too many commands on your live sockets: at most 3 at once and 0.01 a second",
    )
    # Another user's budget is their own.
    with live_socket(tight.client, tight.token(Role.operator)) as other:
        other.send_json({"follow_logs": KEPT})
        other.send_json({"unfollow_logs": KEPT})
    assert _sockets(tight).follows_carried_out <= 1


def test_a_follow_undone_before_the_next_read_costs_nothing(api: Api) -> None:
    """No store lookup, no log read: only the follow still wanted at the read is carried
    out, once."""
    _two_sessions(api)
    follower = live._LogFollower(api.services)
    for _ in range(100):
        follower.follow(KEPT)
        follower.unfollow(KEPT)
    assert not follower.following
    assert follower.read_new() == {}
    assert follower.carried_out == 0
    for _ in range(100):
        follower.follow(QUIET)
        follower.unfollow(QUIET)
        follower.follow(KEPT)  # asked again while asked: once
    assert follower.read_new() == {KEPT: ["kept: first"]}
    assert follower.carried_out == 1
    follower.unfollow(KEPT)
    write_log(api, KEPT, "kept: second")
    assert follower.read_new() == {}
    assert not follower.following


def test_within_the_budget_a_follow_undone_at_once_is_not_carried_out(api: Api) -> None:
    """The same on the socket: ten drawers opened and closed at once, then one kept open,
    cost one follow carried out (a few should log reads fall between them: not eleven)."""
    _two_sessions(api)
    sockets = _sockets(api)
    with live_socket(api.client, api.token(Role.viewer)) as feed:
        for _ in range(10):
            feed.send_json({"follow_logs": QUIET})
            feed.send_json({"unfollow_logs": QUIET})
        feed.send_json({"follow_logs": KEPT})
        assert _logs(feed) == {"name": KEPT, "lines": ["kept: first"]}
        assert 1 <= sockets.follows_carried_out <= 3, sockets.follows_carried_out
