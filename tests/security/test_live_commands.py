"""What a signed-in viewer sends on the live WebSocket ends at most their own socket,
never the handler with an error (one logged, and reported, for each frame they send)."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from starlette.websockets import WebSocketDisconnect

from smsfleet.auth.models import Role
from smsfleet.live import LiveSockets
from tests.support.api import Api
from tests.support.live import live_socket
from tests.support.waiting import eventually

UNSUPPORTED_DATA = 1003
FOLLOW = '{"follow_logs": "ticker_KE_airtel"}'


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
