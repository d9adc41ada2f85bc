"""A control plane of its own for a test: `smsfleet serve` in a subprocess on loopback.

Clients can speak from other loopback addresses (127.0.0.2, …) to stand for other
machines; the server's process id is there to watch its memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.backends import free_port
from tests.support.fleet import clean_environment

ADMIN_PASSWORD = "admin-password-for-security-tests"
START_TIMEOUT = 30.0


@dataclass
class LiveServer:
    url: str
    pid: int
    log: Path

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
        response = self.login("admin", ADMIN_PASSWORD)
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


@contextmanager
def live_server(tmp_path: Path, **env: str) -> Iterator[LiveServer]:
    """`smsfleet serve` on a fresh SQLite store, user `admin`, `env` over the defaults."""
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
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the control plane did not start:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield LiveServer(url=url, pid=process.pid, log=log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
