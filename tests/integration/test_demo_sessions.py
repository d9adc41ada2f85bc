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
from smsfleet.sessions.models import DesiredState, SessionAction, SessionState, SessionStatus
from smsfleet.sessions.service import act, record_stopped
from smsfleet.stores import open_config_store
from smsfleet.wiring import prepare_store

STOPPED = "program2_US_verizon"
PAUSED = "UZ_uzmobile"


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
        spec = store.session_specs.get(STOPPED)
        assert spec is not None
        assert (spec.desired, spec.desired_actor, spec.desired_reason) == (
            DesiredState.stopped,
            "admin",
            "route under check",
        )
    finally:
        store.close()


def test_a_session_the_demo_stopped_keeps_no_exit_code_of_an_earlier_run(tmp_path: Path) -> None:
    """Killed once (-9) and restarted, then stopped as the demo ended: what it shows is that
    stop, not the earlier kill dated at it."""
    clock = SystemClock()
    store = open_config_store(f"sqlite:///{tmp_path / 'config.db'}")
    try:
        store.session_status.add(
            SessionStatus(
                name=STOPPED,
                state=SessionState.running,
                pid=4321,
                last_exit_code=-9,
                updated_at=clock.now(),
            )
        )
        record_stopped(
            store=store,
            clock=clock,
            names=[STOPPED],
            actor="demo",
            reason="the demo ended",
            began=clock.now(),
        )
        status = store.session_status.get(STOPPED)
        assert status is not None
        assert (status.state, status.pid, status.last_exit_code) == (
            SessionState.stopped,
            None,
            None,
        )
        assert status.last_exit_at is not None
    finally:
        store.close()
