"""The live WebSocket as the dashboard opens it: connect, then the token first."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient, WebSocketTestSession

from smsfleet.auth.models import Role
from smsfleet.sessions.screen import ScreenBackend
from tests.support.api import Api


@contextmanager
def live_socket(client: TestClient, token: str) -> Iterator[WebSocketTestSession]:
    """A socket signed in with `token`, subscribed once the server has said so."""
    with client.websocket_connect("/api/v1/ws") as socket:
        socket.send_json({"type": "auth", "token": token})
        ack: dict[str, Any] = socket.receive_json()
        assert ack["topic"] == "auth", ack
        yield socket


def add_sessions(api: Api, *pairs: tuple[str, str]) -> list[str]:
    """Sessions of program1 on pairs of these (country, operator), made by the admin and
    read (which makes their specs, as the supervisor does; none runs): their names."""
    admin = api.headers(Role.admin)
    program = {"name": "program1", "command": [sys.executable, "programs/program1.py"]}
    assert api.client.post("/api/v1/programs", json=program, headers=admin).status_code == 201
    names = []
    for country, operator in pairs:
        pair = {"country": country, "operator": operator, "programs": ["program1"]}
        made = api.client.post("/api/v1/pairs", json=pair, headers=admin)
        assert made.status_code == 201, made.text
        name = f"program1_{made.json()['key']}"
        assert api.client.get(f"/api/v1/sessions/{name}", headers=admin).status_code == 200
        names.append(name)
    return names


def write_log(api: Api, name: str, *lines: str) -> None:
    """`lines` written to the log of session `name`, as its program writes them."""
    backend = api.services.sessions.backend_of(name)
    assert isinstance(backend, ScreenBackend), backend
    path: Path = backend.log_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as log:
        log.writelines(f"{line}\n" for line in lines)
