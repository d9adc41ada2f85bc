"""The supervisor against real screen: start, crash, backoff, fatal, adoption, hung, restart."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from smsfleet.alerts.rules import session_outcome
from smsfleet.pairs.models import PairState
from smsfleet.pairs.service import delete_pair
from smsfleet.policy.models import POLICY_ACTOR
from smsfleet.sessions.backend import LaunchSpec, ScreenEntry
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.models import DesiredState, SessionAction, SessionState, SignsOfLife
from smsfleet.sessions.screen import ScreenBackend
from smsfleet.sessions.service import act, get_session, list_sessions, retire_pair_sessions
from smsfleet.sessions.supervisor import ENDED_RECHECK_FOR_SECONDS, Supervisor, SupervisorPolicy
from tests.support.sessions import ADMIN, CRASHING, TICKING, Fleet
from tests.support.waiting import eventually

S = SessionState


def bring_up(fleet: Fleet, name: str) -> None:
    supervisor = fleet.supervisors[-1] if fleet.supervisors else fleet.supervisor()
    fleet.want(name, DesiredState.running)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.starting
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running


def test_start_runs_exactly_the_named_screens_and_stop_ends_them(fleet: Fleet) -> None:
    names = [fleet.add_pair(slug, TICKING) for slug in ("uzmobile", "beeline", "ucell")]
    supervisor = fleet.supervisor()
    for name in names:
        fleet.want(name, DesiredState.running)
    supervisor.reconcile_once()
    assert fleet.screens() == sorted(names)
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert {fleet.state(name) for name in names} == {S.running}
    status = fleet.store.session_status.get(names[0])
    assert status is not None and status.pid == fleet.program_pid(names[0])
    fleet.want(names[0], DesiredState.stopped)
    supervisor.reconcile_once()
    assert fleet.state(names[0]) == S.stopped
    assert fleet.screens() == sorted(names[1:])
    assert fleet.kinds(names[0]) == ["starting", "running", "stopping", "stopped"]


def test_a_killed_program_is_detected_and_restarted_after_backoff(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    os.kill(fleet.program_pid(name), signal.SIGKILL)
    eventually(lambda: name not in fleet.screens())
    supervisor.reconcile_once()
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert status.state == S.backoff
    assert status.last_exit_code == -9
    assert any("tick" in line for line in status.last_log_lines)
    # The event says when, as a person reads it; the status keeps the timestamp.
    assert status.backoff_until is not None
    (backoff,) = [event for event in fleet.events if event.kind == "backoff"]
    assert backoff.reason == f"retry at {status.backoff_until:%H:%M:%S} UTC"
    (exited,) = [event for event in fleet.events if event.kind == "exited"]
    assert exited.reason == "unexpectedly: killed by signal 9 (SIGKILL)"  # how, in words
    supervisor.reconcile_once()
    assert fleet.screens() == []  # still backing off: 1 s has not passed
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.screens() == [name]
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    status = fleet.store.session_status.get(name)
    assert status is not None and status.state == S.running
    assert (status.restarts, status.requested_restarts) == (1, 0)  # the supervisor's own
    assert fleet.kinds(name)[2:] == ["exited", "backoff", "starting", "running"]


def test_a_killed_runner_is_told_apart_from_a_program_that_exited(fleet: Fleet) -> None:
    """A kill -9 of the runner takes its program down with it, and nothing records how the
    program ended: the exit says so rather than leave an unknown code unexplained."""
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    run = fleet.backend.status(name)
    assert run is not None
    os.kill(run.runner_pid, signal.SIGKILL)
    eventually(lambda: name not in fleet.screens())
    fleet.supervisors[0].reconcile_once()
    assert fleet.state(name) == S.backoff
    (exited,) = [event for event in fleet.events if event.kind == "exited"]
    assert exited.details["exit_code"] is None
    assert exited.details["exit_recorded"] is False
    assert exited.details["failures_in_a_row"] == 1
    went_down = "went down: its runner ended without recording the program's exit (killed?)"
    listed = get_session(store=fleet.store, clock=fleet.clock, name=name)
    assert listed.last_exit == went_down
    # A program that exits on its own is recorded by its runner.
    fleet.clock.advance(1)
    fleet.supervisors[0].reconcile_once()
    fleet.clock.advance(1)
    fleet.supervisors[0].reconcile_once()
    assert fleet.state(name) == S.running
    # Running again, its cell says how the run before ended.
    listed = get_session(store=fleet.store, clock=fleet.clock, name=name)
    assert listed.previous_exit == went_down
    os.kill(fleet.program_pid(name), signal.SIGKILL)
    eventually(lambda: name not in fleet.screens())
    fleet.supervisors[0].reconcile_once()
    later = [event for event in fleet.events if event.kind == "exited"][-1]
    assert (later.details["exit_code"], later.details["exit_recorded"]) == (-9, True)
    # Two seconds after its start: a second quick failure, which its crash alert says.
    assert later.details["failures_in_a_row"] == 2


def test_a_program_whose_runner_says_it_ended_is_recorded_at_once(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    # A tick a minute: only the runner's word can make the exit known within seconds.
    supervisor.start_loop(interval=60)
    try:
        eventually(lambda: supervisor.leading, what="the supervisor to lead")
        os.kill(fleet.program_pid(name), signal.SIGKILL)
        # Told at once, while its screen is still closing: looked at again until gone.
        supervisor.program_ended(name)
        eventually(lambda: fleet.state(name) == S.backoff, 3, "the exit to be recorded")
    finally:
        supervisor.close()
    assert fleet.kinds(name)[2:4] == ["exited", "backoff"]


def test_a_runner_is_heard_once_per_run_and_only_of_its_own_run(fleet: Fleet) -> None:
    """The word comes with the session's worker token, which its program holds too: a
    program still running that says again and again that it ended, or names another run,
    must not keep the supervisor looking at every host many times a second."""
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    looks = 0
    reconcile = supervisor.reconcile_once

    def counted() -> None:
        nonlocal looks
        reconcile()
        looks += 1

    supervisor.reconcile_once = counted  # type: ignore[method-assign]
    supervisor.start_loop(interval=60)
    try:
        eventually(lambda: looks > 0, what="the supervisor to lead and look")
        pid = fleet.program_pid(name)
        supervisor.program_ended(name, pid)  # heard: looked at again for 2 s
        eventually(lambda: looks > 5, 3, "the supervisor to look again")
        time.sleep(ENDED_RECHECK_FOR_SECONDS + 0.5)
        before = looks
        for _ in range(5):  # the same run again, and a run that is not the one recorded
            supervisor.program_ended(name, pid)
            supervisor.program_ended(name, pid + 1)
            time.sleep(0.2)
        assert looks - before <= 1, looks - before
    finally:
        supervisor.close()
    assert fleet.state(name) == S.running


def test_a_screen_closed_from_outside_is_detected(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    (entry,) = [e for e in fleet.backend.list() if e.name == name]
    subprocess.run(
        ["screen", "-S", entry.socket_name, "-X", "quit"],
        env={**os.environ, "SCREENDIR": str(fleet.backend.screen_dir)},
        check=True,
    )
    eventually(lambda: name not in fleet.screens())
    fleet.supervisors[0].reconcile_once()
    assert fleet.state(name) == S.backoff


def test_backoff_doubles_then_a_program_that_always_fails_goes_fatal(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", CRASHING)
    supervisor = fleet.supervisor(SupervisorPolicy(max_quick_failures=3))
    fleet.want(name, DesiredState.running)
    delays = []
    for _ in range(4):
        supervisor.reconcile_once()  # starts it
        eventually(lambda: name not in fleet.screens())
        supervisor.reconcile_once()  # sees it gone
        status = fleet.store.session_status.get(name)
        assert status is not None
        if status.state == S.fatal:
            break
        assert status.backoff_until is not None
        delays.append((status.backoff_until - fleet.clock.now()).total_seconds())
        fleet.clock.advance(delays[-1])
    assert delays == [1, 2]  # restarted twice: the third quick failure gives up
    assert fleet.state(name) == S.fatal
    assert status is not None
    assert status.last_exit_code == 3
    assert any(line.endswith("giving up") for line in status.last_log_lines)
    fatal = [event for event in fleet.events if event.kind == "fatal"]
    assert len(fatal) == 1
    assert fatal[0].reason == "3 quick failures in a row, the last: exited with code 3"
    # Only the crash it gives up at says so: no restart is promised for it.
    exits = [event.details for event in fleet.events if event.kind == "exited"]
    assert [(d["failures_in_a_row"], d.get("gives_up")) for d in exits] == [
        (1, None),
        (2, None),
        (3, True),
    ]
    fleet.clock.advance(600)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.fatal  # down until someone acts
    assert fleet.screens() == []
    listed = get_session(store=fleet.store, clock=fleet.clock, name=name)
    # A crash is told by its code alone: no stop of the supervisor's came before it.
    assert (listed.last_exit_code, listed.last_exit) == (3, "exited with code 3")
    assert listed.note == "gave up after 3 quick failures: start it again"  # as the event says
    fleet.want(name, DesiredState.running)  # someone acts: a new generation
    supervisor.reconcile_once()
    assert fleet.state(name) == S.starting
    # The new run has not exited: the given-up run's code is not shown as its own, but as
    # how the run before it ended.
    listed = get_session(store=fleet.store, clock=fleet.clock, name=name)
    assert (listed.last_exit_code, listed.previous_exit) == (None, "exited with code 3")
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.restarts, status.requested_restarts) == (2, 0)  # two retries; a start


def test_a_restart_asked_for_in_backoff_starts_the_program_at_once(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", CRASHING)
    supervisor = fleet.supervisor(SupervisorPolicy(max_quick_failures=5))
    fleet.want(name, DesiredState.running)
    for failures in range(1, 4):  # three quick failures: the next retry is 4 s away
        supervisor.reconcile_once()
        eventually(lambda: name not in fleet.screens())
        supervisor.reconcile_once()
        status = fleet.store.session_status.get(name)
        assert status is not None and status.backoff_until is not None
        if failures < 3:
            fleet.clock.advance((status.backoff_until - fleet.clock.now()).total_seconds())
    assert fleet.state(name) == S.backoff
    supervisor.reconcile_once()
    assert fleet.state(name) == S.backoff  # its retry is not due
    spec = fleet.store.session_specs.get(name)
    assert spec is not None
    fleet.clock.advance(0.5)
    fleet.store.session_specs.replace(
        spec.model_copy(update={"restart_requested_at": fleet.clock.now()})
    )
    fleet.clock.advance(0.001)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.starting
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.restarts, status.requested_restarts) == (2, 1)  # two retries, then asked


def test_a_control_plane_restart_adopts_running_sessions(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    pid = fleet.program_pid(name)
    fleet.supervisors[0].close()
    fleet.supervisors.clear()
    again = fleet.supervisor()
    for _ in range(3):
        fleet.clock.advance(1)
        again.reconcile_once()
    assert fleet.screens() == [name]
    assert fleet.program_pid(name) == pid
    assert fleet.state(name) == S.running


def test_a_session_started_outside_is_adopted_never_duplicated(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    supervisor = fleet.supervisor()
    supervisor.reconcile_once()  # creates the spec, desired stopped
    (created,) = fleet.events
    assert (created.session, created.kind, created.to_state) == (name, "created", S.stopped)
    assert created.reason == f"{name.split('_')[0]} assigned to UZ_uzmobile"
    env = {**os.environ, "SCREENDIR": str(fleet.backend.screen_dir)}
    subprocess.run(["screen", "-dmS", name, "sleep", "30"], env=env, check=True)
    eventually(lambda: name in fleet.screens())
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    assert fleet.kinds(name) == ["created", "adopted"]
    spec = fleet.store.session_specs.get(name)
    assert spec is not None and spec.desired == DesiredState.running
    supervisor.reconcile_once()
    assert fleet.screens() == [name]


def test_a_session_started_by_hand_after_the_supervisor_gave_up_gets_a_fresh_budget(
    fleet: Fleet,
) -> None:
    name = fleet.add_pair("uzmobile", CRASHING)
    supervisor = fleet.supervisor(SupervisorPolicy(max_quick_failures=2))
    fleet.want(name, DesiredState.running)
    while fleet.state(name) != S.fatal:
        supervisor.reconcile_once()  # starts it
        eventually(lambda: name not in fleet.screens())
        supervisor.reconcile_once()  # sees it gone
        status = fleet.store.session_status.get(name)
        assert status is not None
        if status.backoff_until is not None:
            fleet.clock.advance((status.backoff_until - fleet.clock.now()).total_seconds())
    env = {**os.environ, "SCREENDIR": str(fleet.backend.screen_dir)}
    subprocess.run(["screen", "-dmS", name, "sleep", "30"], env=env, check=True)
    eventually(lambda: name in fleet.screens())
    supervisor.reconcile_once()
    assert fleet.kinds(name)[-2:] == ["fatal", "adopted"]
    status = fleet.store.session_status.get(name)
    assert status is not None and status.state == S.running
    assert status.quick_failures == 0  # one quick exit now is not a give-up at once


def test_concurrent_supervisors_never_start_two_screens(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    first, second = fleet.supervisor(), fleet.supervisor()
    first.reconcile_once()
    fleet.want(name, DesiredState.running)
    threads = [threading.Thread(target=s.reconcile_once) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = [entry for entry in fleet.backend.list() if entry.name == name]
    assert len(entries) == 1


def test_a_session_that_stops_heartbeating_is_reported_hung_and_restarted(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    pid = fleet.program_pid(name)
    fleet.heartbeats[name] = fleet.clock.now()
    fleet.clock.advance(30)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    fleet.clock.advance(31)
    supervisor.reconcile_once()
    assert "hung" in fleet.kinds(name)
    # While its program takes its time to go (a stopped process waits out the grace), it
    # is listed as being stopped to start again, not as running.
    status = fleet.store.session_status.get(name)
    assert status is not None
    fleet.store.session_status.replace(status.model_copy(update={"state": S.stopping}))
    listed = get_session(store=fleet.store, clock=fleet.clock, name=name)
    assert (listed.state, listed.note) == (S.stopping, "stopping, to start again")
    fleet.store.session_status.replace(status)
    supervisor.reconcile_once()
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    assert fleet.program_pid(name) != pid
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.restarts, status.requested_restarts) == (1, 0)  # the supervisor's own
    # How the hung run ended says the supervisor stopped it, and why: not a bare kill.
    listed = get_session(store=fleet.store, clock=fleet.clock, name=name)
    assert listed.previous_exit is not None
    assert listed.previous_exit.endswith(" when stopped (no heartbeat)"), listed.previous_exit


def test_overdue_heartbeats_are_told_once_and_listed_until_one_comes(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    pid = fleet.program_pid(name)

    def listed() -> tuple[datetime | None, str | None]:
        signs = SignsOfLife(dict(fleet.heartbeats), timedelta(seconds=60))
        view = get_session(store=fleet.store, clock=fleet.clock, name=name, signs=signs)
        return view.hang_restart_at, view.note

    beat = fleet.clock.now()
    fleet.heartbeats[name] = beat
    fleet.clock.advance(30)  # half the hang timeout: two beats missed, not overdue yet
    supervisor.reconcile_once()
    assert "silent" not in fleet.kinds(name)
    assert listed() == (None, None)

    fleet.clock.advance(1)
    supervisor.reconcile_once()
    supervisor.reconcile_once()
    assert fleet.kinds(name).count("silent") == 1  # told once, not at every tick
    silent = fleet.events[-1]
    said = (
        f"no heartbeat since {beat:%H:%M:%S} UTC: restarted as hung at"
        f" {beat + timedelta(seconds=60):%H:%M:%S} UTC unless one comes"
    )
    assert (silent.kind, silent.reason, silent.to_state) == ("silent", said, None)
    assert listed() == (beat + timedelta(seconds=60), said)
    assert session_outcome(silent, pair=None).opened == ()  # the hang's alert is the one

    fleet.heartbeats[name] = fleet.clock.now()
    supervisor.reconcile_once()
    assert fleet.kinds(name)[-1] == "heard"
    assert listed() == (None, None)
    assert (fleet.state(name), fleet.program_pid(name)) == (S.running, pid)


def test_a_running_session_of_a_halted_country_says_it_is_granted_no_send(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    country = fleet.store.countries.get("UZ")
    assert country is not None
    fleet.store.countries.replace(country.model_copy(update={"cap": 0}))
    said = (
        "its country UZ is halted (cap 0): it runs but is granted no send until the cap is raised"
    )
    assert get_session(store=fleet.store, clock=fleet.clock, name=name).note == said
    [listed] = list_sessions(store=fleet.store, clock=fleet.clock)
    assert listed.note == said
    fleet.store.countries.replace(country)
    assert get_session(store=fleet.store, clock=fleet.clock, name=name).note is None


def test_restart_replaces_the_process(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    pid = fleet.program_pid(name)
    fleet.clock.advance(5)
    spec = fleet.store.session_specs.get(name)
    assert spec is not None
    fleet.store.session_specs.replace(
        spec.model_copy(update={"restart_requested_at": fleet.clock.now()})
    )
    fleet.clock.advance(0.001)
    supervisor.reconcile_once()
    assert fleet.screens() == []
    supervisor.reconcile_once()
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    assert fleet.program_pid(name) != pid
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.restarts, status.requested_restarts) == (0, 1)  # asked, not a crash
    # A plain stop after it is said as such, not as the restart before it.
    act(store=fleet.store, clock=fleet.clock, actor=ADMIN, name=name, action=SessionAction.stop)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopped
    listed = get_session(store=fleet.store, clock=fleet.clock, name=name)
    assert listed.last_exit is not None
    assert listed.last_exit.endswith(" when stopped (stop requested)"), listed.last_exit


def test_paused_pair_stops_its_sessions_and_high_priority_starts_alone(fleet: Fleet) -> None:
    normal = fleet.add_pair("uzmobile", TICKING)
    priority = fleet.add_pair("beeline", TICKING, high_priority=True)
    supervisor = fleet.supervisor()
    supervisor.reconcile_once()
    assert fleet.screens() == [priority]  # high priority: running without being asked
    bring_up(fleet, normal)
    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    fleet.store.pairs.replace(pair.model_copy(update={"state": PairState.paused}))
    supervisor.reconcile_once()
    assert fleet.state(normal) == S.stopped
    assert fleet.screens() == [priority]
    stopped = [e for e in fleet.events if e.session == normal and e.kind == "stopping"]
    assert stopped[-1].reason == "pair UZ_uzmobile is paused"


NO_NUMBER_NOTE = "pair UZ_{} has no test phone number: it sends nothing until one is added"


def _no_alert_opened(fleet: Fleet, name: str) -> None:
    pair = fleet.store.pairs.get(name.split("_", 1)[1])
    opened = [
        signal
        for event in fleet.events
        if event.session == name
        for signal in session_outcome(event, pair=pair).opened
    ]
    assert opened == []


def test_a_session_of_a_pair_with_no_test_number_is_held_stopped_until_one_is_added(
    fleet: Fleet,
) -> None:
    """Wanted running, it is not started: no run, no crash, no restart, no alert; its
    note says why. A number added, it starts by itself, a start and not a restart."""
    name = fleet.add_pair("uzmobile", TICKING, numbers=())
    crashing = fleet.add_pair("beeline", CRASHING, numbers=())
    supervisor = fleet.supervisor()
    for held in (name, crashing):
        result = act(
            store=fleet.store,
            clock=fleet.clock,
            actor=ADMIN,
            name=held,
            action=SessionAction.start,
            reason="wanted",
        )
        assert result.note == NO_NUMBER_NOTE.format(held.rsplit("_", 1)[1])
    for _ in range(3):
        supervisor.reconcile_once()
        fleet.clock.advance(5)
    assert fleet.screens() == []
    for held in (name, crashing):
        assert fleet.state(held) == S.stopped
        assert fleet.kinds(held) == []
        session = get_session(store=fleet.store, clock=fleet.clock, name=held)
        assert (session.desired, session.state) == (DesiredState.running, S.stopped)
        assert (session.restarts, session.requested_restarts) == (0, 0)
        assert session.note == NO_NUMBER_NOTE.format(held.rsplit("_", 1)[1])
        _no_alert_opened(fleet, held)

    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    fleet.store.pairs.replace(pair.model_copy(update={"phone_numbers": ["+998901234567"]}))
    supervisor.reconcile_once()
    assert fleet.state(name) == S.starting
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    assert fleet.screens() == [name]
    assert fleet.state(crashing) == S.stopped  # its pair has no number still
    session = get_session(store=fleet.store, clock=fleet.clock, name=name)
    assert (session.restarts, session.requested_restarts, session.note) == (0, 0, None)
    assert fleet.kinds(name) == ["starting", "running"]


def test_a_running_session_is_stopped_when_its_pair_loses_its_last_test_number(
    fleet: Fleet,
) -> None:
    """Stopped on purpose, as a paused pair's are: the note says why, no alert opens and no
    restart is counted; its numbers back, it starts again."""
    name = fleet.add_pair("uzmobile", TICKING, numbers=("+998901234567", "+998901234568"))
    bring_up(fleet, name)
    supervisor = fleet.supervisors[-1]
    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    fleet.store.pairs.replace(pair.model_copy(update={"phone_numbers": ["+998901234568"]}))
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running  # one number left: it runs on
    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    fleet.store.pairs.replace(pair.model_copy(update={"phone_numbers": []}))
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopped
    assert fleet.screens() == []
    stopping = [e for e in fleet.events if e.session == name and e.kind == "stopping"]
    assert [e.reason for e in stopping] == ["pair UZ_uzmobile has no test phone number"]
    fleet.clock.advance(30)
    supervisor.reconcile_once()
    assert fleet.kinds(name) == ["starting", "running", "stopping", "stopped"]
    session = get_session(store=fleet.store, clock=fleet.clock, name=name)
    assert (session.desired, session.state) == (DesiredState.running, S.stopped)
    assert session.note == NO_NUMBER_NOTE.format("uzmobile")
    _no_alert_opened(fleet, name)

    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    fleet.store.pairs.replace(pair.model_copy(update={"phone_numbers": ["+998901234567"]}))
    supervisor.reconcile_once()
    assert fleet.state(name) == S.starting
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.restarts, status.requested_restarts) == (0, 0)  # a start, not a restart


def test_a_session_a_person_stopped_says_who_when_and_why(fleet: Fleet) -> None:
    """Its cell and the CLI's NOTE say it, not only its events; a session never started
    says so, and what runs it."""
    name = fleet.add_pair("uzmobile", TICKING)
    never = fleet.add_pair("beeline", TICKING)
    bring_up(fleet, name)
    stopped_at = fleet.clock.now()
    act(
        store=fleet.store,
        clock=fleet.clock,
        actor=ADMIN,
        name=name,
        action=SessionAction.stop,
        reason="provider maintenance",
    )
    assert get_session(store=fleet.store, clock=fleet.clock, name=name).note is None  # stopping
    fleet.supervisors[-1].reconcile_once()
    assert fleet.state(name) == S.stopped
    assert get_session(store=fleet.store, clock=fleet.clock, name=name).note == (
        f"stopped by {ADMIN.username} at {stopped_at:%H:%M:%S} UTC: provider maintenance"
    )
    assert get_session(store=fleet.store, clock=fleet.clock, name=never).note == (
        "never started: its pair was saved without starting its sessions; start it to run it"
    )


def pause_as_the_policy(fleet: Fleet) -> None:
    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    paused = {"state": PairState.paused, "state_actor": POLICY_ACTOR}
    fleet.store.pairs.replace(pair.model_copy(update=paused))


def draining(fleet: Fleet) -> tuple[str, Supervisor, int]:
    """A running session (a drain of 30 s), its pair just paused by the policy: its name,
    its supervisor and its program's pid."""
    name = fleet.add_pair("uzmobile", TICKING)
    supervisor = fleet.supervisor(SupervisorPolicy(pause_drain_seconds=30))
    bring_up(fleet, name)
    pid = fleet.program_pid(name)
    pause_as_the_policy(fleet)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopping
    return name, supervisor, pid


def test_a_policy_pause_waits_for_the_program_then_stops_it_past_its_drain(
    fleet: Fleet,
) -> None:
    """The program learns of the pause at its next lease and ends by itself; one that
    does not (this one never leases) is stopped once `pause_drain_seconds` are over."""
    name, supervisor, pid = draining(fleet)
    assert fleet.screens() == [name] and fleet.program_pid(name) == pid  # left to end
    # Its listing says why it still runs, beside its pair's pause.
    assert get_session(store=fleet.store, clock=fleet.clock, name=name).note == (
        "stops once its SMS in flight have their outcomes: its pair was paused by the policy"
    )
    fleet.clock.advance(29)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopping and fleet.screens() == [name]
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopped and fleet.screens() == []
    drained = "pair UZ_uzmobile is paused: its attempts in flight finish first, at most 30 s"
    over = "its program still ran 30 s after its pair's pause"
    reasons = [(e.kind, e.reason) for e in fleet.events if e.session == name][-3:]
    assert reasons == [("stopping", drained), ("stopping", over), ("stopped", over)]


def test_a_program_that_ends_as_its_pause_drains_is_stopped_not_crashed(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    pause_as_the_policy(fleet)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopping
    os.kill(fleet.program_pid(name), signal.SIGTERM)  # as a program told `stop` exits
    eventually(lambda: name not in fleet.screens())
    supervisor.reconcile_once()
    supervisor.reconcile_once()
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.state, status.quick_failures, status.restarts) == (S.stopped, 0, 0)
    assert fleet.kinds(name)[-3:] == ["stopping", "exited", "stopped"]
    assert fleet.screens() == []


def test_a_persons_stop_ends_a_drain_at_once(fleet: Fleet) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    pause_as_the_policy(fleet)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopping and fleet.screens() == [name]
    fleet.want(name, DesiredState.stopped)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopped and fleet.screens() == []


def resume(fleet: Fleet) -> None:
    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    fleet.store.pairs.replace(pair.model_copy(update={"state": PairState.enabled}))


def test_a_pair_resumed_before_its_program_was_told_to_stop_calls_the_drain_off(
    fleet: Fleet,
) -> None:
    """Resumed within seconds of the pause, before the program's next lease: it runs on,
    neither stopped at the drain's end nor restarted."""
    name, supervisor, pid = draining(fleet)
    fleet.clock.advance(5)
    resume(fleet)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    fleet.clock.advance(60)  # past where the drain would have ended
    supervisor.reconcile_once()
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.state, status.restarts, status.pid) == (S.running, 0, pid)
    assert fleet.screens() == [name] and fleet.program_pid(name) == pid
    reasons = [(e.kind, e.reason) for e in fleet.events if e.session == name][-2:]
    called_off = "its pair runs again before its program was told to stop: it runs on"
    assert reasons[-1] == ("running", called_off), reasons
    assert get_session(store=fleet.store, clock=fleet.clock, name=name).note is None


def test_a_pair_resumed_after_its_program_was_told_to_stop_starts_it_once_it_ends(
    fleet: Fleet,
) -> None:
    name, supervisor, _ = draining(fleet)
    fleet.clock.advance(2)
    fleet.stops_told[name] = fleet.clock.now()  # its lease answered `stop`
    resume(fleet)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopping  # left to end as it was told
    os.kill(fleet.program_pid(name), signal.SIGTERM)
    eventually(lambda: name not in fleet.screens())
    supervisor.reconcile_once()
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.state, status.restarts, status.quick_failures) == (S.starting, 0, 0)
    assert fleet.kinds(name)[-3:] == ["stopping", "exited", "starting"]


@pytest.mark.parametrize("told", ["since it started", "before it started", "long ago"])
def test_a_running_program_that_ends_after_being_told_to_stop_did_not_crash(
    fleet: Fleet, told: str
) -> None:
    """Its drain called off, a lease may still answer `stop` from a config read just
    before the resume: the program ends as told, and is started again at once. A stop
    told to an earlier run, or longer ago than a drain lasts, excuses no exit."""
    name = fleet.add_pair("uzmobile", TICKING)
    supervisor = fleet.supervisor(SupervisorPolicy(pause_drain_seconds=30))
    bring_up(fleet, name)
    status = fleet.store.session_status.get(name)
    assert status is not None and status.started_at is not None
    before = timedelta(seconds=1 if told == "before it started" else 0)
    fleet.stops_told[name] = status.started_at - before
    if told == "long ago":
        fleet.clock.advance(31)
    os.kill(fleet.program_pid(name), signal.SIGTERM)
    eventually(lambda: name not in fleet.screens())
    supervisor.reconcile_once()
    status = fleet.store.session_status.get(name)
    assert status is not None
    exited = [e.reason for e in fleet.events if e.session == name and e.kind == "exited"]
    if told == "since it started":
        assert (status.state, status.restarts, status.quick_failures) == (S.starting, 0, 0)
        assert exited == ["stopped"]
    else:
        assert (status.state, status.quick_failures) == (S.backoff, 1)
        assert (exited[0] or "").startswith("unexpectedly"), exited


@pytest.mark.parametrize("asked", ["before the pause", "after the pause"])
def test_a_restart_its_paused_pair_kept_from_happening_is_not_counted(
    fleet: Fleet, asked: str
) -> None:
    """Asked while the pair is paused (stopped when asked), or just before the pause
    reached it: the pair stops the session, nothing restarts it, and when the pair runs
    again it is started, not restarted by anyone's asking."""
    name = fleet.add_pair("uzmobile", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None

    def restart() -> None:
        fleet.clock.advance(1)
        act(
            store=fleet.store,
            clock=fleet.clock,
            actor=ADMIN,
            name=name,
            action=SessionAction.restart,
        )

    if asked == "before the pause":
        restart()
    fleet.store.pairs.replace(pair.model_copy(update={"state": PairState.paused}))
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopped
    if asked == "after the pause":
        restart()
        supervisor.reconcile_once()
        assert fleet.state(name) == S.stopped and fleet.screens() == []
    fleet.clock.advance(1)
    fleet.store.pairs.replace(pair.model_copy(update={"state": PairState.enabled}))
    supervisor.reconcile_once()
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    status = fleet.store.session_status.get(name)
    assert status is not None
    assert (status.restarts, status.requested_restarts) == (0, 0)
    assert fleet.kinds(name).count("stopping") == 1  # the pause's stop alone


def test_a_program_that_ends_itself_as_it_is_stopped_is_recorded_and_others_go_on(
    fleet: Fleet,
) -> None:
    # The program quits on its own (its lease said stop) before the supervisor's stop.
    name = fleet.add_pair("uzmobile", TICKING)
    other = fleet.add_pair("beeline", TICKING)
    bring_up(fleet, name)
    supervisor = fleet.supervisors[0]
    fleet.want(name, DesiredState.stopped)
    fleet.want(other, DesiredState.running)
    os.kill(fleet.program_pid(name), signal.SIGTERM)
    eventually(lambda: name not in fleet.screens())
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopped
    assert fleet.kinds(name)[-2:] == ["exited", "stopped"]
    status = fleet.store.session_status.get(name)
    assert status is not None and status.quick_failures == 0 and status.last_exit_code == -15
    assert fleet.state(other) == S.starting
    supervisor.reconcile_once()  # and the ticks after it run as before
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.state(other) == S.running and fleet.state(name) == S.stopped


class ScreenThatDeletesAPairOnStart(ScreenBackend):
    """Screen, where a person deletes the pair of one session as the supervisor starts it."""

    def __init__(self, like: ScreenBackend, doomed: str, delete: Callable[[], None]) -> None:
        super().__init__(like.state_dir, screen_dir=like.screen_dir)
        self._doomed = doomed
        self._delete = delete

    def start(self, spec: LaunchSpec) -> ScreenEntry:
        if spec.name == self._doomed:
            self._delete()
        return super().start(spec)


@pytest.mark.parametrize("seen_before", [True, False], ids=["seen-stopped", "new"])
def test_a_pair_deleted_during_a_pass_leaves_the_other_sessions_reconciled(
    fleet: Fleet, caplog: pytest.LogCaptureFixture, seen_before: bool
) -> None:
    doomed = fleet.add_pair("beeline", TICKING)
    other = fleet.add_pair("ucell", TICKING)
    assert sorted([doomed, other]) == [doomed, other]  # the doomed one is reconciled first

    def delete_its_pair() -> None:  # as the pair's DELETE does
        delete_pair(
            pairs=fleet.store.pairs,
            actor=ADMIN,
            key="UZ_beeline",
            audit=fleet.store.audit,
            clock=fleet.clock,
        )
        retire_pair_sessions(store=fleet.store, clock=fleet.clock, pair_key="UZ_beeline")

    fleet.hosts = Hosts.only(ScreenThatDeletesAPairOnStart(fleet.backend, doomed, delete_its_pair))
    supervisor = fleet.supervisor()
    if seen_before:
        supervisor.reconcile_once()  # both seen stopped: their statuses are recorded
    fleet.want(doomed, DesiredState.running)
    fleet.want(other, DesiredState.running)
    with caplog.at_level(logging.WARNING, logger="smsfleet.sessions.supervisor"):
        supervisor.reconcile_once()
    assert fleet.state(other) == S.starting
    if seen_before:
        assert fleet.kinds(other) == ["created", "starting"]
    # Its start is recorded before its screen starts: the pair's deletion finds it
    # starting and wants it stopped, as it does a running session.
    spec = fleet.store.session_specs.get(doomed)
    assert spec is not None and spec.desired == DesiredState.stopped
    assert fleet.state(doomed) == S.starting
    assert caplog.records == []
    # Its screen had started as the pair went: the next pass stops it, the one after
    # keeps no status of a session that is no more; the other session runs on.
    assert doomed in fleet.screens()
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert fleet.screens() == [other]
    supervisor.reconcile_once()
    assert fleet.store.session_status.get(doomed) is None
    assert fleet.store.session_specs.get(doomed) is None
    assert fleet.state(other) == S.running


# Ignores SIGTERM: its stop waits out the whole grace, then SIGKILL.
STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "while True:\n    print('up', flush=True)\n    time.sleep(0.2)\n"
)


def test_a_stop_reads_stopping_while_it_waits_out_its_grace(fleet: Fleet) -> None:
    """What is decided shows before the backend work: a stop is `stopping` (its event
    sent) for the seconds its grace takes, not `running` until it is over."""
    name = fleet.add_pair("beeline", STUBBORN)
    # A grace long enough that a busy machine reads `stopping` well within it.
    supervisor = fleet.supervisor(SupervisorPolicy(stop_grace_seconds=6))
    fleet.want(name, DesiredState.running)
    supervisor.reconcile_once()
    fleet.clock.advance(2)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    fleet.want(name, DesiredState.stopped)
    stopping = threading.Thread(target=supervisor.reconcile_once)
    stopping.start()
    try:
        # The state is written, then its event: on a busy machine a look may fall between.
        eventually(
            lambda: fleet.state(name) == S.stopping and fleet.kinds(name)[-1] == "stopping",
            timeout=5,
        )
        assert stopping.is_alive()  # still within the grace
    finally:
        stopping.join()
    assert fleet.state(name) == S.stopped
    assert fleet.kinds(name)[-2:] == ["stopping", "stopped"]


def test_restart_asked_again_before_it_is_carried_out_is_one_restart(fleet: Fleet) -> None:
    name = fleet.add_pair("beeline", TICKING)
    supervisor = fleet.supervisor()
    fleet.want(name, DesiredState.running)
    supervisor.reconcile_once()
    fleet.clock.advance(2)
    supervisor.reconcile_once()

    def restart() -> None:
        act(
            store=fleet.store,
            clock=fleet.clock,
            actor=ADMIN,
            name=name,
            action=SessionAction.restart,
        )

    restart()
    fleet.clock.advance(1)
    restart()  # clicked again while the first is pending: nothing more to ask
    events = [
        event.kind.value for event in fleet.store.session_events.recent(limit=10, session=name)
    ]
    assert events.count("restart_requested") == 1
    for _ in range(4):  # stopped, started again, up
        supervisor.reconcile_once()
        fleet.clock.advance(2)
    assert fleet.state(name) == S.running
    assert fleet.kinds(name).count("stopping") == 1
    restart()  # carried out: a new restart is a new one
    events = [
        event.kind.value for event in fleet.store.session_events.recent(limit=20, session=name)
    ]
    assert events.count("restart_requested") == 2


def test_a_start_asked_for_in_backoff_is_a_persons_start_not_a_supervisor_restart(
    fleet: Fleet,
) -> None:
    name = fleet.add_pair("uzmobile", CRASHING)
    supervisor = fleet.supervisor(SupervisorPolicy(max_quick_failures=5))
    fleet.want(name, DesiredState.running)
    supervisor.reconcile_once()  # the first start: no restart
    eventually(lambda: name not in fleet.screens())
    supervisor.reconcile_once()
    status = fleet.store.session_status.get(name)
    assert status is not None and status.state == S.backoff and status.backoff_until
    fleet.clock.advance((status.backoff_until - fleet.clock.now()).total_seconds())
    supervisor.reconcile_once()  # the supervisor's retry: one restart of its own
    eventually(lambda: name not in fleet.screens())
    supervisor.reconcile_once()
    assert fleet.state(name) == S.backoff  # its next retry is 2 s away
    act(store=fleet.store, clock=fleet.clock, actor=ADMIN, name=name, action=SessionAction.start)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.starting  # at once, not at its retry
    status = fleet.store.session_status.get(name)
    assert status is not None
    # The supervisor's one retry; a person's start is not one of its restarts.
    assert (status.restarts, status.requested_restarts) == (1, 0)


def test_a_drain_called_off_leaves_how_the_run_before_it_ended(fleet: Fleet) -> None:
    """The run a restart ended is told as the restart ended it, not as the drain called off
    meanwhile (a running program read 'exited … when stopped (pair … is paused)')."""
    name = fleet.add_pair("uzmobile", TICKING)
    supervisor = fleet.supervisor(SupervisorPolicy(pause_drain_seconds=30))
    bring_up(fleet, name)
    first = fleet.program_pid(name)
    spec = fleet.store.session_specs.get(name)
    assert spec is not None
    fleet.store.session_specs.replace(
        spec.model_copy(update={"restart_requested_at": fleet.clock.now()})
    )
    fleet.clock.advance(0.001)

    def running_again() -> bool:
        supervisor.reconcile_once()
        fleet.clock.advance(1)
        return fleet.state(name) == S.running and fleet.program_pid(name) != first

    eventually(running_again)
    before = get_session(store=fleet.store, clock=fleet.clock, name=name).previous_exit
    assert before is not None and before.endswith("when stopped (restart requested)"), before
    pause_as_the_policy(fleet)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.stopping
    resume(fleet)
    supervisor.reconcile_once()
    assert fleet.state(name) == S.running
    assert get_session(store=fleet.store, clock=fleet.clock, name=name).previous_exit == before
