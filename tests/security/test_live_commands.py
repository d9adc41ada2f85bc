"""What a signed-in viewer sends on the live WebSocket ends at most their own socket,
never the handler with an error (one logged, and reported, for each frame they send)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from smsfleet import live
from smsfleet.auth.models import Role
from smsfleet.live import LiveSockets
from tests.support.api import Api
from tests.support.live import add_sessions, live_socket, write_log
from tests.support.waiting import eventually

UNSUPPORTED_DATA = 1003
KEPT = "program1_UZ_uzmobile"
GONE = "program1_KE_airtel"  # its pair deleted: its log file is left behind
FOLLOW = f'{{"follow_logs": "{KEPT}"}}'


def _sockets(api: Api) -> LiveSockets:
    app = api.client.app
    assert isinstance(app, FastAPI), app
    sockets: LiveSockets = app.state.live_sockets
    return sockets


def test_a_binary_frame_closes_the_socket_as_unsupported_data(api: Api) -> None:
    with live_socket(api.client, api.token(Role.viewer)) as feed:
        feed.send_bytes(b'{"follow_logs": "ticker_KE_airtel"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            feed.receive_json()  # a fleet without sessions: nothing is sent before the close
    assert closed.value.code == UNSUPPORTED_DATA
    eventually(lambda: _sockets(api).open == 0, timeout=5)


def test_commands_too_deep_too_long_or_not_json_are_ignored(api: Api) -> None:
    add_sessions(api, ("UZ", "UzMobile"))
    sockets = _sockets(api)
    with live_socket(api.client, api.token(Role.viewer)) as feed:
        for bad in (
            "[" * 4000 + "]" * 4000,  # deeper than the decoder's recursion
            "[" * 200_000 + "]" * 200_000,
            '{"follow_logs": ',
            FOLLOW + " " * 10_000,  # a command, but longer than any is
        ):
            feed.send_text(bad)
        time.sleep(1.0)  # four polls
        assert sockets.log_reads == 0
        # The socket still reads what it is asked.
        feed.send_text(FOLLOW)
        eventually(lambda: sockets.log_reads >= 2, timeout=5)


def _two_sessions(api: Api) -> None:
    """Sessions KEPT and GONE, each with a log."""
    assert add_sessions(api, ("UZ", "UzMobile"), ("KE", "Airtel")) == [KEPT, GONE]
    write_log(api, KEPT, "kept: first")
    write_log(api, GONE, "gone: a code 4242 of before")


def _logs(feed: WebSocketTestSession) -> dict[str, Any]:
    """The next log lines the socket sends (events before them skipped)."""
    while (message := feed.receive_json())["topic"] != "logs":
        pass
    data: dict[str, Any] = message["data"]
    return data


def test_the_log_of_a_deleted_session_is_not_followed(api: Api) -> None:
    """As `GET /api/v1/sessions/{name}/logs` answers 404 for it: the socket ignores the
    name, as it ignores an ill-formed one, and its log is never sent."""
    _two_sessions(api)
    viewer = api.headers(Role.viewer)
    assert api.client.delete("/api/v1/pairs/KE_airtel", headers=api.headers()).status_code == 204
    assert api.client.get(f"/api/v1/sessions/{GONE}/logs", headers=viewer).status_code == 404
    assert api.client.get(f"/api/v1/sessions/{KEPT}/logs", headers=viewer).status_code == 200
    with live_socket(api.client, api.token(Role.viewer)) as feed:
        feed.send_json({"follow_logs": GONE})
        time.sleep(1.0)  # four polls
        feed.send_json({"follow_logs": KEPT})
        # The first log lines sent are KEPT's: GONE's old lines never came.
        assert _logs(feed) == {"name": KEPT, "lines": ["kept: first"]}
        write_log(api, GONE, "gone: more")
        write_log(api, KEPT, "kept: second")
        assert _logs(feed) == {"name": KEPT, "lines": ["kept: second"]}


def test_a_followed_log_stops_once_its_session_is_deleted(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "SESSION_RECHECK_SECONDS", 0.1, raising=False)
    _two_sessions(api)
    sockets = _sockets(api)
    with live_socket(api.client, api.token(Role.viewer)) as feed:
        feed.send_json({"follow_logs": GONE})
        assert _logs(feed) == {"name": GONE, "lines": ["gone: a code 4242 of before"]}
        deleted = api.client.delete("/api/v1/pairs/KE_airtel", headers=api.headers())
        assert deleted.status_code == 204
        time.sleep(0.6)
        settled = sockets.log_reads
        write_log(api, GONE, "gone: after its deletion")
        time.sleep(1.0)  # four polls
        assert sockets.log_reads == settled  # no longer followed
        feed.send_json({"follow_logs": KEPT})
        write_log(api, KEPT, "kept: second")
        assert _logs(feed)["name"] == KEPT
