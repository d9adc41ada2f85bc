"""A control plane of its own for a test: `smsfleet serve` in a subprocess on loopback.

Clients can speak from other loopback addresses (127.0.0.2, …) to stand for other
machines; the server's process id is there to watch its memory.

- `live_server`: the server with user `admin`.
- `live_api`: the server with a user of each role (`PASSWORDS`), as `running_api` has,
  and a client of it, for tests that speak to a running control plane over HTTP.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from websockets.sync.client import ClientConnection, connect

from smsfleet.auth.models import Role
from tests.support.api import PASSWORDS, SignsInByRole
from tests.support.backends import free_port
from tests.support.fleet import clean_environment, running

ADMIN_PASSWORD = "admin-password-for-security-tests"


@dataclass
class LiveServer:
    url: str
    pid: int
    log: Path
    data_dir: Path
    admin_password: str = ADMIN_PASSWORD

    def client(self, address: str = "127.0.0.1", **kwargs: object) -> httpx.Client:
        """A client whose requests come from `address` (any of 127.0.0.0/8)."""
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def login(self, username: str, password: str, address: str = "127.0.0.1") -> httpx.Response:
        with self.client(address) as client:
            return client.post(
                "/api/v1/auth/login", json={"username": username, "password": password}
            )

    def admin_headers(self) -> dict[str, str]:
        response = self.login("admin", self.admin_password)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def add_user(self, username: str, password: str, role: str = "viewer") -> None:
        with self.client() as client:
            response = client.post(
                "/api/v1/users",
                json={"username": username, "password": password, "role": role},
                headers=self.admin_headers(),
            )
        assert response.status_code == 201, response.text

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    def ws_url(self, query: str = "") -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws" + query

    @contextmanager
    def live_socket(self, token: str) -> Iterator[ClientConnection]:
        """The live WebSocket as the dashboard opens it: signed in with `token` first."""
        with connect(self.ws_url(), open_timeout=10) as socket:
            socket.send(json.dumps({"type": "auth", "token": token}))
            ack = json.loads(socket.recv(timeout=10))
            assert ack["topic"] == "auth", ack
            yield socket


@dataclass
class LiveApi(SignsInByRole):
    """A running control plane with a user of each role, and a client of it."""

    server: LiveServer
    client: httpx.Client
    tokens: dict[Role, str] = field(default_factory=dict)


@contextmanager
def live_server(tmp_path: Path, host: str = "127.0.0.1", **env: str) -> Iterator[LiveServer]:
    """`smsfleet serve` on a fresh SQLite store, user `admin`, `env` over the defaults,
    listening on `host` and reached on 127.0.0.1."""
    port = free_port()
    environment = {
        **clean_environment(),
        "SMSFLEET_DATA_DIR": str(tmp_path / "data"),
        "SMSFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SMSFLEET_SUPERVISE": "false",
        "SMSFLEET_WEB_DIR": str(tmp_path / "no-web"),
        **env,
    }
    log = tmp_path / "serve.log"
    argv = [sys.executable, "-c", "from smsfleet.cli import app; app()", "serve"]
    url = f"http://127.0.0.1:{port}"
    serve = [*argv, "--host", host, "--port", str(port)]
    with running(serve, env=environment, work=tmp_path, ready=f"{url}/healthz", log=log) as process:
        admin_password = environment["SMSFLEET_ADMIN_PASSWORD"]
        data_dir = Path(environment["SMSFLEET_DATA_DIR"])
        yield LiveServer(
            url=url, pid=process.pid, log=log, data_dir=data_dir, admin_password=admin_password
        )


@contextmanager
def live_api(tmp_path: Path, **env: str) -> Iterator[LiveApi]:
    """`live_server` (`env` over its defaults) with the users of `add_users`."""
    admin = {"SMSFLEET_ADMIN_PASSWORD": PASSWORDS[Role.admin]}
    with live_server(tmp_path, **(admin | env)) as server:
        for role in Role:
            if role is not Role.admin:
                server.add_user(role.value, PASSWORDS[role], role.value)
        with server.client() as client:
            yield LiveApi(server=server, client=client)
