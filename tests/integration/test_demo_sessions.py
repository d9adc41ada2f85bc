"""The demo's sessions as it starts again: what people asked is kept (a session an
operator stopped stays stopped), what no one asked anything of is started."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from smsfleet.auth import service as auth_service
from smsfleet.core.clock import SystemClock
from smsfleet.core.settings import Settings
from smsfleet.demo import DEMO_PAIRS, DemoSessions, seed_demo, start_demo_sessions
from smsfleet.pairs.models import PairState
from smsfleet.pairs.service import set_state_unless_changed
from smsfleet.programs.service import ProgramRules
from smsfleet.sessions.backend import RunStatus
from smsfleet.sessions.models import (
    DesiredState,
    SessionAction,
    SessionSpec,
    SessionState,
    SessionStatus,
)
from smsfleet.sessions.service import act, list_sessions, record_stopped
from smsfleet.stores import open_config_store
from smsfleet.wiring import prepare_store

STOPPED = "program2_US_verizon"
PAUSED = "UZ_uzmobile"
NUMBERLESS = "TJ_megafon"


def test_a_demo_started_again_keeps_the_sessions_people_stopped(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, demo=True, admin_password=SecretStr("demo-pw-1234"))
    clock = SystemClock()
    store = open_config_store(settings.resolved_config_url)
    try:
        prepare_store(settings, store, clock)
        admin = auth_service.get_user(users=store.users, username=auth_service.ADMIN_USERNAME)
        seed_demo(store=store, clock=clock, rules=ProgramRules.from_settings(settings))
        every = 2 * len(DEMO_PAIRS)
        assert start_demo_sessions(store=store, clock=clock) == DemoSessions(
            running=every, stopped=0
        )
        # The demo's own doing, told as such: not as the admin's who ran it.
        started = store.session_specs.get(STOPPED)
        assert started is not None and started.desired_actor == "demo"
        assert {entry.actor for entry in store.audit.recent(limit=100)} == {"demo"}
        act(
            store=store,
            clock=clock,
            actor=admin,
            name=STOPPED,
            action=SessionAction.stop,
            reason="route under check",
        )
        again = start_demo_sessions(store=store, clock=clock)
        assert again == DemoSessions(running=every - 1, stopped=1)
        # A paused pair's two sessions stay wanted running, but they do not run: not "to run".
        paused = store.pairs.get(PAUSED)
        assert paused is not None
        assert set_state_unless_changed(
            pairs=store.pairs,
            seen=paused,
            state=PairState.paused,
            reason="below the pause line",
            actor="policy",
            at=clock.now(),
        )
        held = start_demo_sessions(store=store, clock=clock)
        assert held == DemoSessions(running=every - 3, stopped=1, paused=2)
        # A pair without a test number holds its sessions too, and is told apart.
        numbered = store.pairs.get(NUMBERLESS)
        assert numbered is not None
        store.pairs.replace(numbered.model_copy(update={"phone_numbers": []}))
        held = start_demo_sessions(store=store, clock=clock)
        assert held == DemoSessions(running=every - 5, stopped=1, paused=2, numberless=2)
        spec = store.session_specs.get(STOPPED)
        assert spec is not None
        assert (spec.desired, spec.desired_actor, spec.desired_reason) == (
            DesiredState.stopped,
            "admin",
            "route under check",
        )
    finally:
        store.close()


def test_a_session_the_demo_stopped_tells_that_stop_not_an_earlier_run(tmp_path: Path) -> None:
    """Killed once (-9) and restarted, then stopped as the demo ended: what it shows is how
    that stop ended it, as its runner recorded it, and why (not the earlier kill dated at
    it, nor a run gone without a word); while it stops, its earlier run's exit is told
    without this stop's reason."""
    clock = SystemClock()
    store = open_config_store(f"sqlite:///{tmp_path / 'config.db'}")
    try:
        now = clock.now()
        names = [STOPPED, "program1_US_verizon"]
        for name in names:
            store.session_specs.add(
                SessionSpec(
                    name=name,
                    program=name.split("_")[0],
                    pair="US_verizon",
                    desired=DesiredState.running,
                    created_at=now,
                )
            )
            store.session_status.add(
                SessionStatus(
                    name=name,
                    state=SessionState.stopping,
                    pid=4321,
                    started_at=now,
                    last_exit_code=-9,
                    last_exit_at=now,
                    stopped_for="the demo ended",
                    updated_at=now,
                )
            )
        stopping = list_sessions(store=store, clock=clock)
        assert [s.previous_exit for s in stopping] == ["killed by signal 9 (SIGKILL)"] * 2
        ended = RunStatus(
            runner_pid=1,
            screen_pid=2,
            program_pid=4321,
            program_start_ticks=None,
            argv=("python3",),
            started_at=now,
            ended_at=now.replace(microsecond=0),  # as the store keeps times, to the ms
            exit_code=0,
            signal=None,
            error=None,
        )
        record_stopped(
            store=store,
            clock=clock,
            ended={STOPPED: ended, names[1]: None},
            actor="demo",
            reason="the demo ended",
            began=clock.now(),
        )
        status = store.session_status.get(STOPPED)
        assert status is not None
        assert (status.state, status.pid, status.last_exit_code, status.last_exit_at) == (
            SessionState.stopped,
            None,
            0,
            ended.ended_at,
        )
        told = {s.name: s.last_exit for s in list_sessions(store=store, clock=clock)}
        assert told == {
            STOPPED: "exited with code 0 when stopped (the demo ended)",
            # Its runner recorded no end: said so, with the stop that ended it.
            names[1]: "went down: its runner ended without recording the program's exit"
            " (killed?) when stopped (the demo ended)",
        }
    finally:
        store.close()
