"""What runs on an SSH host is decided on that host: its own program directories, its
own disk. The control plane's directories say nothing of what a path leads to there.

A loopback sshd stands for the host; the control plane and the host share this disk,
so each has program directories of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smsfleet.core.settings import Settings
from smsfleet.sessions.models import DesiredState, SessionState
from smsfleet.sessions.runtime import SessionRuntime
from smsfleet.sessions.screen import ScreenBackend
from tests.support.fleet import short_dir
from tests.support.sessions import TICKING, Fleet
from tests.support.sshd import start_sshd


@dataclass
class Rig:
    runtime: SessionRuntime
    here: Path  # the control plane's program directory
    there: Path  # the host's
    seen: ScreenBackend  # what runs on the host, read directly

    def tick(self, fleet: Fleet, seconds: float = 0) -> None:
        fleet.clock.advance(seconds)
        self.runtime.supervisor.reconcile_once()

    def running_there(self) -> list[str]:
        return [entry.name for entry in self.seen.list() if entry.alive]


@pytest.fixture
def rig(tmp_path: Path, fleet: Fleet) -> Iterator[Rig]:
    server = start_sshd(tmp_path / "sshd")
    screens = {name: short_dir(f"sf-{name}-") for name in ("local", "edge1")}
    here, there = tmp_path / "control-plane-programs", tmp_path / "host-programs"
    here.mkdir()
    there.mkdir()
    host = server.host(
        tmp_path / "edge1", screens["edge1"], programs_dir=str(tmp_path), program_dirs=[str(there)]
    )
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "control-plane",
        screen_dir=screens["local"],
        programs_dir=tmp_path,
        program_dirs=[here],
        hosts={"edge1": host},
        start_seconds=0.2,
        config_url=None,
        metrics_url=None,
        redis_url=None,
    )
    runtime = SessionRuntime.build(
        settings=settings, store=fleet.store, clock=fleet.clock, on_event=fleet.events.append
    )
    fleet.hosts = runtime.hosts
    seen = ScreenBackend(tmp_path / "edge1" / "sessions", screen_dir=screens["edge1"])
    yield Rig(runtime=runtime, here=here, there=there, seen=seen)
    runtime.supervisor.close()
    for entry in seen.list():
        seen.stop(entry.name, grace_seconds=0)
    server.stop()
    for directory in screens.values():
        shutil.rmtree(directory, ignore_errors=True)


def test_a_program_outside_the_hosts_program_directories_never_runs_there(
    rig: Rig, fleet: Fleet, tmp_path: Path
) -> None:
    """Installed in the control plane's program directory, but not in the host's."""
    marker = tmp_path / "pwned"
    fleet.programs = rig.here
    name = fleet.add_pair("beeline", f"open({str(marker)!r}, 'w')\n" + TICKING, host="edge1")
    fleet.want(name, DesiredState.running)
    rig.tick(fleet)
    failed = [e for e in fleet.events if e.session == name and e.kind == "start_failed"]
    assert failed, [(e.kind, e.reason) for e in fleet.events]
    reason = failed[0].reason or ""
    assert reason.startswith("host edge1: ")
    assert "outside the program directories" in reason and str(rig.there) in reason
    assert "host edge1 in SMSFLEET_HOSTS" in reason
    assert fleet.state(name) == SessionState.backoff
    assert rig.running_there() == [] and not marker.exists()


def test_a_program_installed_only_on_the_host_runs_there(rig: Rig, fleet: Fleet) -> None:
    """Its path means nothing on the control plane's disk: the host's is the truth."""
    fleet.programs = rig.there
    name = fleet.add_pair("beeline", TICKING, host="edge1")
    fleet.want(name, DesiredState.running)
    rig.tick(fleet)
    assert not [e for e in fleet.events if e.kind == "start_failed"], fleet.events
    assert rig.running_there() == [name]
    rig.tick(fleet, 1)
    assert fleet.state(name) == SessionState.running
