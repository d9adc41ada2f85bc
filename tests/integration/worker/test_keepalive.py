"""A program never reuses a connection the control plane may be closing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from smsfleet.worker._control import KEEPALIVE_SECONDS, ControlPlane
from tests.support.servers import ThreadedServer


class ClientPorts:
    """Answers a heartbeat with 204 and notes the client port it came from."""

    def __init__(self) -> None:
        self.ports: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        while (await receive()).get("more_body"):
            pass
        self.ports.append(scope["client"][1])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def server() -> Iterator[tuple[ThreadedServer, ClientPorts]]:
    app = ClientPorts()
    running = ThreadedServer(app)  # uvicorn with its defaults, as `smsfleet serve`
    running.start()
    try:
        yield running, app
    finally:
        running.stop()


def test_an_idle_connection_is_dropped_before_the_server_drops_it(
    server: tuple[ThreadedServer, ClientPorts],
) -> None:
    running, app = server
    server_keepalive = uvicorn.Config(app).timeout_keep_alive
    assert server_keepalive / 2 >= KEEPALIVE_SECONDS
    with ControlPlane(running.url, token="t", session="program1_UZ_uzmobile") as control:
        control.heartbeat()
        control.heartbeat()  # at once: the same connection
        time.sleep(KEEPALIVE_SECONDS + 0.3)
        control.heartbeat()  # idle past the client's limit: a new one
    first, again, after_idle = app.ports
    assert again == first
    assert after_idle != first
