"""Tokens that can be taken back, against a running control plane: a password, role or
disabled change and logging out everywhere end every token of the user, a logout ends
its login, and the live sockets of those users close. A refresh token is good for one
refresh: presented again once the refresh grace is over (a second here), it ends its
login for every holder. The WebSocket takes its token in its first message, never in the
URL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.live_server import LiveServer, live_server

PASSWORD = "viewer-password-for-tokens"
NEW_PASSWORD = "another-viewer-password"
UNAUTHORIZED_CLOSE = 4401
POLICY_VIOLATION = 1008
# How long a refresh token just replaced still refreshes (test_refresh_grace.py): a second
# here, waited out before a token is presented again.
GRACE_SECONDS = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    grace = {"SMSFLEET_REFRESH_GRACE_SECONDS": str(GRACE_SECONDS)}
    with live_server(tmp_path_factory.mktemp("tokens"), **grace) as running:
        yield running


@pytest.fixture
def viewer(server: LiveServer, request: pytest.FixtureRequest) -> str:
    """A viewer of this test's own (a few logins each: the throttle never counts them)."""
    name = f"v{abs(hash(request.node.name)) % 10**8}"
    server.add_user(name, PASSWORD)
    return name


def login(server: LiveServer, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = server.login(username, password)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def refresh(client: httpx.Client, tokens: dict[str, Any]) -> httpx.Response:
    return client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})


def after_the_grace() -> None:
    time.sleep(GRACE_SECONDS + 0.5)


def me(client: httpx.Client, tokens: dict[str, Any]) -> int:
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    return client.get("/api/v1/auth/me", headers=headers).status_code


def close_code(socket: ClientConnection, within: float = 10.0) -> int | None:
    """The code the server closed the socket with, reading whatever came before."""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            socket.recv(timeout=max(0.1, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    except TimeoutError:
        return None
    return None


def test_a_password_change_ends_every_token_of_the_user(server: LiveServer, viewer: str) -> None:
    tokens = login(server, viewer)
    with server.client() as client:
        assert refresh(client, tokens).status_code == 200
        changed = client.patch(
            f"/api/v1/users/{viewer}",
            json={"password": NEW_PASSWORD},
            headers=server.admin_headers(),
        )
        assert changed.status_code == 200, changed.text
        assert refresh(client, tokens).status_code == 401
        assert me(client, tokens) == 401
        assert me(client, login(server, viewer, NEW_PASSWORD)) == 200


def test_a_role_change_ends_every_token_of_the_user(server: LiveServer, viewer: str) -> None:
    tokens = login(server, viewer)
    with server.client() as client:
        changed = client.patch(
            f"/api/v1/users/{viewer}", json={"role": "operator"}, headers=server.admin_headers()
        )
        assert changed.status_code == 200, changed.text
        assert refresh(client, tokens).status_code == 401
        assert me(client, tokens) == 401


def test_logout_ends_that_login_only(server: LiveServer, viewer: str) -> None:
    first, second = login(server, viewer), login(server, viewer)
    with server.client() as client:
        out = client.post("/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]})
        assert out.status_code == 204, out.text
        assert refresh(client, first).status_code == 401
        assert me(client, first) == 401
        # Its refresh token before the logout is refused, and one refreshed from it too.
        assert me(client, second) == 200
        assert refresh(client, second).status_code == 200
        # Logging out twice is harmless.
        again = client.post("/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]})
        assert again.status_code == 204


def test_logout_everywhere_ends_every_login(server: LiveServer, viewer: str) -> None:
    first, second = login(server, viewer), login(server, viewer)
    with server.client() as client:
        headers = {"Authorization": f"Bearer {first['access_token']}"}
        assert client.post("/api/v1/auth/logout-all", headers=headers).status_code == 204
        for tokens in (first, second):
            assert refresh(client, tokens).status_code == 401
            assert me(client, tokens) == 401
        assert me(client, login(server, viewer)) == 200


def test_a_refresh_token_is_good_for_one_refresh(server: LiveServer, viewer: str) -> None:
    tokens = login(server, viewer)
    with server.client() as client:
        renewed = refresh(client, tokens)
        assert renewed.status_code == 200, renewed.text
        assert renewed.json()["refresh_token"] != tokens["refresh_token"]
        again = refresh(client, renewed.json())
        assert again.status_code == 200, again.text
        assert me(client, again.json()) == 200


def test_a_refresh_token_used_twice_ends_its_login_for_every_holder(
    server: LiveServer, viewer: str
) -> None:
    """A copy of a refresh token (stolen, or a tab duplicated with it): whichever of the
    two holders refreshes second ends the login, so the first keeps it no longer."""
    tokens, other = login(server, viewer), login(server, viewer)
    with server.client() as client:
        first = refresh(client, tokens).json()
        after_the_grace()
        reused = refresh(client, tokens)
        assert reused.status_code == 401
        assert "already used" in reused.json()["error"]["message"]
        assert refresh(client, first).status_code == 401
        assert me(client, first) == 401
        # The user's other logins stand.
        assert me(client, other) == 200
        assert refresh(client, other).status_code == 200


def test_reusing_a_refresh_token_closes_that_logins_socket(server: LiveServer, viewer: str) -> None:
    tokens, other = login(server, viewer), login(server, viewer)
    with server.client() as client:
        renewed = refresh(client, tokens).json()
        with (
            server.live_socket(renewed["access_token"]) as ended,
            server.live_socket(other["access_token"]) as kept,
        ):
            after_the_grace()
            assert refresh(client, tokens).status_code == 401
            assert close_code(ended, within=3) == UNAUTHORIZED_CLOSE
            assert close_code(kept, within=2) is None


def test_a_disabled_users_socket_is_closed(server: LiveServer, viewer: str) -> None:
    with (
        server.live_socket(login(server, viewer)["access_token"]) as socket,
        server.client() as client,
    ):
        disabled = client.patch(
            f"/api/v1/users/{viewer}", json={"disabled": True}, headers=server.admin_headers()
        )
        assert disabled.status_code == 200
        assert close_code(socket, within=10) == UNAUTHORIZED_CLOSE


def test_logout_closes_that_logins_socket_only(server: LiveServer, viewer: str) -> None:
    first, second = login(server, viewer), login(server, viewer)
    with (
        server.live_socket(first["access_token"]) as ended,
        server.live_socket(second["access_token"]) as kept,
        server.client() as client,
    ):
        client.post("/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]})
        assert close_code(ended, within=10) == UNAUTHORIZED_CLOSE
        assert close_code(kept, within=2) is None


def test_an_access_token_in_the_url_is_refused(server: LiveServer, viewer: str) -> None:
    tokens = login(server, viewer)
    with connect(server.ws_url(f"?token={tokens['access_token']}"), open_timeout=10) as socket:
        assert close_code(socket, within=10) == POLICY_VIOLATION


def test_a_socket_that_does_not_sign_in_in_time_is_closed(server: LiveServer) -> None:
    with connect(server.ws_url(), open_timeout=10) as socket:
        started = time.monotonic()
        assert close_code(socket, within=15) == POLICY_VIOLATION
        assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "first",
    [
        "hello",
        json.dumps({"follow_logs": "x"}),
        json.dumps({"type": "auth"}),
        "[" * 4000 + "]" * 4000,  # deeper than the decoder's recursion
    ],
)
def test_anything_but_an_auth_message_first_is_refused(server: LiveServer, first: str) -> None:
    with connect(server.ws_url(), open_timeout=10) as socket:
        socket.send(first)
        assert close_code(socket, within=10) == POLICY_VIOLATION


def test_a_forged_token_closes_the_socket_as_unauthorized(server: LiveServer) -> None:
    with connect(server.ws_url(), open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": "a.b.c"}))
        assert close_code(socket, within=10) == UNAUTHORIZED_CLOSE


def test_revocation_reaches_a_socket_without_waiting(tmp_path: Path) -> None:
    """A password change closes the socket at once, not at the next periodic check."""
    with live_server(tmp_path) as server:
        server.add_user("quick", PASSWORD)
        with (
            server.live_socket(login(server, "quick")["access_token"]) as socket,
            server.client() as client,
        ):
            client.patch(
                "/api/v1/users/quick",
                json={"password": NEW_PASSWORD},
                headers=server.admin_headers(),
            )
            started = time.monotonic()
            assert close_code(socket, within=10) == UNAUTHORIZED_CLOSE
            assert time.monotonic() - started < 3
