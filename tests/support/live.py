"""The live WebSocket as the dashboard opens it: connect, then the token first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient, WebSocketTestSession


@contextmanager
def live_socket(client: TestClient, token: str) -> Iterator[WebSocketTestSession]:
    """A socket signed in with `token`, subscribed once the server has said so."""
    with client.websocket_connect("/api/v1/ws") as socket:
        socket.send_json({"type": "auth", "token": token})
        ack: dict[str, Any] = socket.receive_json()
        assert ack["topic"] == "auth", ack
        yield socket
