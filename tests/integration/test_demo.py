"""`smsfleet demo`, what `make run` starts: the demo fleet sends live, and Ctrl-C ends it all.

The demo runs as a user runs it (a subprocess, its own data dir, free ports, a private
screen directory): it prints the URL and the login, its pairs' sessions run the demo
programs against the gateway simulator and attempts get outcomes, the seed verification
service's sample request is delivered; the terminal shows a status line every 10 s and
no per-request log; SIGINT (Ctrl-C) stops the control plane, the simulator, the search
service and every demo session, and prints the URL and the login again; SIGTERM too.
With --access-log, every request is printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from smsfleet.cli import app
from smsfleet.demo import DEMO_PAIRS
from smsfleet.sessions.models import SessionState
from smsfleet.stores import open_config_store
from tests.support.backends import free_port
from tests.support.fleet import (
    SCREEN,
    admin_client,
    answers,
    clean_environment,
    quit_screens,
    screen_sockets,
    short_dir,
    smsfleet_command,
)
from tests.support.waiting import START_TIMEOUT, eventually

LIVE_TIMEOUT = 60.0
# A send whose first try the gateway does not deliver (1 in 100 on the demo's US route) is
# known undelivered only when the program stops waiting for its code (115 s), and then goes
# to the pair's next program.
SEND_TIMEOUT = 150.0
SEED_SEND = {"phone": "+1234567890", "token_value": {"token": "123456"}, "template_id": 1}
EXIT_TIMEOUT = 30.0
# The status line comes every 10 s.
STATUS_TIMEOUT = 15.0
STATUS_LINE = re.compile(
    r"\d+ sessions running · \d+\.\d sends granted per minute \(goal \d+\) · \d+ alerts? open"
)


def _screens(screen_dir: Path) -> list[str]:
    assert SCREEN is not None, "GNU screen is missing: install it with `apt-get install -y screen`"
    return [socket.split(".", 1)[1] for socket in screen_sockets(screen_dir)]


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    url: str
    ports: tuple[int, int]  # the simulator's and the search service's
    screen_dir: Path
    log: Path
    env: dict[str, str]

    def printed(self) -> str:
        return self.log.read_text()


@contextmanager
def running_demo(tmp_path: Path, *options: str) -> Iterator[Demo]:
    """`smsfleet demo` as a user starts it; killed with its screens if the test fails."""
    screen_dir = short_dir()
    port, simulator_port, search_port = free_port(), free_port(), free_port()
    argv = [
        smsfleet_command(), "demo", "--port", str(port),
        "--simulator-port", str(simulator_port), "--search-port", str(search_port), *options,
    ]  # fmt: skip
    env = {
        **clean_environment(),
        "SMSFLEET_DATA_DIR": str(tmp_path / "data"),
        "SMSFLEET_SCREEN_DIR": str(screen_dir),
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        # A process group of its own, as a shell gives a foreground job.
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ports = (simulator_port, search_port)
    demo = Demo(process, f"http://127.0.0.1:{port}", ports, screen_dir, log, env)
    try:
        eventually(lambda: answers(f"{demo.url}/healthz"), START_TIMEOUT, "the demo to answer")
        yield demo
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        quit_screens(screen_dir)
        shutil.rmtree(screen_dir, ignore_errors=True)


def _login(demo: Demo) -> str:
    login = re.search(r"log in as: admin / (\S+)", demo.printed())
    assert login is not None, demo.printed()
    return login.group(1)


def _wait_all_running(client: httpx.Client) -> set[str]:
    names = {s["name"] for s in client.get("/api/v1/sessions").json()}
    assert len(names) >= len(DEMO_PAIRS), names

    def all_running() -> bool:
        states = {s["name"]: s["state"] for s in client.get("/api/v1/sessions").json()}
        return all(states.get(name) == "running" for name in names)

    eventually(all_running, START_TIMEOUT, "every demo session running")
    return names


def _assert_all_stopped(demo: Demo, sessions: int) -> None:
    assert demo.process.wait(timeout=EXIT_TIMEOUT) == 0, demo.printed()[-3000:]
    assert f"{sessions} demo sessions stopped" in demo.printed()
    assert _screens(demo.screen_dir) == []
    for server in (demo.url, *(f"http://127.0.0.1:{port}" for port in demo.ports)):
        assert not answers(f"{server}/healthz"), f"{server} still answers"


def test_the_demo_fleet_sends_live_and_ctrl_c_stops_all_of_it(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        url, log = demo.url, demo.log
        printed = log.read_text()
        assert f"smsfleet demo: {url}/" in printed, printed
        # The first URL a new user reads is the dashboard's: no server's start-up lines.
        assert "Uvicorn running on" not in printed, printed
        password = _login(demo)

        with admin_client(url, password) as client:
            pairs = client.get("/api/v1/pairs").json()
            assert len(pairs) == len(DEMO_PAIRS), pairs
            names = _wait_all_running(client)
            assert set(_screens(demo.screen_dir)) == names

            def completed_by_pair() -> Counter[str]:
                summary = client.get("/api/v1/metrics/summary", params={"group_by": "pair"})
                summary.raise_for_status()
                return Counter({g["key"]: g["completed"] for g in summary.json()["groups"]})

            # Live traffic: attempts of several countries get their outcomes.
            eventually(
                lambda: len(+completed_by_pair()) >= 3,
                LIVE_TIMEOUT,
                "completed attempts on three pairs",
            )

            # The seed verification service's sample request, word for word, is delivered.
            queued = client.post("/sendsms/", json=SEED_SEND)
            assert queued.status_code == 202, queued.text
            send = f"/api/v1/messages/sends/{queued.json()['id']}"
            eventually(
                lambda: client.get(send).json()["status"] == "DONE",
                SEND_TIMEOUT,
                lambda: f"the seed's sample send to be DONE: {client.get(send).json()}",
            )

        # A quiet terminal: a status line now and then, not the programs' requests nor
        # the dashboard's sockets.
        ws_url = url.replace("http://", "ws://") + "/api/v1/ws"
        with connect(ws_url) as socket:
            socket.send(json.dumps({"type": "auth", "token": "not-a-token"}))
            with contextlib.suppress(ConnectionClosed):
                socket.recv(timeout=5)
        eventually(
            lambda: STATUS_LINE.search(log.read_text()) is not None,
            STATUS_TIMEOUT,
            "a status line",
        )
        printed = log.read_text()
        assert "/api/v1/worker/" not in printed, printed[-3000:]
        assert '"GET /' not in printed and '"POST /' not in printed, printed[-3000:]
        assert "WebSocket" not in printed and "connection open" not in printed, printed[-3000:]

        # Ctrl-C: the terminal signals the whole foreground group.
        os.killpg(demo.process.pid, signal.SIGINT)
        _assert_all_stopped(demo, len(names))
        printed = log.read_text()
        # The URL and the login again, last, where the terminal's scrolling left them.
        assert printed.count(f"log in as: admin / {password}") == 2, printed[-3000:]
        assert f"smsfleet demo was at: {url}/" in printed
    _assert_told_stopped(tmp_path, names)
    # The simulator's ground truth is kept in the demo's data dir, not in the working dir.
    truth = tmp_path / "data" / "simulator" / "truth.jsonl"
    assert truth.stat().st_size > 0
    assert not (tmp_path / "var").exists()


def _assert_told_stopped(tmp_path: Path, names: set[str]) -> None:
    """What the next start reads: the sessions stopped by the demo, not crashed, and no
    send refused by a simulator not yet up."""
    store = open_config_store(f"sqlite:///{tmp_path / 'data' / 'config.db'}")
    try:
        for name in names:
            status = store.session_status.get(name)
            assert status is not None and status.state == SessionState.stopped, status
            last = store.session_events.recent(limit=1, session=name)[0]
            assert (last.kind, last.actor, last.reason) == ("stopped", "demo", "the demo ended")
    finally:
        store.close()
    metrics = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'metrics.db'}")
    try:
        with metrics.connect() as connection:
            codes = connection.execute(sa.text("SELECT DISTINCT error_code FROM attempts"))
            assert "provider_unreachable" not in set(codes.scalars())
    finally:
        metrics.dispose()


def test_sigterm_stops_the_demo_as_ctrl_c_does_and_access_log_prints_each_request(
    tmp_path: Path,
) -> None:
    """SIGTERM is what `kill` or a service manager sends, to the demo's process alone."""
    with (
        running_demo(tmp_path, "--access-log") as demo,
        admin_client(demo.url, _login(demo)) as client,
    ):
        names = _wait_all_running(client)
        assert client.get("/api/v1/pairs").status_code == 200

        def logged(line: str) -> Callable[[], bool]:
            return lambda: line in demo.printed()

        eventually(logged('"GET /api/v1/pairs HTTP/1.1" 200'), STATUS_TIMEOUT, "the request")
        # The programs' own requests too.
        eventually(logged('"POST /api/v1/worker/lease HTTP/1.1" 200'), LIVE_TIMEOUT, "a lease")
        demo.process.send_signal(signal.SIGTERM)
        _assert_all_stopped(demo, len(names))


def test_a_second_demo_starts_nothing_and_leaves_the_running_one_untouched(
    tmp_path: Path,
) -> None:
    """`make run` typed twice: the second demo finds the port or the data dir taken and
    ends before it starts, stops or touches any session or process of the first."""
    with (
        running_demo(tmp_path) as demo,
        admin_client(demo.url, _login(demo)) as client,
    ):
        _wait_all_running(client)

        def runs() -> dict[str, tuple[object, ...]]:
            sessions = client.get("/api/v1/sessions").json()
            return {
                s["name"]: (s["state"], s["pid"], s["restarts"], s["requested_restarts"])
                for s in sessions
            }

        before = runs()
        port = demo.url.rsplit(":", 1)[1]
        simulator, search = (str(p) for p in demo.ports)
        elsewhere = (str(free_port()), str(free_port()), str(free_port()))
        tries = {
            "the same ports": ((port, simulator, search), f"cannot listen on 127.0.0.1:{port}"),
            # The option that chooses another is named.
            "the simulator's port": (
                (elsewhere[0], simulator, elsewhere[2]),
                f"cannot listen on 127.0.0.1:{simulator} (Address already in use): is it"
                " running already? Stop it, or choose another port (--simulator-port)",
            ),
            "other ports": (elsewhere, "another control plane (pid"),
        }
        for what, ((*ports,), said) in tries.items():
            argv = [
                smsfleet_command(), "demo", "--port", ports[0],
                "--simulator-port", ports[1], "--search-port", ports[2],
            ]  # fmt: skip
            second = subprocess.run(
                argv, env=demo.env, cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            printed = second.stdout + second.stderr
            assert second.returncode == 2, (what, printed)
            assert said in printed and "nothing was started" in printed, (what, printed)
            assert "smsfleet demo:" not in printed and "stopped" not in printed, (what, printed)
        time.sleep(2)  # two supervisor ticks: a session stopped meanwhile would show
        assert runs() == before
        assert set(_screens(demo.screen_dir)) == set(before)


def test_the_help_says_no_sessions_still_starts_the_high_priority_ones() -> None:
    """A high-priority pair's sessions are wanted running from the start, by anyone's
    leave or none, and a session still wanted running when the demo ended runs again:
    --no-sessions asks none to start, and says both."""
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.replace("│", " ").split())
    assert (
        "Start the demo sessions. With --no-sessions none is asked to start: the"
        " high-priority pairs' sessions still start, as theirs always do, and those still"
        " wanted running when the demo last ended run again"
    ) in words
