"""A supervisor over real GNU screen in a private screen directory, on a fake clock (a plugin
of tests/conftest.py).

- `fleet`: a `Fleet` on a SQLite config store; what it started is stopped after the test.
  The metrics suite has a `fleet` of its own (tests/integration/metrics/conftest.py),
  which takes precedence there.
- `TICKING`, `CRASHING`: programs' code; `require_screen()`: fails without GNU screen.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from smsfleet.pairs.models import Pair, PairCreate
from smsfleet.pairs.service import create_pair, ensure_countries
from smsfleet.sessions.backend import LaunchSpec
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.leader import Leadership
from smsfleet.sessions.models import DesiredState, SessionEvent, SessionSpec, SessionState
from smsfleet.sessions.screen import ScreenBackend
from smsfleet.sessions.service import sync_specs
from smsfleet.sessions.supervisor import Supervisor, SupervisorPolicy, TickSink
from smsfleet.stores import ConfigStore, open_config_store
from tests.support.fakes import FakeClock, person
from tests.support.programs import install_program, store_program

ADMIN = person()

TICKING = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.2)\n"
CRASHING = "import sys\nprint('giving up', flush=True)\nsys.exit(3)\n"


def require_screen() -> str:
    path = shutil.which("screen")
    if path is None:
        pytest.fail(
            "GNU screen is not installed: `make test` installs it (or apt-get install screen)"
        )
    return path


@dataclass
class Fleet:
    store: ConfigStore
    backend: ScreenBackend
    clock: FakeClock
    events: list[SessionEvent] = field(default_factory=list)
    heartbeats: dict[str, datetime] = field(default_factory=dict)
    # When a lease of each session was last answered `stop`, as the dispatcher says.
    stops_told: dict[str, datetime] = field(default_factory=dict)
    supervisors: list[Supervisor] = field(default_factory=list)
    hosts: Hosts | None = None  # this host only, unless a test adds others
    # Where `add_pair` installs its programs as files; None: they run as `python -c`.
    programs: Path | None = None

    def supervisor(
        self,
        policy: SupervisorPolicy | None = None,
        leadership: Leadership | None = None,
        on_tick: TickSink | None = None,
    ) -> Supervisor:
        def launch(spec: SessionSpec, pair: Pair) -> LaunchSpec:
            program = self.store.programs.get(spec.program)
            assert program is not None
            return LaunchSpec(
                name=spec.name,
                argv=tuple(program.command),
                env={"SMSFLEET_PAIR": pair.key},
            )

        supervisor = Supervisor(
            store=self.store,
            hosts=self.hosts or Hosts.only(self.backend),
            clock=self.clock,
            launch=launch,
            policy=policy or SupervisorPolicy(),
            on_event=self.events.append,
            heartbeats=lambda: dict(self.heartbeats),
            stops_told=self.stops_told.get,
            leadership=leadership,
            on_tick=on_tick,
        )
        self.supervisors.append(supervisor)
        return supervisor

    def add_pair(
        self,
        slug: str,
        program_code: str,
        *,
        high_priority: bool = False,
        host: str = "local",
        numbers: tuple[str, ...] | None = None,
    ) -> str:
        """A pair of UZ with one program running `program_code`, and a test number of its
        own unless `numbers` are given: a pair without one runs no sessions."""
        program = f"p{len(self.store.programs.list()) + 1}"
        command = (
            install_program(self.programs, program, program_code)
            if self.programs is not None
            else [sys.executable, "-c", program_code]
        )
        store_program(self.store.programs, self.clock, program, command)
        self._create_pair(
            PairCreate(
                country="UZ",
                operator=slug,
                slug=slug,
                programs=[program],
                is_high_priority=high_priority,
                host=host,
                phone_numbers=[f"+9989{len(self.store.pairs.list()):08d}"]
                if numbers is None
                else list(numbers),
            )
        )
        return f"{program}_UZ_{slug}"

    def add_programless_pair(self, country: str, operator: str, slug: str) -> None:
        """A pair of another country, with no program (so no session) and no number."""
        self._create_pair(PairCreate(country=country, operator=operator, slug=slug))

    def _create_pair(self, data: PairCreate) -> None:
        create_pair(
            pairs=self.store.pairs,
            countries=self.store.countries,
            programs=self.store.programs,
            clock=self.clock,
            actor=ADMIN,
            audit=self.store.audit,
            data=data,
            hosts=self.hosts.names if self.hosts else ("local",),
        )

    def want(self, name: str, desired: DesiredState) -> None:
        sync_specs(store=self.store, clock=self.clock)
        spec = self.store.session_specs.get(name)
        assert spec is not None
        self.store.session_specs.replace(
            spec.model_copy(update={"desired": desired, "generation": spec.generation + 1})
        )

    def state(self, name: str) -> SessionState:
        status = self.store.session_status.get(name)
        return status.state if status else SessionState.stopped

    def screens(self) -> list[str]:
        return sorted(entry.name for entry in self.backend.list() if entry.alive)

    def kinds(self, name: str) -> list[str]:
        return [event.kind.value for event in self.events if event.session == name]

    def program_pid(self, name: str) -> int:
        run = self.backend.status(name)
        assert run is not None and run.program_pid is not None
        return run.program_pid


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    require_screen()
    screen_dir = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp"))
    backend = ScreenBackend(tmp_path / "sessions", screen_dir=screen_dir)
    store = open_config_store(f"sqlite:///{tmp_path / 'config.db'}")
    ensure_countries(countries=store.countries, default_cap=10)
    fleet = Fleet(store=store, backend=backend, clock=FakeClock())
    yield fleet
    for supervisor in fleet.supervisors:
        supervisor.close()
    for entry in backend.list():
        run = backend.status(entry.name)
        if run is not None and run.program_pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.program_pid, signal.SIGKILL)
        backend.stop(entry.name, grace_seconds=0)
    store.close()
    shutil.rmtree(screen_dir, ignore_errors=True)
