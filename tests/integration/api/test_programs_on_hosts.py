"""A program installed only on an SSH host is defined through the API, checked there by
the host's agent on its own disk, and runs there; one no host accepts is refused with
every host's reason. A loopback sshd stands for the host, with a program directory of its
own; a second host does not answer."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from smsfleet.auth.models import Role
from smsfleet.core.clock import SystemClock
from smsfleet.core.settings import Settings
from smsfleet.sessions.screen import ScreenBackend
from tests.integration.api.test_sessions_api import await_state
from tests.support.api import Api, serving
from tests.support.fleet import short_dir
from tests.support.programs import install_program
from tests.support.sessions import TICKING, require_screen
from tests.support.sshd import start_sshd
from tests.support.waiting import eventually

NAME = "ticker_UZ_uzmobile"
REMOTE_SECONDS = 30.0  # each step on the host is an ssh login and a Python start there


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Api, Path, ScreenBackend]]:
    """The API, the edge host's program directory, and what runs on the edge host."""
    require_screen()
    server = start_sshd(tmp_path / "sshd")
    here, there = tmp_path / "control-plane-programs", tmp_path / "edge-programs"
    here.mkdir()
    there.mkdir()
    local_screens, edge_screens = short_dir("sf-"), short_dir("sf-edge-")
    settings = Settings(
        data_dir=tmp_path / "control-plane",
        web_dir=tmp_path / "no-web",
        screen_dir=local_screens,
        supervisor_interval_seconds=0.1,
        start_seconds=0.2,
        stop_grace_seconds=2,
        programs_dir=tmp_path,
        program_dirs=[here],
        hosts={
            "edge1": server.host(
                tmp_path / "edge1",
                edge_screens,
                programs_dir=str(tmp_path),
                program_dirs=[str(there)],
            ),
            "edge2": server.host(tmp_path / "edge2", edge_screens, port=_closed_port()),
        },
    )
    seen = ScreenBackend(tmp_path / "edge1" / "sessions", screen_dir=edge_screens)
    with serving(settings, SystemClock()) as api:
        yield api, there, seen
    for entry in seen.list():
        seen.stop(entry.name, grace_seconds=0)
    server.stop()
    shutil.rmtree(local_screens, ignore_errors=True)
    shutil.rmtree(edge_screens, ignore_errors=True)


def test_a_program_only_on_an_ssh_host_is_defined_and_runs_there(
    rig: tuple[Api, Path, ScreenBackend], tmp_path: Path
) -> None:
    api, there, seen = rig
    admin, operator = api.headers(Role.admin), api.headers(Role.operator)
    command = install_program(there, "ticker", TICKING)
    created = api.client.post(
        "/api/v1/programs", json={"name": "ticker", "command": command}, headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["command"] == command

    pair = {
        "country": "UZ",
        "operator": "uzmobile",
        "programs": ["ticker"],
        "phone_numbers": ["+998901234567"],
        "host": "edge1",
    }
    assert api.client.post("/api/v1/pairs", json=pair, headers=operator).status_code == 201
    assert api.client.post(f"/api/v1/sessions/{NAME}/start", headers=operator).status_code == 200
    await_state(api, NAME, "running", timeout=REMOTE_SECONDS)
    eventually(lambda: [entry.name for entry in seen.list() if entry.alive] == [NAME])

    # A new command is checked the same way: on the edge host, where it is installed.
    moved = install_program(there, "ticker2", TICKING)
    changed = api.client.patch("/api/v1/programs/ticker", json={"command": moved}, headers=admin)
    assert changed.status_code == 200 and changed.json()["command"] == moved


def test_a_command_no_host_accepts_is_refused_with_every_hosts_reason(
    rig: tuple[Api, Path, ScreenBackend], tmp_path: Path
) -> None:
    api, there, _ = rig
    admin = api.headers(Role.admin)
    nowhere = install_program(tmp_path / "elsewhere", "ticker", TICKING)
    shell = there / "runner"
    shell.write_bytes(Path("/bin/dash").read_bytes())
    shell.chmod(0o755)
    for command in (nowhere, [str(shell), "-c", "id"]):
        refused = api.client.post(
            "/api/v1/programs", json={"name": "ticker", "command": command}, headers=admin
        )
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["message"].startswith("no host accepts this command: local: ")
        said = [item["message"] for item in error["details"]]
        assert [reason.split(":")[0] for reason in said] == ["local", "edge1", "edge2"]
        assert all(item["field"].startswith("command") for item in error["details"])
        assert "edge2: host edge2 could not check it: host edge2 does not answer" in said[2]
        assert api.store.programs.list() == []
    # The edge host refuses a shell by its own bytes, as this one does.
    assert "shell" in refused.json()["error"]["details"][1]["message"]
