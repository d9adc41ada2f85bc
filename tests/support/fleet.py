"""A real fleet on loopback: `smsfleet serve` and the gateway simulator in subprocesses,
the programs in GNU screen in a private screen directory, started through the API.

One pair (`UZ_uzmobile`, two test numbers) with two programs (`program1.py` under two
names) on provider1; the simulator is fast and keeps a ground-truth log of every SMS.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.backends import free_port
from tests.support.waiting import START_TIMEOUT, eventually

REPO = Path(__file__).resolve().parents[2]
SCREEN = shutil.which("screen")
STOP_TIMEOUT = 20.0
PAIR = "UZ_uzmobile"
PHONES = ["+998991234567", "+998991234568"]
PROGRAMS = ("program1", "program2")
SESSIONS = [f"{program}_{PAIR}" for program in PROGRAMS]
AT_REST = {"stopped", "exited", "fatal"}
# The simulator's fate of an SMS, as the program reports it.
REPORTED_AS = {"delivered": "delivered", "not_delivered": "not_delivered"}

SIMULATOR_CONFIG = """
[simulator]
code_length = 6
truth_log = "{truth_log}"

[defaults]
delivery_probability = 0.85
send_error_rate = 0.05
error_codes = ["ROUTE_ERROR"]
error_status = 502
give_up_after_seconds = 0.6

[defaults.latency]
distribution = "uniform"
min_seconds = 0.05
max_seconds = 0.3

[routes.UZ_uzmobile]
phones = {phones}

[providers.provider1]
delivery_probability = 1.0
latency_factor = 1.0
send_error_rate = 0.0
"""


def clean_environment() -> dict[str, str]:
    """The test's environment without any SMSFLEET_ setting of the machine it runs on."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SMSFLEET_")}


def smsfleet_command() -> str:
    beside_python = Path(sys.executable).parent / "smsfleet"
    found = str(beside_python) if beside_python.exists() else shutil.which("smsfleet")
    if found is None:
        pytest.fail("the `smsfleet` command is not installed: run `make python`")
    return found


@functools.cache
def _prober() -> httpx.Client:
    # One client for every probe of the process: a new one loads the CA bundle each time
    # (tens of ms of CPU, which polling while a server starts multiplies). No connection
    # is kept, so a probe never reaches a server that has since gone.
    return httpx.Client(timeout=1.0, limits=httpx.Limits(max_keepalive_connections=0))


def answers(url: str) -> bool:
    """`url` answers 200 now."""
    try:
        return _prober().get(url).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running(
    argv: list[str], *, env: dict[str, str], work: Path, ready: str, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `argv` in a process group of its own until the block ends; `ready` must answer 200.
    Its output goes to `log` (a new file in `work` unless named)."""
    log = log or work / f"{Path(argv[0]).name}-{free_port()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv, env=env, cwd=work, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"{argv[0]} exited early:\n{log.read_text(errors='replace')[-3000:]}")
            if answers(ready):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"{ready} did not answer:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def admin_client(url: str, password: str, *, timeout: float = 30.0) -> Iterator[httpx.Client]:
    """A client of the control plane at `url`, signed in as `admin`, and again whenever its
    access token has expired (a client kept for a whole test session outlives one)."""
    with httpx.Client(base_url=url, timeout=timeout, auth=_AdminLogin(password)) as client:
        yield client


class _AdminLogin(httpx.Auth):
    """Bearer auth with `admin`'s token: logs in before the first request, and once more
    on a 401 for an expired token."""

    requires_response_body = True  # the 401's reason, and the login's token

    def __init__(self, password: str) -> None:
        self._password = password
        self._token: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None:
            yield from self._login(request)
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and "expired" in response.text:
            yield from self._login(request)
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _login(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        login = yield httpx.Request(
            "POST",
            request.url.join("/api/v1/auth/login"),
            json={"username": "admin", "password": self._password},
        )
        login.raise_for_status()
        self._token = login.json()["access_token"]


@dataclass
class Process:
    """A server in a subprocess, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    health_url: str
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not answers(self.health_url):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"{self.name} did not start (exit code {self.popen.poll()}); its output:\n"
                    f"{self.log.read_text(errors='replace')[-4000:]}",
                    pytrace=False,
                )
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def short_dir(prefix: str = "sf-") -> Path:
    """A screen directory short enough for screen's socket paths (107 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def screen_sockets(screen_dir: Path) -> list[str]:
    """The screens living in `screen_dir`, as `pid.name`."""
    if SCREEN is None:
        return []  # no screen, so none lives
    listing = subprocess.run(
        [SCREEN, "-ls"],
        env={**os.environ, "SCREENDIR": str(screen_dir)},
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return re.findall(r"^\s+(\d+\.\S+)\s", listing, re.MULTILINE)


def quit_screens(screen_dir: Path) -> None:
    """Ends whatever screen still lives in the test's own screen directory."""
    env = {**os.environ, "SCREENDIR": str(screen_dir)}
    for socket in screen_sockets(screen_dir):
        assert SCREEN is not None  # there is a socket, so screen listed it
        subprocess.run(
            [SCREEN, "-S", socket, "-X", "quit"], env=env, capture_output=True, check=False
        )


@dataclass
class Rig:
    control_plane: Process
    simulator: Process
    url: str
    simulator_url: str
    password: str
    data_dir: Path

    def admin(self) -> AbstractContextManager[httpx.Client]:
        return admin_client(self.url, self.password)

    def attempts(self) -> list[dict[str, Any]]:
        connection = sqlite3.connect(f"file:{self.data_dir / 'metrics.db'}?mode=ro", uri=True)
        try:
            connection.row_factory = sqlite3.Row
            rows = connection.execute("SELECT * FROM attempts").fetchall()
        finally:
            connection.close()
        return [dict(row) for row in rows]

    def truth(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.simulator_url}/admin/truth", timeout=10.0)
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()["records"]
        return records


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with started_rig(tmp_path) as started:
        yield started


@contextmanager
def started_rig(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[Rig]:
    """The simulator and the control plane (with `env` over its settings), stopped after."""
    if SCREEN is None:
        pytest.fail("GNU screen is missing: install it with `apt-get install -y screen`")
    # Short on purpose: screen's socket paths must fit a Unix socket address.
    screen_dir = short_dir()
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)  # a test may have put something there first
    simulator_port, port = free_port(), free_port()
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "simulator.toml"
    config.write_text(
        SIMULATOR_CONFIG.format(
            truth_log=tmp_path / "truth.jsonl", phones=str(PHONES).replace("'", '"')
        )
    )
    base = clean_environment()
    config_args = ["--config", str(config)]
    simulator = Process(
        "the gateway simulator",
        [sys.executable, "-m", "smsfleet.simulator", "--port", str(simulator_port), *config_args],
        base,
        tmp_path,
        tmp_path / "simulator.log",
        f"{simulator_url}/healthz",
    )
    password = f"Fleet-{secrets.token_urlsafe(18)}"
    control_plane = Process(
        "the control plane",
        [smsfleet_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        {
            **base,
            "SMSFLEET_DATA_DIR": str(data_dir),
            "SMSFLEET_ADMIN_PASSWORD": password,
            "SMSFLEET_SCREEN_DIR": str(screen_dir),
            "SMSFLEET_SIMULATOR_URL": simulator_url,
            "SMSFLEET_PUBLIC_URL": url,
            "SMSFLEET_PROGRAMS_DIR": str(REPO),
            **(env or {}),
        },
        tmp_path,
        tmp_path / "control-plane.log",
        f"{url}/healthz",
    )
    rig = Rig(control_plane, simulator, url, simulator_url, password, data_dir)
    try:
        simulator.start()
        control_plane.start()
        yield rig
    finally:
        try:
            if control_plane.popen is not None and control_plane.popen.poll() is None:
                with suppress(httpx.HTTPError), rig.admin() as client:
                    stop_sessions(client, timeout=STOP_TIMEOUT)
        finally:
            control_plane.stop()
            simulator.stop()
            quit_screens(screen_dir)
            shutil.rmtree(screen_dir, ignore_errors=True)


def stop_sessions(client: httpx.Client, *, timeout: float) -> None:
    client.post(
        "/api/v1/sessions/actions",
        json={"action": "stop", "all": True, "force": True, "reason": "test over"},
    ).raise_for_status()

    def at_rest() -> bool:
        sessions = client.get("/api/v1/sessions").json()
        return all(session["state"] in AT_REST for session in sessions)

    eventually(at_rest, timeout, "every session to stop")


def seed(client: httpx.Client) -> None:
    for program in PROGRAMS:
        response = client.post(
            "/api/v1/programs",
            json={
                "name": program,
                "command": [sys.executable, str(REPO / "programs" / "program1.py")],
                "provider": "provider1",
            },
        )
        assert response.status_code == 201, response.text
    response = client.patch("/api/v1/countries/UZ?force=true", json={"cap": 600})
    assert response.status_code == 200, response.text
    response = client.post(
        "/api/v1/pairs",
        json={
            "country": "UZ",
            "operator": "UzMobile",
            "slug": "uzmobile",
            "phone_numbers": PHONES,
            "programs": list(PROGRAMS),
        },
    )
    assert response.status_code == 201, response.text
    # The supervisor makes a session of each program of the pair at its next tick.
    eventually(
        lambda: all(client.get(f"/api/v1/sessions/{s}").status_code == 200 for s in SESSIONS),
        10,
        "the pair's sessions",
    )
    for session in SESSIONS:
        response = client.post(f"/api/v1/sessions/{session}/start", json={"reason": "fleet test"})
        assert response.status_code == 200, response.text


def sessions_running(client: httpx.Client) -> bool:
    sessions = {s["name"]: s["state"] for s in client.get("/api/v1/sessions").json()}
    return all(sessions.get(name) == "running" for name in SESSIONS)
