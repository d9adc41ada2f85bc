"""The live WebSocket is bounded: each user may have so many sockets open, and the process
so many in all (a socket over a cap is closed with 4429 as soon as it signs in, saying
which cap); a closed socket gives its place back, whichever way it ended; and a socket
that follows no log never goes to the thread pool to read logs."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from smsfleet.auth.models import Role
from smsfleet.live import LiveSockets, SigningIn
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock
from tests.support.live import add_sessions, live_socket
from tests.support.live_server import live_server
from tests.support.waiting import eventually

TOO_MANY_CLOSE = 4429
UNAUTHORIZED_CLOSE = 4401


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Api]:
    """Two sockets per user, three in all."""
    with running_api(tmp_path, live_max_sockets_per_user=2, live_max_sockets=3) as api:
        yield api


def _sockets(api: Api) -> LiveSockets:
    app = api.client.app
    assert isinstance(app, FastAPI), app
    sockets: LiveSockets = app.state.live_sockets
    return sockets


def _refused(api: Api, role: Role) -> WebSocketDisconnect:
    """How a socket of `role` is closed once it signs in; fails if it is accepted."""
    with api.client.websocket_connect("/api/v1/ws") as feed:
        feed.send_json({"type": "auth", "token": api.token(role)})
        with pytest.raises(WebSocketDisconnect) as closed:
            feed.receive_json()
    return closed.value


def _accepted(api: Api, role: Role) -> bool:
    """Whether a new socket of `role` signs in (then it is closed again)."""
    with api.client.websocket_connect("/api/v1/ws") as feed:
        feed.send_json({"type": "auth", "token": api.token(role)})
        try:
            feed.receive_json()
        except WebSocketDisconnect as closed:
            code = closed.code
        else:
            return True
    assert code == TOO_MANY_CLOSE, code
    return False


def test_a_user_over_their_cap_is_refused_while_another_user_is_accepted(capped: Api) -> None:
    api = capped
    with ExitStack() as stack:
        first = stack.enter_context(live_socket(api.client, api.token(Role.viewer)))
        stack.enter_context(live_socket(api.client, api.token(Role.viewer)))
        refused = _refused(api, Role.viewer)
        assert refused.code == TOO_MANY_CLOSE
        assert refused.reason == "too many live sockets: at most 2 per user"
        # Another user has places of their own.
        stack.enter_context(live_socket(api.client, api.token(Role.operator)))
        assert _sockets(api).open_for(Role.viewer.value) == 2
        # The viewer's first socket closes: its place is free again.
        first.close()
        eventually(lambda: _sockets(api).open_for(Role.viewer.value) == 1, timeout=5)
        assert _accepted(api, Role.viewer)
    eventually(lambda: _sockets(api).open == 0, timeout=5)


def test_the_process_refuses_sockets_over_its_total_cap(capped: Api) -> None:
    api = capped
    with ExitStack() as stack:
        for role in (Role.viewer, Role.operator, Role.admin):
            stack.enter_context(live_socket(api.client, api.token(role)))
        refused = _refused(api, Role.admin)
        assert refused.code == TOO_MANY_CLOSE
        assert refused.reason == "too many live sockets: at most 3 on this server"
        assert _sockets(api).open == 3
    eventually(lambda: _sockets(api).open == 0, timeout=5)
    assert _accepted(api, Role.admin)


def test_a_socket_closed_by_the_server_gives_its_place_back(tmp_path: Path) -> None:
    """Past its token's expiry the server closes the socket (4401): the place is free."""
    with running_api(tmp_path, live_max_sockets_per_user=1) as api:
        assert isinstance(api.clock, FakeClock)
        with live_socket(api.client, api.token(Role.viewer)) as feed:
            assert not _accepted(api, Role.viewer)
            api.clock.advance(api.settings.access_token_minutes * 60)
            # Closed within a poll: nothing else is sent first.
            with pytest.raises(WebSocketDisconnect) as closed:
                feed.receive_json()
            assert closed.value.code == UNAUTHORIZED_CLOSE
            eventually(lambda: _sockets(api).open == 0, timeout=5)
        api.tokens.clear()  # the cached token expired with the clock
        assert _accepted(api, Role.viewer)


def test_a_refused_socket_takes_no_place(capped: Api) -> None:
    api = capped
    with (
        live_socket(api.client, api.token(Role.viewer)),
        live_socket(api.client, api.token(Role.viewer)),
    ):
        for _ in range(5):
            assert _refused(api, Role.viewer).code == TOO_MANY_CLOSE
        assert _sockets(api).open_for(Role.viewer.value) == 2
    eventually(lambda: _sockets(api).open == 0, timeout=5)


def test_a_socket_following_no_log_never_reads_logs(api: Api) -> None:
    (name,) = add_sessions(api, ("KE", "Airtel"))
    sockets = _sockets(api)
    with live_socket(api.client, api.token(Role.viewer)) as feed:
        time.sleep(1.5)  # six polls
        assert sockets.log_reads == 0
        # Once it follows a log, each poll reads it; once it follows none again, none.
        feed.send_json({"follow_logs": name})
        eventually(lambda: sockets.log_reads >= 2, timeout=5)
        feed.send_json({"unfollow_logs": name})
        time.sleep(0.6)
        settled = sockets.log_reads
        time.sleep(1.0)
        assert sockets.log_reads == settled


def test_a_dropped_connection_gives_its_place_back_on_a_running_server(tmp_path: Path) -> None:
    """`smsfleet serve`: a socket whose TCP connection is cut without a close frame."""
    with live_server(tmp_path, SMSFLEET_LIVE_MAX_SOCKETS_PER_USER="1") as server:
        token = server.admin_headers()["Authorization"].removeprefix("Bearer ")
        with server.live_socket(token) as first:
            with connect(server.ws_url(), open_timeout=10) as second:
                second.send(json.dumps({"type": "auth", "token": token}))
                with pytest.raises(ConnectionClosed) as closed:
                    second.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == TOO_MANY_CLOSE
            assert closed.value.rcvd.reason == "too many live sockets: at most 1 per user"
            first.socket.shutdown(socket.SHUT_RDWR)

        def signs_in() -> bool:
            with connect(server.ws_url(), open_timeout=10) as again:
                again.send(json.dumps({"type": "auth", "token": token}))
                try:
                    return bool(json.loads(again.recv(timeout=10))["topic"] == "auth")
                except ConnectionClosed:
                    return False

        eventually(signs_in, timeout=10, what="the dropped socket's place")


def test_sockets_not_signed_in_are_capped_per_address(tmp_path: Path) -> None:
    """A socket may wait 5 s for its first message: a client opening thousands without
    signing in would hold the server for everyone. Over the cap one closes at once, and
    a socket that signs in gives its place for signing in back."""
    with running_api(tmp_path, live_max_signing_in_per_address=2, live_max_signing_in=100) as api:
        with ExitStack() as stack:
            waiting = [
                stack.enter_context(api.client.websocket_connect("/api/v1/ws")) for _ in range(2)
            ]
            with (
                api.client.websocket_connect("/api/v1/ws") as third,
                pytest.raises(WebSocketDisconnect) as closed,
            ):
                third.receive_json()
            assert closed.value.code == TOO_MANY_CLOSE
            assert closed.value.reason == (
                "too many live sockets signing in: at most 2 from one address"
            )
            waiting[0].send_json({"type": "auth", "token": api.token(Role.viewer)})
            assert waiting[0].receive_json()["topic"] == "auth"
            assert _accepted(api, Role.operator)  # the place it signed in from is free
        eventually(lambda: _sockets(api).open == 0, timeout=5)


def test_sockets_not_signed_in_are_capped_in_all_and_the_fullest_address_gives_way() -> None:
    """Full, the server gives the oldest place of the address holding the most to one
    holding fewer: a few addresses whose sockets never sign in keep no one else out."""
    sockets = LiveSockets(
        per_user=10,
        total=500,
        signing_in_per_address=2,
        signing_in=3,
        command_rate=20,
        command_burst=60,
    )
    a1, a2, b = (sockets.take_signing_in(address) for address in ("a", "a", "b"))
    assert isinstance(a1, SigningIn) and isinstance(a2, SigningIn) and isinstance(b, SigningIn)
    c = sockets.take_signing_in("c")
    assert isinstance(c, SigningIn)
    assert [place.evicted.is_set() for place in (a1, a2, b, c)] == [True, False, False, False]
    # Every address holds as many as a newcomer's: it is refused.
    assert sockets.take_signing_in("b") == (
        "too many live sockets signing in: at most 3 on this server"
    )
    sockets.release_signing_in(a1)  # given up already: nothing more to give back
    sockets.release_signing_in(b)
    assert isinstance(sockets.take_signing_in("b"), SigningIn)


def test_sockets_signing_in_from_one_ipv6_network_count_as_one_address() -> None:
    """An IPv6 client holds its whole /64: counted by its address, it would take every
    place of the server from one subscriber."""
    sockets = LiveSockets(
        per_user=10,
        total=500,
        signing_in_per_address=2,
        signing_in=100,
        command_rate=20,
        command_burst=60,
    )
    first = sockets.take_signing_in("2001:db8:0:7::1")
    assert isinstance(first, SigningIn)
    assert isinstance(sockets.take_signing_in("2001:db8:0:7:ffff::2"), SigningIn)
    assert sockets.take_signing_in("2001:db8:0:7::3") == (
        "too many live sockets signing in: at most 2 from one address"
    )
    assert isinstance(sockets.take_signing_in("2001:db8:0:8::1"), SigningIn)  # another network
    sockets.release_signing_in(first)
    assert isinstance(sockets.take_signing_in("2001:db8:0:7::3"), SigningIn)


def test_sockets_that_never_sign_in_give_their_places_to_one_that_does(tmp_path: Path) -> None:
    """`smsfleet serve` with every place for signing in taken by one address's sockets
    that send nothing: a user from another address still signs in, and the oldest of
    those gives its place up (4429)."""
    env = {"SMSFLEET_LIVE_MAX_SIGNING_IN": "2", "SMSFLEET_LIVE_MAX_SIGNING_IN_PER_ADDRESS": "2"}
    with live_server(tmp_path, **env) as server, ExitStack() as stack:
        token = server.admin_headers()["Authorization"].removeprefix("Bearer ")
        idle = [stack.enter_context(connect(server.ws_url(), open_timeout=10)) for _ in range(2)]
        port = int(server.url.rsplit(":", 1)[1])
        elsewhere = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0)
        )
        with connect(server.ws_url(), sock=elsewhere, open_timeout=10) as user:
            user.send(json.dumps({"type": "auth", "token": token}))
            assert json.loads(user.recv(timeout=10))["topic"] == "auth"
        with pytest.raises(ConnectionClosed) as closed:
            idle[0].recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == TOO_MANY_CLOSE
        assert "its place went to a socket from an address holding fewer" in (
            closed.value.rcvd.reason
        )
