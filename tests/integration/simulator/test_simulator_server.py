"""The simulator as its own process (`python -m smsfleet.simulator`), driven over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fleet import answers

ADMIN_TOKEN = "integration-admin-token-0123456789"
CONFIG = """
[simulator]
code_length = 6

[defaults]
delivery_probability = 1.0
send_error_rate = 0.0
give_up_after_seconds = 3.0

# Long enough that a message is still pending when asked for right after its send,
# however busy the machine.
[defaults.latency]
distribution = "uniform"
min_seconds = 2.0
max_seconds = 2.5

[routes.UZ_uzmobile]
phones = ["+998991234567"]

[routes.IN_docomo]
phones = ["+919212345678"]
delivery_probability = 0.0

[providers.provider1]
description = "fast and reliable"
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, config: Path, truth_log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "SMSFLEET_SIMULATOR_ADMIN_TOKEN": ADMIN_TOKEN,
            "SMSFLEET_SIMULATOR_TRUTH_LOG": str(truth_log),
        }
        # A file, not a pipe: uvicorn's access log would fill a pipe nobody reads and block.
        self.log = truth_log.parent / f"simulator-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "smsfleet.simulator",
                    "--port",
                    str(self.port),
                    "--config",
                    str(config),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"simulator exited early:\n{self.log.read_text(errors='replace')}")
            if answers(f"{self.url}/healthz"):
                return
            time.sleep(0.1)
        self.stop()
        pytest.fail("simulator did not become ready within 20 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "simulator.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config, tmp_path / "var" / "truth.jsonl"


@pytest.fixture
def server(paths: tuple[Path, Path]) -> Iterator[Server]:
    running = Server(*paths)
    yield running
    running.stop()


def _poll(client: httpx.Client, trigger_id: str, timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, object] = client.get(f"/gateway/messages/{trigger_id}").json()
        if body["status"] != "pending" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_program_flow_over_http_and_truth_survives_restart(
    server: Server, paths: tuple[Path, Path]
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url, timeout=5) as client:
        sent = client.post(
            "/providers/provider1/send", json={"phone": "+998991234567", "route": "UZ_uzmobile"}
        )
        assert sent.status_code == 200
        trigger_id = sent.json()["trigger_id"]
        assert client.get(f"/gateway/messages/{trigger_id}").json()["status"] == "pending"

        message = _poll(client, trigger_id)
        assert message["status"] == "delivered"
        submitted = client.post(
            "/providers/provider1/submit", json={"trigger_id": trigger_id, "code": message["code"]}
        )
        assert submitted.json() == {"status": "submitted successfully", "trigger_id": trigger_id}

        lost = client.post(
            "/providers/provider1/send", json={"phone": "+919212345678", "route": "IN_docomo"}
        ).json()["trigger_id"]
        assert _poll(client, lost)["status"] == "not_delivered"

        assert client.get("/admin/truth").status_code == 401
        degraded = client.patch("/admin/routes/UZ_uzmobile", json={"outage": True}, headers=admin)
        assert degraded.status_code == 200
        down = client.post(
            "/providers/provider1/send", json={"phone": "+998991234567", "route": "UZ_uzmobile"}
        )
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "route_outage"

        truth = client.get("/admin/truth", headers=admin).json()
        assert truth["counts"]["UZ_uzmobile"]["triggered"] == 2
        assert truth["counts"]["UZ_uzmobile"]["send_errors"] == 1
        assert truth["counts"]["UZ_uzmobile"]["submitted"] == 1
        assert truth["counts"]["IN_docomo"]["not_delivered"] == 1

    server.stop()
    restarted = Server(*paths)
    try:
        with httpx.Client(base_url=restarted.url, timeout=5, headers=admin) as client:
            assert client.get("/admin/truth").json()["counts"] == truth["counts"]
            assert client.get(f"/gateway/messages/{trigger_id}").json()["status"] == "delivered"
            inbox = client.get("/gateway/inbox", params={"phone": "+998991234567"}).json()
            assert [m["trigger_id"] for m in inbox["messages"]] == [trigger_id]
    finally:
        restarted.stop()
