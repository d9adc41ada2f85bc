"""Sessions on other hosts over real OpenSSH: a loopback sshd stands for two remote hosts.

Each "host" has its own data and screen directories, so a local screen backend
pointed at them sees exactly what runs "there", independently of the SSH path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smsfleet.cli import app
from smsfleet.core.settings import SshHost
from smsfleet.pairs.models import PairUpdate
from smsfleet.pairs.service import update_pair
from smsfleet.sessions.backend import LaunchSpec
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.models import DesiredState, SessionState
from smsfleet.sessions.screen import ScreenBackend
from smsfleet.sessions.service import list_hosts
from smsfleet.sessions.ssh import HostUnreachable, SshBackend
from tests.support.fleet import short_dir
from tests.support.programs import install_program
from tests.support.sessions import ADMIN, TICKING, Fleet
from tests.support.sshd import SshServer, start_sshd
from tests.support.waiting import eventually

S = SessionState
EDGES = ("edge1", "edge2")
TOKEN_CHECK = (
    "import os, time\n"
    "print('token ok' if os.environ['SMSFLEET_WORKER_TOKEN'] == 'tok-123' else 'no token',"
    " flush=True)\n" + TICKING
)


@dataclass
class Edges:
    server: SshServer
    inventory: dict[str, SshHost]
    # What runs on each edge, read directly from its directories (not over SSH).
    seen: dict[str, ScreenBackend]
    programs: Path

    def screens(self, host: str) -> list[str]:
        return sorted(entry.name for entry in self.seen[host].list() if entry.alive)

    def program_pid(self, host: str, name: str) -> int:
        run = self.seen[host].status(name)
        assert run is not None and run.program_pid is not None
        return run.program_pid


@pytest.fixture
def edges(tmp_path: Path, fleet: Fleet) -> Iterator[Edges]:
    # The sshd's logins write as a login's usual umask does, whatever an earlier test of
    # this process left (the CLI's 077): the agent's own is what makes its files private.
    umask = os.umask(0o022)
    try:
        server = start_sshd(tmp_path / "sshd")
    finally:
        os.umask(umask)
    screen_dirs = {name: short_dir(f"sf-{name}-") for name in EDGES}
    # The edges share this disk, and so their program directory.
    programs = tmp_path / "programs"
    inventory = {
        name: server.host(
            tmp_path / name,
            screen_dirs[name],
            programs_dir=str(tmp_path),
            program_dirs=[str(programs)],
        )
        for name in EDGES
    }
    seen = {
        name: ScreenBackend(tmp_path / name / "sessions", screen_dir=screen_dirs[name])
        for name in EDGES
    }
    fleet.hosts = Hosts.build(fleet.backend, inventory)
    fleet.programs = programs
    yield Edges(server=server, inventory=inventory, seen=seen, programs=programs)
    for supervisor in fleet.supervisors:
        supervisor.close()
    for backend in seen.values():
        for entry in backend.list():
            backend.stop(entry.name, grace_seconds=0)
    server.stop()
    for directory in screen_dirs.values():
        shutil.rmtree(directory, ignore_errors=True)


def test_the_ssh_backend_starts_reads_and_stops_a_session_there(
    edges: Edges, fleet: Fleet, tmp_path: Path
) -> None:
    backend = SshBackend("edge1", edges.inventory["edge1"])
    name = "program1_UZ_uzmobile"
    spec = LaunchSpec(
        name=name,
        argv=tuple(install_program(edges.programs, "token_check", TOKEN_CHECK)),
        env={"SMSFLEET_WORKER_TOKEN": "tok-123"},
    )
    # The secret travels in the request on stdin, never on a command line.
    assert not any("tok-123" in arg for arg in backend.ssh_argv())
    entry = backend.start(spec)
    assert entry.alive and entry.name == name
    assert edges.screens("edge1") == [name]
    assert fleet.screens() == [] and edges.screens("edge2") == []
    assert [e.name for e in backend.list() if e.alive] == [name]
    run = backend.status(name)
    assert run is not None and run.running
    assert run.program_pid == edges.program_pid("edge1", name)
    # Each listing brings the programs' use there; two make a CPU rate.
    assert backend.usage[name][0] == 0.0 and backend.usage[name][1] > 1_000_000
    time.sleep(0.3)
    backend.list()
    assert 0.0 <= backend.usage[name][0] < 100.0 and backend.usage[name][1] > 1_000_000

    offset, _ = backend.log_since(name, None)
    eventually(lambda: any("tick" in line for line in backend.tail(name, 50)))
    assert any(line.endswith("token ok") for line in backend.tail(name, 50))
    eventually(lambda: backend.log_since(name, offset)[1])
    newer, lines = backend.log_since(name, offset)
    assert newer > offset and all("tick" in line for line in lines)

    # What the session writes there is private, whatever the login's umask.
    edge = tmp_path / "edge1"
    written = {str(path): path.stat().st_mode & 0o077 for path in edge.rglob("*")}
    assert written and not any(written.values()), written
    final = backend.stop(name, grace_seconds=2)
    assert final is not None and not final.running and final.signal == signal.SIGTERM
    assert edges.screens("edge1") == []
    assert backend.start(spec).alive  # and again, on the same name
    assert backend.stop(name, grace_seconds=2) is not None


def test_bad_names_unreachable_hosts_and_unknown_host_keys_fail_clearly(
    edges: Edges, tmp_path: Path
) -> None:
    backend = SshBackend("edge1", edges.inventory["edge1"])
    with pytest.raises(ValueError, match="session name"):
        backend.tail("x; touch /tmp/owned", 10)
    assert backend.status("program1_UZ_never") is None

    closed = edges.inventory["edge1"].model_copy(update={"port": 1})
    started = time.monotonic()
    with pytest.raises(HostUnreachable, match="edge1"):
        SshBackend("edge1", closed).list()
    assert time.monotonic() - started < 5

    strangers = tmp_path / "empty_known_hosts"
    strangers.write_text("")
    unknown_key = edges.inventory["edge1"].model_copy(update={"known_hosts_file": strangers})
    fresh = short_dir("sf-mux-")  # no shared connection that has checked the key already
    try:
        with pytest.raises(HostUnreachable, match="edge1 does not answer") as refused:
            SshBackend("edge1", unknown_key, control_dir=fresh).list()
        # What ssh said, for operators: in the detail, never in the message.
        assert re.search(r"(?i)host key", refused.value.detail)
        assert "host key" not in str(refused.value).lower()
    finally:
        shutil.rmtree(fresh, ignore_errors=True)

    no_smsfleet = edges.inventory["edge1"].model_copy(update={"python": "/bin/false"})
    with pytest.raises(Exception, match="is smsfleet installed there"):
        SshBackend("edge1", no_smsfleet).list()


def _tick(fleet: Fleet, seconds: float = 0) -> None:
    fleet.clock.advance(seconds)
    fleet.supervisors[0].reconcile_once()


def test_the_supervisor_runs_detects_crashes_and_moves_sessions_across_hosts(
    edges: Edges, fleet: Fleet
) -> None:
    here = fleet.add_pair("uzmobile", TICKING)
    there = fleet.add_pair("beeline", TICKING, host="edge1")
    beyond = fleet.add_pair("ucell", TICKING, host="edge2")
    fleet.supervisor()
    for name in (here, there, beyond):
        fleet.want(name, DesiredState.running)
    _tick(fleet)
    assert fleet.screens() == [here]
    assert edges.screens("edge1") == [there] and edges.screens("edge2") == [beyond]
    _tick(fleet, 1)
    assert {fleet.state(name) for name in (here, there, beyond)} == {S.running}
    status = fleet.store.session_status.get(there)
    assert status is not None and status.pid == edges.program_pid("edge1", there)

    # Crash detection there works as here: exit code, log tail, backoff, restart.
    os.kill(edges.program_pid("edge1", there), signal.SIGKILL)
    eventually(lambda: edges.screens("edge1") == [])
    _tick(fleet)
    status = fleet.store.session_status.get(there)
    assert status is not None and status.state == S.backoff and status.last_exit_code == -9
    assert any("tick" in line for line in status.last_log_lines)
    _tick(fleet, 1)
    assert edges.screens("edge1") == [there]
    _tick(fleet, 1)
    assert fleet.state(there) == S.running
    assert fleet.kinds(there)[2:] == ["exited", "backoff", "starting", "running"]

    # A pair moved to another host: stopped here, started there.
    update_pair(
        pairs=fleet.store.pairs,
        programs=fleet.store.programs,
        clock=fleet.clock,
        actor=ADMIN,
        key="UZ_uzmobile",
        audit=fleet.store.audit,
        data=PairUpdate(host="edge2"),
        hosts=fleet.hosts.names if fleet.hosts else (),
    )
    _tick(fleet)
    assert fleet.screens() == [] and fleet.state(here) == S.exited
    _tick(fleet)
    assert edges.screens("edge2") == sorted([here, beyond])
    _tick(fleet, 1)
    assert fleet.state(here) == S.running
    moving = [e for e in fleet.events if e.session == here and e.kind == "stopping"]
    assert moving[-1].reason == "moving from host local to edge2"

    fleet.want(beyond, DesiredState.stopped)
    _tick(fleet)
    assert fleet.state(beyond) == S.stopped and edges.screens("edge2") == [here]


def test_an_unreachable_host_leaves_its_sessions_as_they_were(edges: Edges, fleet: Fleet) -> None:
    here = fleet.add_pair("uzmobile", TICKING)
    there = fleet.add_pair("beeline", TICKING, host="edge1")
    fleet.supervisor()
    for name in (here, there):
        fleet.want(name, DesiredState.running)
    _tick(fleet)
    _tick(fleet, 1)
    pid = edges.program_pid("edge1", there)
    hosts = fleet.hosts
    assert hosts is not None
    health = hosts.health("edge1")
    assert health is not None and health.reachable

    edges.server.stop()
    fleet.want(here, DesiredState.stopped)
    _tick(fleet, 5)
    # This host goes on; the other's session is unknown, not crashed.
    assert fleet.state(here) == S.stopped
    assert fleet.state(there) == S.running
    assert not any(e.kind == "exited" for e in fleet.events if e.session == there)
    health = hosts.health("edge1")
    assert health is not None and not health.reachable and health.error

    edges.server.start()
    _tick(fleet, 1)
    health = hosts.health("edge1")
    assert health is not None and health.reachable and health.error is None
    assert fleet.state(there) == S.running
    assert edges.program_pid("edge1", there) == pid  # the program never stopped


def test_the_cli_checks_every_host_of_the_inventory(edges: Edges, tmp_path: Path) -> None:
    inventory = {name: host.model_dump(mode="json") for name, host in edges.inventory.items()}
    inventory["edge9"] = {**inventory["edge1"], "port": 1}
    result = CliRunner().invoke(
        app,
        ["sessions", "hosts", "--data-dir", str(tmp_path)],
        env={"SMSFLEET_HOSTS": json.dumps(inventory)},
    )
    rows = {line.split()[0]: line.split()[2] for line in result.output.splitlines()[1:]}
    assert rows == {"local": "ok", "edge1": "ok", "edge2": "ok", "edge9": "unreachable"}
    assert result.exit_code == 1


def test_a_host_dropped_from_the_inventory_is_shown_and_its_sessions_left_alone(
    edges: Edges, fleet: Fleet
) -> None:
    there = fleet.add_pair("beeline", TICKING, host="edge1")
    fleet.supervisor()
    fleet.want(there, DesiredState.running)
    _tick(fleet)
    _tick(fleet, 1)
    assert fleet.state(there) == S.running
    fleet.hosts = Hosts.only(fleet.backend)  # restarted without edge1 in SMSFLEET_HOSTS
    after = fleet.supervisor()
    after.reconcile_once()
    assert fleet.state(there) == S.running and edges.screens("edge1") == [there]
    shown = {h.name: h for h in list_hosts(store=fleet.store, hosts=fleet.hosts)}
    assert set(shown) == {"local", "edge1"}
    gone = shown["edge1"]
    assert gone.address == "not in the inventory" and gone.reachable is False
    assert gone.error is not None and "not in the inventory" in gone.error
    assert (gone.sessions, gone.running) == (1, 1)
