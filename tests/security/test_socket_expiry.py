"""A live socket lasts as long as the access token it signed in with: past its expiry it
closes as unauthorized (4401), and the dashboard signs in again with a refreshed token.
The control plane runs in process on a fake clock, so a 15-minute token expires at once."""

from __future__ import annotations

import time
from datetime import timedelta

from pydantic import BaseModel
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from smsfleet.auth.models import Role
from tests.support.api import PASSWORDS, Api
from tests.support.fakes import FakeClock
from tests.support.live import live_socket

UNAUTHORIZED_CLOSE = 4401


class Tick(BaseModel):
    """An event no listener of the bus acts on: something for an open socket to send."""

    tick: int


def close_code(api: Api, socket: WebSocketTestSession, within: float) -> int | None:
    """The code the server closes `socket` with within `within` seconds; None if it stays
    open. An event published before each read means a read never waits for good."""
    deadline = time.monotonic() + within
    tick = 0
    while time.monotonic() < deadline:
        tick += 1
        api.services.bus.publish("sessions", Tick(tick=tick))
        try:
            socket.receive_json()
        except WebSocketDisconnect as closed:
            return closed.code
        time.sleep(0.05)
    return None


def fake_clock(api: Api) -> FakeClock:
    assert isinstance(api.clock, FakeClock), api.clock
    return api.clock


def lifetime(api: Api) -> timedelta:
    return timedelta(minutes=api.settings.access_token_minutes)


def test_a_socket_closes_once_its_access_token_expires(api: Api) -> None:
    clock = fake_clock(api)
    with live_socket(api.client, api.token(Role.viewer)) as socket:
        clock.advance(lifetime(api).total_seconds())
        assert close_code(api, socket, within=5) == UNAUTHORIZED_CLOSE


def test_a_socket_stays_open_while_its_access_token_is_valid(api: Api) -> None:
    clock = fake_clock(api)
    with live_socket(api.client, api.token(Role.viewer)) as socket:
        clock.advance(lifetime(api).total_seconds() - 5)
        assert close_code(api, socket, within=1.5) is None
        clock.advance(5)
        assert close_code(api, socket, within=5) == UNAUTHORIZED_CLOSE


def test_a_refreshed_token_opens_a_socket_again(api: Api) -> None:
    """What the dashboard does on 4401: refresh, then sign the new socket in."""
    clock = fake_clock(api)
    credentials = {"username": Role.viewer.value, "password": PASSWORDS[Role.viewer]}
    login = api.client.post("/api/v1/auth/login", json=credentials)
    assert login.status_code == 200, login.text
    with live_socket(api.client, login.json()["access_token"]) as socket:
        clock.advance(lifetime(api).total_seconds() + 1)
        assert close_code(api, socket, within=5) == UNAUTHORIZED_CLOSE
    refreshed = api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    with live_socket(api.client, refreshed.json()["access_token"]) as socket:
        assert close_code(api, socket, within=1) is None
