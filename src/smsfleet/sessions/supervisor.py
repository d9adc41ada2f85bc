"""One reconcile loop makes the running sessions match the desired state.

Each tick reads the specs (what people and the policy want), the statuses (what
was seen last) and what runs now on every host; it moves each session through
the state machine, starts and stops screens, and records every transition as an
event. Only the supervisor writes statuses.

A host that does not answer leaves its sessions as they were last seen: an
unreachable host is not a crash, and restarting its programs elsewhere would
run them twice once it is back. A session found on another host than its spec
names (its pair moved) is stopped there and started where it belongs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from smsfleet.core.clock import Clock, human_time
from smsfleet.core.errors import Conflict, DomainError, NotFound
from smsfleet.core.records import event_id, write_if_unchanged
from smsfleet.pairs.models import Pair
from smsfleet.sessions.backend import LaunchSpec, RunStatus, ScreenEntry, SessionBackend
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.leader import Leadership, SoleLeadership
from smsfleet.sessions.machine import MAY_RUN, check_transition
from smsfleet.sessions.models import (
    STOPPED_FOR_LENGTH,
    DesiredState,
    EventKind,
    SessionEvent,
    SessionSpec,
    SessionState,
    SessionStatus,
    drains,
    exit_said,
    hang_restart_at,
    silence_said,
)
from smsfleet.sessions.service import SPEC_DECIDED_ON, sync_specs
from smsfleet.stores import ConfigStore

__all__ = ["Supervisor", "SupervisorPolicy", "TickSink"]

log = logging.getLogger(__name__)
# How a fatal session's reason says its last failure was a start that failed.
START_FAILED = "its start failed"
# Why a stop no reason came with was made: a person stopping it without saying why.
STOP_REQUESTED = "stop requested"

S = SessionState
LOG_LINES_KEPT = 20
# A runner says its program ended a moment before its screen closes: until the screen
# is gone (for at most this long), the supervisor looks again this often.
ENDED_RECHECK_SECONDS = 0.02
ENDED_RECHECK_FOR_SECONDS = 2.0
_DRAIN_CALLED_OFF = "its pair runs again before its program was told to stop: it runs on"
# States in which a session's screen may be up.


@dataclass(frozen=True)
class SupervisorPolicy:
    start_seconds: float = 1.0
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    stable_seconds: float = 60.0
    max_quick_failures: int = 5
    stop_grace_seconds: float = 5.0
    # A session of a pair the policy paused lets its attempts in flight finish for at
    # most this long before it is stopped (a gateway gives an SMS up after 120 s).
    pause_drain_seconds: float = 150.0
    heartbeat_timeout_seconds: float = 60.0
    workers: int = 8

    def backoff(self, failures: int) -> timedelta:
        seconds = self.backoff_initial_seconds * 2 ** max(0, failures - 1)
        return timedelta(seconds=min(self.backoff_max_seconds, seconds))


LaunchFactory = Callable[[SessionSpec, Pair], LaunchSpec]
EventSink = Callable[[SessionEvent], None]
Heartbeats = Callable[[], dict[str, datetime]]
# When a lease of the session was last answered `stop` (None: never): its program then
# ends as the control plane told it, which is no crash.
StopsTold = Callable[[str], "datetime | None"]


class TickSink(Protocol):
    """Told after each completed tick: the leader's name and when; `stopped` after its
    last, as it stops (`SupervisorTicks.ticked`)."""

    def __call__(self, holder: str, at: datetime, *, stopped: bool = False) -> object: ...


@dataclass
class _Tick:
    """What one session's reconcile decided: its new status, events and backend work."""

    status: SessionStatus
    backend: SessionBackend
    events: list[SessionEvent] = field(default_factory=list)
    start: LaunchSpec | None = None
    # After a stop: `stopped` when asked to stop, `exited` when it should come back.
    stop_then: SessionState | None = None
    # A screen of this name on a host other than the spec's, stopped with no state change.
    stray: bool = False
    changed: bool = False
    # How many of `events` are emitted (recorded before the backend work, then after).
    emitted: int = 0


class Supervisor:
    def __init__(
        self,
        *,
        store: ConfigStore,
        hosts: Hosts,
        clock: Clock,
        launch: LaunchFactory,
        policy: SupervisorPolicy | None = None,
        on_event: EventSink | None = None,
        heartbeats: Heartbeats | None = None,
        stops_told: StopsTold | None = None,
        leadership: Leadership | None = None,
        on_tick: TickSink | None = None,
    ) -> None:
        self._store = store
        self._hosts = hosts
        self._clock = clock
        self._launch = launch
        self._policy = policy or SupervisorPolicy()
        self._on_event = on_event
        self._heartbeats = heartbeats or dict
        self._stops_told = stops_told or (lambda _session: None)
        self._pool = ThreadPoolExecutor(self._policy.workers, thread_name_prefix="supervisor")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._statuses: dict[str, SessionStatus] | None = None
        # Sessions removed while their screen may be up (a pair deleted just as its
        # session started): their screens are stopped once a listing shows them.
        self._unowned: set[str] = set()
        # Sessions whose runner said the program ended, until seen gone (monotonic deadline).
        self._ended: dict[str, float] = {}
        # The run (pid, start) each session's runner last said ended: heard once per run.
        self._told: dict[str, tuple[int | None, datetime | None]] = {}
        self._lock_ended = threading.Lock()
        # Sessions draining (their pair paused by the policy): until when their programs
        # may finish their attempts in flight before they are stopped. Kept in memory: a
        # new leader gives a session it finds draining a drain of its own.
        self._draining: dict[str, datetime] = {}
        # Why the run before a drain's stopped (`stopped_for`), put back if it is called off:
        # the drain's reason was never that run's end.
        self._stopped_for_before_drain: dict[str, str | None] = {}
        # Running sessions whose heartbeats are overdue, told once (`silent`) until one comes
        # (`heard`) or the session moves on (a hang's restart, an exit, a stop).
        self._silent: set[str] = set()
        self.leadership = leadership or SoleLeadership()
        self.leading = False
        self._on_tick = on_tick
        self._tick_unrecorded = False  # the last try to record a tick failed

    # --- the loop ------------------------------------------------------------

    def start_loop(self, interval: float = 1.0) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="supervisor", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Reconcile now rather than at the next tick (after a person acted)."""
        self._wake.set()

    def program_ended(self, name: str, pid: int | None = None) -> None:
        """A session's runner says its program (`pid`) ended: reconcile now, and again
        every few milliseconds while its screen is still closing, rather than at the next
        tick.

        Heard once per run, and only by the leader: the word comes with the session's
        worker token, which its program holds too, and must not keep the supervisor
        looking at every host many times a second. A word for a run other than the one
        recorded (an earlier run's, late) is left to the ticks, which stay the safety net,
        and so is a word for a session with no spec (removed).
        """
        status = (self._statuses or {}).get(name)
        if not self.leading or (status is not None and status.pid not in (None, pid or status.pid)):
            return
        if status is None and self._store.session_specs.get(name) is None:
            # No run known and no spec (the session removed): nothing to reconcile, and
            # each word naming another pid must not wake the loop again.
            return
        # A leader that has not looked at the session yet (it does at once) knows no run.
        run = (pid, None) if status is None else (status.pid, status.started_at)
        with self._lock_ended:
            if self._told.get(name) == run:
                return
            self._told[name] = run
            self._ended[name] = time.monotonic() + ENDED_RECHECK_FOR_SECONDS
        self._wake.set()

    def close(self) -> None:
        """Stop the loop (giving up the leadership); the sessions keep running and are
        adopted by the next leader."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=True)

    def _run(self, interval: float) -> None:
        try:
            while not self._stopping.is_set():
                if self._lead():
                    try:
                        self.reconcile_once()
                    except Exception:  # one bad tick must not end supervision
                        log.exception("reconcile failed")
                self._wake.wait(ENDED_RECHECK_SECONDS if self._ended else interval)
                self._wake.clear()
        finally:
            if self.leading:
                self._record_tick(stopped=True)
                self.leadership.release()

    def _lead(self) -> bool:
        leading = self.leadership.hold()
        if leading != self.leading:
            log.info("supervisor %s", "leads" if leading else "follows: another replica leads")
            with self._lock:
                # A new leader reads the statuses the previous one left.
                self._statuses = None
                self._draining.clear()
                self._silent.clear()
        self.leading = leading
        return leading

    def _record_tick(self, *, stopped: bool = False) -> None:
        """Say that this leader carried out a tick (the sink writes it at its own pace),
        so that commands writing desired state can tell a control plane acts on it;
        `stopped`: that it stops, so they can tell at once that none does."""
        if self._on_tick is None:
            return
        try:
            self._on_tick(self.leadership.name, self._clock.now(), stopped=stopped)
        except Exception as error:  # the metrics database away: supervising goes on
            if not self._tick_unrecorded:  # once per outage, not every tick
                log.warning("could not record the supervisor's tick: %s", error)
            self._tick_unrecorded = True
        else:
            self._tick_unrecorded = False

    # --- one tick ------------------------------------------------------------

    def reconcile_once(self) -> None:
        with self._lock:
            self._reconcile()
        self._record_tick()

    def _reconcile(self) -> None:
        store = self._store
        if self._statuses is None:
            # Read once: from then on this supervisor is the only writer of statuses.
            self._statuses = {status.name: status for status in store.session_status.list()}
        pair_list = store.pairs.list()
        specs = sync_specs(
            store=store,
            clock=self._clock,
            pairs=pair_list,
            specs=store.session_specs.list(),
            statuses=self._statuses,
            on_event=self._on_event,
        )
        names = {spec.name for spec in specs}
        for gone in set(self._statuses) - names:
            if self._statuses.pop(gone).state in MAY_RUN:
                self._unowned.add(gone)
            with self._lock_ended:
                self._told.pop(gone, None)
            self._draining.pop(gone, None)
            self._silent.discard(gone)
            with contextlib.suppress(NotFound):  # a status written as its spec went
                store.session_status.delete(gone)
        statuses = self._statuses
        pairs = {pair.key: pair for pair in pair_list}
        now = self._clock.now()
        listed = self._list_hosts({spec.host for spec in specs}, now)
        self._forget_ended(listed)
        beats = self._heartbeats()
        ticks = self._stop_unowned(names, listed, now)
        for spec in specs:
            if spec.host not in listed:
                continue  # its host did not answer: nothing is known, nothing changes
            previous = statuses.get(spec.name)
            status = previous or SessionStatus(name=spec.name, updated_at=now)
            tick = _Tick(status, self._hosts.backend(spec.host), changed=previous is None)
            running = listed[spec.host].get(spec.name)
            try:
                if running is None and self._moved(tick, spec, listed, now):
                    ticks.append(tick)
                    continue
                self._decide(tick, spec, pairs.get(spec.pair), running, beats, now)
            except NotFound as gone:  # its pair was deleted meanwhile: the next tick sees it
                log.warning("%s was removed while reconciled: skipped (%s)", spec.name, gone)
                continue
            except Exception:  # one session's trouble must not stop the others' ticks
                log.exception("reconciling %s failed", spec.name)
                continue
            ticks.append(tick)
        # What is decided shows at once (`stopping` while a stop takes up to its grace,
        # `starting`), then what came of the backend work.
        self._record(ticks)
        self._act(ticks)
        self._record(ticks)

    def _record(self, ticks: Iterable[_Tick]) -> None:
        """Save the statuses changed and emit the events not emitted yet."""
        for tick in ticks:
            if tick.changed:
                tick.status = tick.status.model_copy(update={"updated_at": self._clock.now()})
                self._save(tick.status)
                tick.changed = False
            for event in tick.events[tick.emitted :]:
                self._emit(event)
            tick.emitted = len(tick.events)

    def _stop_unowned(
        self, names: set[str], listed: dict[str, dict[str, ScreenEntry]], now: datetime
    ) -> list[_Tick]:
        """Stray stops of the screens of sessions removed while they started or ran; a
        name that has a spec again is the supervisor's to reconcile as usual."""
        ticks = []
        everyone_answered = set(self._hosts.names) <= set(listed)
        for name in sorted(self._unowned):
            hosts = [] if name in names else [h for h, found in listed.items() if name in found]
            for host in hosts:
                log.warning("%s runs on %s with its session removed: stopping it", name, host)
                status = SessionStatus(name=name, updated_at=now)
                ticks.append(_Tick(status, self._hosts.backend(host), stray=True))
            if hosts or name in names or everyone_answered:
                self._unowned.discard(name)
        return ticks

    def _forget_ended(self, listed: dict[str, dict[str, ScreenEntry]]) -> None:
        """Stop looking again for the ended sessions whose screens are gone (this tick
        records their exit), or that outlived the wait (the ticks will)."""
        still_up = {name for entries in listed.values() for name in entries}
        moment = time.monotonic()
        with self._lock_ended:
            for name, deadline in list(self._ended.items()):
                if name not in still_up or moment > deadline:
                    del self._ended[name]

    def _list_hosts(self, wanted: set[str], now: datetime) -> dict[str, dict[str, ScreenEntry]]:
        """The live screens of every host that answered, by host and name, in parallel."""
        names = [*self._hosts.names, *sorted(wanted - set(self._hosts.names))]

        def listing(host: str) -> dict[str, ScreenEntry] | None:
            before = self._hosts.health(host)
            try:
                found = {e.name: e for e in self._hosts.list(host, now) if e.alive}
            except Exception as error:
                if before is None or before.reachable:  # once per outage, not every tick
                    log.warning(
                        "host %s: its sessions are unknown until it answers: %s", host, error
                    )
                return None
            if before is not None and not before.reachable:
                log.info("host %s answers again", host)
            return found

        found = zip(names, self._pool.map(listing, names), strict=True)
        return {host: entries for host, entries in found if entries is not None}

    def _moved(
        self,
        tick: _Tick,
        spec: SessionSpec,
        listed: dict[str, dict[str, ScreenEntry]],
        now: datetime,
    ) -> bool:
        """Stop the session where it runs when that is not its spec's host."""
        # Called when it is not on its own host: any host that has it is another one.
        elsewhere = next((h for h, found in listed.items() if spec.name in found), None)
        if elsewhere is None:
            return False
        tick.backend = self._hosts.backend(elsewhere)
        state = tick.status.state
        if state in (S.starting, S.running):
            reason = f"moving from host {elsewhere} to {spec.host}"
            self._move(tick, S.stopping, EventKind.stopping, now, reason, host=elsewhere)
        if state in (S.starting, S.running, S.stopping):
            tick.stop_then = S.exited  # and the next tick starts it on its own host
        else:
            tick.stray = True  # not ours to run there (started by hand): stopped quietly
        return True

    def _save(self, status: SessionStatus) -> None:
        assert self._statuses is not None
        if status.name in self._statuses:
            try:
                self._store.session_status.replace(status)
            except NotFound:  # its pair was deleted meanwhile, and its session removed
                log.warning("%s was removed while reconciled: not recorded", status.name)
                del self._statuses[status.name]
                if status.state in MAY_RUN:
                    self._unowned.add(status.name)
                return
        else:
            try:
                self._store.session_status.add(status)
            except Conflict:  # written before this supervisor started
                self._store.session_status.replace(status)
        self._statuses[status.name] = status

    def _emit(self, event: SessionEvent) -> None:
        self._store.session_events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    # --- decisions -----------------------------------------------------------

    def _move(
        self,
        tick: _Tick,
        target: SessionState,
        kind: EventKind,
        now: datetime,
        reason: str | None = None,
        **details: Any,
    ) -> None:
        current = tick.status.state
        if current != target:
            check_transition(current, target)
        update: dict[str, Any] = {"state": target}
        if target == S.stopping:  # this stop's own reason, never an earlier stop's
            update["stopped_for"] = (reason or STOP_REQUESTED)[:STOPPED_FOR_LENGTH]
        tick.status = tick.status.model_copy(update=update)
        tick.changed = True
        if target != S.stopping:  # a drain lasts while its session is stopping
            self._draining.pop(tick.status.name, None)
            self._stopped_for_before_drain.pop(tick.status.name, None)
        self._silent.discard(tick.status.name)
        self._tell(tick, kind, now, reason, from_state=current, to_state=target, **details)

    @staticmethod
    def _tell(
        tick: _Tick,
        kind: EventKind,
        now: datetime,
        reason: str | None,
        *,
        from_state: SessionState | None = None,
        to_state: SessionState | None = None,
        **details: Any,
    ) -> None:
        tick.events.append(
            SessionEvent(
                id=event_id(),
                at=now,
                session=tick.status.name,
                kind=kind,
                from_state=from_state,
                to_state=to_state,
                actor="supervisor",
                reason=reason,
                details=details,
            )
        )

    def _update(self, tick: _Tick, **changes: Any) -> None:
        tick.status = tick.status.model_copy(update=changes)
        tick.changed = True

    def _decide(
        self,
        tick: _Tick,
        spec: SessionSpec,
        pair: Pair | None,
        running: ScreenEntry | None,
        beats: dict[str, datetime],
        now: datetime,
    ) -> None:
        status = tick.status
        acted = status.observed_generation != spec.generation
        if acted:
            # Someone acted: a start after `fatal` gets a fresh budget of failures.
            self._update(
                tick, observed_generation=spec.generation, quick_failures=0, backoff_until=None
            )
        enabled = pair is not None and pair.runs_sessions
        if running is not None and enabled and tick.status.state == S.stopped:
            # Started outside smsfleet under a known name: adopt it, never start a second.
            spec = self._want_running(spec, "found running", now)
        wanted = pair is not None and spec.should_run(pair)
        state = tick.status.state
        if not wanted:
            self._decide_down(tick, spec, pair, running, now)
        elif running is not None:
            self._decide_alive(tick, spec, running, beats.get(spec.name), now)
        elif state in (S.starting, S.running, S.stopping):
            # Drained by its pair's pause, or told `stop` at a lease (the pause seen there
            # before its drain was called off): it ended as asked, and is started again at
            # once, as any session of a resumed pair is.
            asked_to_end = spec.name in self._draining or self._told_stop(tick, now)
            self._record_exit(tick, now, expected=asked_to_end)
            if asked_to_end and pair is not None:
                self._begin_start(tick, spec, pair, now, asked=acted, after_pause=True)
        elif state == S.fatal and status.observed_generation == spec.generation:
            return  # down until someone acts
        elif (
            state == S.backoff
            and tick.status.backoff_until
            and now < tick.status.backoff_until
            and not spec.restart_asked_since(tick.status.started_at)
        ):
            return  # waiting to retry, unless someone asked for a restart: that is now
        elif pair is not None:
            self._begin_start(tick, spec, pair, now, asked=acted)

    def _want_running(self, spec: SessionSpec, reason: str, now: datetime) -> SessionSpec:
        if spec.desired == DesiredState.running:
            return spec
        changes: dict[str, object] = {
            "desired": DesiredState.running,
            "desired_actor": "supervisor",
            "desired_reason": reason,
            "desired_at": now,
        }
        # Decided on the spec as this tick read it: a person's action since (a stop) stands,
        # and the tick goes on with the spec as it is now; the next one looks again.
        adopted = write_if_unchanged(
            self._store.session_specs, spec.name, spec, changes, decided_on=SPEC_DECIDED_ON
        )
        if adopted is None:
            return self._store.session_specs.get(spec.name) or spec
        return adopted

    def _decide_down(
        self,
        tick: _Tick,
        spec: SessionSpec,
        pair: Pair | None,
        running: ScreenEntry | None,
        now: datetime,
    ) -> None:
        reason = spec.desired_reason if spec.desired == DesiredState.stopped else None
        if pair is not None and (held := pair.holds_sessions()) is not None:
            reason = held
        if running is not None:
            if pair is not None and drains(spec.desired, pair):
                if self._drain(tick, pair, now):
                    return
            elif tick.status.state == S.stopping and spec.name in self._draining:
                # A person's stop, or a pair disabled, while it drained: no more waiting.
                del self._draining[spec.name]
                self._stopped_for_before_drain.pop(spec.name, None)
                self._move(tick, S.stopping, EventKind.stopping, now, reason)
            if tick.status.state != S.stopping:
                self._move(tick, S.stopping, EventKind.stopping, now, reason)
            tick.stop_then = S.stopped
        elif tick.status.state != S.stopped:
            # It ended on its own before the stop reached it, or as its drain asked.
            if tick.status.state == S.running or spec.name in self._draining:
                self._record_exit(tick, now, expected=True)
            self._move(tick, S.stopped, EventKind.stopped, now, reason)
            self._update(tick, pid=None, backoff_until=None)

    def _drain(self, tick: _Tick, pair: Pair, now: datetime) -> bool:
        """Let the program finish its attempts in flight (it learns of the pause at its
        next lease, then exits): True while it may; False once `pause_drain_seconds` are
        over, when it is stopped as any session is (SIGTERM, then the stop grace)."""
        name = tick.status.name
        limit = self._policy.pause_drain_seconds
        until = self._draining.get(name)
        if until is None:
            if tick.status.state not in MAY_RUN:
                return False  # not started by the supervisor: nothing of it to wait for
            self._draining[name] = now + timedelta(seconds=limit)
            self._stopped_for_before_drain[name] = tick.status.stopped_for
            reason = (
                f"pair {pair.key} is paused: its attempts in flight finish first,"
                f" at most {limit:g} s"
            )
            self._move(tick, S.stopping, EventKind.stopping, now, reason, drain_seconds=limit)
            return True
        if now < until:
            return True
        self._move(tick, S.stopping, EventKind.stopping, now, self._drain_ran_out())
        return False

    def _drain_ran_out(self) -> str:
        """Why a program its pair's pause drained is stopped after all, its pair paused
        still or resumed meanwhile."""
        return (
            f"its program still ran {self._policy.pause_drain_seconds:g} s after its pair's pause"
        )

    def _decide_alive(
        self,
        tick: _Tick,
        spec: SessionSpec,
        running: ScreenEntry,
        heartbeat: datetime | None,
        now: datetime,
    ) -> None:
        status = tick.status
        policy = self._policy
        if status.state in (S.stopped, S.backoff, S.fatal, S.exited):
            # Started outside smsfleet, or still up from before a control-plane restart.
            pid = self._program_pid(tick, running)
            self._move(tick, S.running, EventKind.adopted, now, "found running", pid=pid)
            # Started by hand after the supervisor gave up: a fresh budget of failures, as
            # a start through smsfleet gets.
            fresh = {"quick_failures": 0} if status.state == S.fatal else {}
            self._update(tick, pid=pid, started_at=status.started_at or now, **fresh)
            return
        started_at = status.started_at or now
        if status.state == S.starting:
            if now - started_at >= timedelta(seconds=policy.start_seconds):
                pid = self._program_pid(tick, running)
                self._move(tick, S.running, EventKind.running, now, pid=pid)
                self._update(tick, pid=pid)
            return
        if status.state == S.stopping:
            until = self._draining.get(spec.name)
            if until is not None and not self._told_stop(tick, now):
                # Its pair runs again before its program heard of the pause: it runs on.
                before = self._stopped_for_before_drain.pop(spec.name, None)
                self._move(tick, S.running, EventKind.running, now, _DRAIN_CALLED_OFF)
                self._update(tick, stopped_for=before)
                return
            if until is not None and now < until:
                return  # told `stop`: it ends once its attempts in flight are done, then starts
            if until is not None:
                self._move(tick, S.stopping, EventKind.stopping, now, self._drain_ran_out())
            tick.stop_then = S.exited  # a stop cut short by a control-plane restart
            return
        if spec.restart_asked_since(started_at):
            self._move(tick, S.stopping, EventKind.stopping, now, "restart requested")
            tick.stop_then = S.exited
            return
        timeout = timedelta(seconds=policy.heartbeat_timeout_seconds)
        restart_at = hang_restart_at(S.running, started_at, heartbeat, now, timeout)
        if heartbeat is not None and restart_at is not None and now > restart_at:
            self._move(
                tick,
                S.stopping,
                EventKind.hung,
                now,
                "no heartbeat",
                last_heartbeat=heartbeat.isoformat(),
            )
            tick.stop_then = S.exited
            return
        self._tell_silence(tick, heartbeat, restart_at, now)
        if status.quick_failures and now - started_at >= timedelta(seconds=policy.stable_seconds):
            self._update(tick, quick_failures=0)  # stable again: backoff starts over

    def _tell_silence(
        self, tick: _Tick, heartbeat: datetime | None, restart_at: datetime | None, now: datetime
    ) -> None:
        """Tell once that a running program's heartbeats are overdue, and once that one came
        before it was taken as hung: the listings say so meanwhile (`hang_restart_at`)."""
        name = tick.status.name
        if restart_at is not None and heartbeat is not None and name not in self._silent:
            self._silent.add(name)
            self._tell(
                tick,
                EventKind.silent,
                now,
                silence_said(heartbeat, restart_at, now),
                last_heartbeat=heartbeat.isoformat(),
                hang_restart_at=restart_at.isoformat(),
            )
        elif restart_at is None and name in self._silent:
            self._silent.discard(name)
            last = f" at {human_time(heartbeat, now=now)}" if heartbeat is not None else ""
            self._tell(tick, EventKind.heard, now, f"heartbeats again: one came{last}")

    def _told_stop(self, tick: _Tick, now: datetime) -> bool:
        """Whether a lease of the session's program was answered `stop` since it started,
        within a drain's length: a program told so ends by then, or was stopped."""
        told = self._stops_told(tick.status.name)
        if told is None or now - told > timedelta(seconds=self._policy.pause_drain_seconds):
            return False
        started_at = tick.status.started_at
        return started_at is None or told >= started_at

    @staticmethod
    def _program_pid(tick: _Tick, entry: ScreenEntry) -> int:
        run = tick.backend.status(entry.name)
        return run.program_pid if run is not None and run.program_pid else entry.pid

    def _record_exit(self, tick: _Tick, now: datetime, *, expected: bool = False) -> None:
        """The session is gone: record why, then back off unless it was meant to stop."""
        status = tick.status
        last = tick.backend.status(status.name)
        exit_code = last.returncode if last is not None else None
        # The runner writes the program's end as it sees it; its screen gone without that
        # (the runner killed, the program taken down with it), the exit code is unknown.
        exit_recorded = last is not None and last.ended_at is not None
        lines = tick.backend.tail(status.name, LOG_LINES_KEPT)
        expected = expected or status.state == S.stopping
        self._move(
            tick,
            S.exited,
            EventKind.exited,
            now,
            "stopped" if expected else f"unexpectedly: {exit_said(exit_code, exit_recorded)}",
            exit_code=exit_code,
            exit_recorded=exit_recorded,
            log_tail=lines,
            **({} if expected else self._failure_details(status)),
        )
        self._update(
            tick,
            pid=None,
            last_exit_code=exit_code,
            last_exit_at=last.ended_at if last and last.ended_at else now,
            last_log_lines=lines,
            **({} if expected else {"stopped_for": None}),
        )
        if not expected:
            self._back_off(tick, now, exit_said(exit_code, exit_recorded))

    def _failure_details(self, status: SessionStatus) -> dict[str, object]:
        """What a crash's event says of the crash loop: how many failures in a row, this
        one included, so its alert says how many, not only the last; and whether the
        supervisor gives up at this one (`fatal` follows: no restart is to be promised)."""
        failures = status.quick_failures + 1
        gives_up = failures >= self._policy.max_quick_failures
        return {"failures_in_a_row": failures, **({"gives_up": True} if gives_up else {})}

    def _back_off(self, tick: _Tick, now: datetime, last: str) -> None:
        """After an unexpected exit: retry later, or give up after too many quick failures.
        `last`: how it ended this time, which a fatal session's reason says (a failed
        start's own reason is in its event, for those who may read it)."""
        failures = tick.status.quick_failures + 1
        if failures >= self._policy.max_quick_failures:
            why = f"{failures} quick failures in a row, the last: {last}"
            self._move(tick, S.fatal, EventKind.fatal, now, why)
            self._update(tick, quick_failures=failures, backoff_until=None)
            return
        until = now + self._policy.backoff(failures)
        retry = f"retry at {human_time(until, now=now)}"
        self._move(tick, S.backoff, EventKind.backoff, now, retry)
        self._update(tick, quick_failures=failures, backoff_until=until)

    def _begin_start(
        self,
        tick: _Tick,
        spec: SessionSpec,
        pair: Pair,
        now: datetime,
        *,
        asked: bool,
        after_pause: bool = False,
    ) -> None:
        """Start the session; `asked`: someone acted since the last tick (a new generation);
        `after_pause`: its pair's pause ended its last run (a start, not a restart)."""
        status = tick.status
        counted: dict[str, int] = {}
        if status.state is not S.stopped and spec.restart_asked_since(status.started_at):
            # Someone asked, and the run it was asked of ended for it (or had already ended
            # on its own). A session stopped meanwhile (its pair paused or disabled, a
            # person's stop), or stopped when asked, is started, not restarted: that restart
            # was never carried out, and is not counted.
            counted["requested_restarts"] = status.requested_restarts + 1
        elif not asked and not after_pause and status.state not in (S.stopped, S.fatal):
            # After an exit, a hang, a failed start. A person's start (from `stopped`, after
            # giving up, or in backoff before the retry) is no restart of the supervisor's.
            counted["restarts"] = status.restarts + 1
        self._move(tick, S.starting, EventKind.starting, now)
        self._update(tick, started_at=now, backoff_until=None, **counted)
        try:
            tick.start = self._launch(spec, pair)
        except DomainError as refused:  # e.g. its program is not one an admin installed
            self._move(
                tick,
                S.exited,
                EventKind.start_failed,
                now,
                refused.message,
                **self._failure_details(status),
            )
            self._back_off(tick, now, START_FAILED)

    # --- backend work, in parallel -------------------------------------------

    def _act(self, ticks: Iterable[_Tick]) -> None:
        work = [t for t in ticks if t.start is not None or t.stop_then is not None or t.stray]
        for tick, outcome in zip(work, self._pool.map(self._do, work), strict=True):
            now = self._clock.now()
            if tick.stray:
                if isinstance(outcome, Exception):
                    log.warning("stopping stray %s failed: %s", tick.status.name, outcome)
                continue
            if isinstance(outcome, Exception):
                if tick.start is None:
                    log.warning("stopping %s failed: %s", tick.status.name, outcome)
                    continue  # still `stopping`: the next tick tries again
                details = self._failure_details(tick.status)
                self._move(tick, S.exited, EventKind.start_failed, now, str(outcome), **details)
                self._back_off(tick, now, START_FAILED)
            elif isinstance(outcome, ScreenEntry):
                self._update(tick, pid=outcome.pid)
            elif tick.stop_then is not None:
                exit_code = outcome.returncode if isinstance(outcome, RunStatus) else None
                kind = EventKind.stopped if tick.stop_then == S.stopped else EventKind.exited
                reason = tick.events[-1].reason if tick.events else None
                self._move(tick, tick.stop_then, kind, now, reason, exit_code=exit_code)
                self._update(tick, pid=None, last_exit_code=exit_code, last_exit_at=now)

    def _do(self, tick: _Tick) -> ScreenEntry | RunStatus | Exception | None:
        try:
            if tick.start is not None:
                return tick.backend.start(tick.start)
            return tick.backend.stop(tick.status.name, self._policy.stop_grace_seconds)
        except Exception as exc:  # reported as an event, never raised out of the loop
            return exc
