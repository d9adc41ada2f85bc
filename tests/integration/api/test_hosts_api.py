"""A pair placed on a remote host (a loopback sshd): its session as the API shows it."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsfleet.auth.models import Role
from smsfleet.core.clock import SystemClock
from smsfleet.core.settings import Settings
from smsfleet.sessions.screen import ScreenBackend
from tests.integration.api.test_sessions_api import await_state, sessions, state
from tests.support.api import Api, program_dir, serving
from tests.support.fleet import short_dir
from tests.support.live import live_socket
from tests.support.programs import install_program
from tests.support.sessions import TICKING, require_screen
from tests.support.sshd import SshServer, start_sshd
from tests.support.waiting import eventually

NAME = "ticker_UZ_uzmobile"
# Each step on the host is an ssh login and a Python start there: seconds on a busy machine.
REMOTE_SECONDS = 30.0


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[Api, SshServer, ScreenBackend]]:
    require_screen()
    server = start_sshd(tmp_path / "sshd")
    local_screens, edge_screens = short_dir("sf-"), short_dir("sf-edge-")
    settings = Settings(
        data_dir=tmp_path / "here",
        web_dir=tmp_path / "no-web",
        screen_dir=local_screens,
        supervisor_interval_seconds=0.1,
        start_seconds=0.2,
        stop_grace_seconds=2,
        # The edge is this machine: its program directory is the control plane's.
        hosts={
            "edge1": server.host(
                tmp_path / "edge1", edge_screens, program_dirs=[str(program_dir(tmp_path))]
            )
        },
        program_dirs=[program_dir(tmp_path)],
    )
    seen = ScreenBackend(tmp_path / "edge1" / "sessions", screen_dir=edge_screens)
    with serving(settings, SystemClock()) as api:
        yield api, server, seen
    for entry in seen.list():
        seen.stop(entry.name, grace_seconds=0)
    server.stop()
    shutil.rmtree(local_screens, ignore_errors=True)
    shutil.rmtree(edge_screens, ignore_errors=True)


def hosts(api: Api, role: Role = Role.operator) -> dict[str, dict[str, object]]:
    response = api.client.get("/api/v1/hosts", headers=api.headers(role))
    assert response.status_code == 200, response.text
    return {host["name"]: host for host in response.json()}


def test_a_session_on_a_remote_host_starts_logs_recovers_and_stops(
    edge: tuple[Api, SshServer, ScreenBackend],
) -> None:
    api, server, seen = edge
    operator = api.headers(Role.operator)
    admin = api.headers(Role.admin)
    eventually(lambda: all(h["reachable"] for h in hosts(api).values()))
    assert (
        hosts(api)["edge1"]["address"] == f"{server.host(Path('/'), Path('/')).ssh}:{server.port}"
    )
    # A viewer sees the host and its state, not how to log in to it.
    seen_by_viewer = hosts(api, Role.viewer)["edge1"]
    assert (seen_by_viewer["address"], seen_by_viewer["reachable"]) == (None, True)

    # Installed in a program directory; the edge host is this machine, so it is there too.
    command = install_program(api.settings.program_dirs[0], "ticker", TICKING)
    program = {"name": "ticker", "command": command}
    assert api.client.post("/api/v1/programs", json=program, headers=admin).status_code == 201
    pair = {
        "country": "UZ",
        "operator": "uzmobile",
        "programs": ["ticker"],
        "phone_numbers": ["+998901234567"],
        "host": "edge9",
    }
    refused = api.client.post("/api/v1/pairs", json=pair, headers=operator)
    assert refused.status_code == 422
    assert "edge9" in refused.text and api.store.pairs.list() == []
    created = api.client.post("/api/v1/pairs", json={**pair, "host": "edge1"}, headers=operator)
    assert created.status_code == 201 and created.json()["host"] == "edge1"

    assert api.client.post(f"/api/v1/sessions/{NAME}/start", headers=operator).status_code == 200
    await_state(api, NAME, "running", timeout=REMOTE_SECONDS)
    assert [entry.name for entry in seen.list()] == [NAME]  # there, not here
    view = api.client.get(f"/api/v1/sessions/{NAME}", headers=operator).json()
    assert view["host"] == "edge1" and view["pid"] > 0
    # Its CPU and memory come from the host's own listing, not from a pid read here.
    eventually(
        lambda: (next(s for s in sessions(api) if s["name"] == NAME)["memory_bytes"] or 0) > 1e6
    )
    listed = next(s for s in sessions(api) if s["name"] == NAME)
    assert listed["cpu_percent"] is not None and listed["memory_bytes"] > 1_000_000
    assert hosts(api)["edge1"]["running"] == 1

    with live_socket(api.client, api.token(Role.viewer)) as socket:
        socket.send_json({"follow_logs": NAME})
        while (message := socket.receive_json())["topic"] != "logs":
            pass
        assert message["data"]["name"] == NAME
        assert any(line.endswith("tick") for line in message["data"]["lines"])
    logs = api.client.get(f"/api/v1/sessions/{NAME}/logs?lines=3", headers=operator).json()
    assert len(logs["lines"]) == 3 and logs["lines"][-1].endswith("tick")

    run = seen.status(NAME)
    assert run is not None and run.program_pid is not None
    os.kill(run.program_pid, signal.SIGKILL)
    eventually(
        lambda: (
            api.client.get(f"/api/v1/sessions/{NAME}", headers=operator).json()["restarts"] == 1
            and state(api, NAME) == "running"
        ),
        timeout=REMOTE_SECONDS,
    )
    events = api.client.get(f"/api/v1/sessions/{NAME}/events", headers=operator).json()
    exited = next(e for e in events if e["kind"] == "exited")
    assert exited["details"]["exit_code"] == -9

    server.stop()
    eventually(lambda: hosts(api)["edge1"]["reachable"] is False)
    assert hosts(api)["edge1"]["error"] not in (None, "does not answer")
    assert hosts(api, Role.viewer)["edge1"]["error"] == "does not answer"  # not the raw error
    unreadable = api.client.get(f"/api/v1/sessions/{NAME}/logs", headers=operator)
    assert unreadable.status_code == 503 and unreadable.headers["Retry-After"] == "5"
    # Every signed-in user may read a log: its 503 names the host, not how it is reached
    # nor what ssh said (operators read that in the host's error).
    login = server.host(Path("/"), Path("/")).ssh
    for role in (Role.viewer, Role.operator):
        said = api.client.get(f"/api/v1/sessions/{NAME}/logs", headers=api.headers(role))
        assert said.status_code == 503
        assert said.json()["error"]["message"] == (
            f"the log of {NAME} cannot be read now: host edge1 does not answer"
        )
    assert login in str(hosts(api)["edge1"]["error"])
    assert state(api, NAME) == "running"  # unknown, not crashed
    server.start()
    eventually(lambda: hosts(api)["edge1"]["reachable"] is True, timeout=REMOTE_SECONDS)

    assert api.client.post(f"/api/v1/sessions/{NAME}/stop", headers=operator).status_code == 200
    await_state(api, NAME, "stopped", timeout=REMOTE_SECONDS)
    assert seen.list() == []
