"""Sessions: one program for one pair in a screen named `{program}_{pair key}`.

People and the policy write the *spec* (what should run); the supervisor alone
writes the *status* (what it saw). Keeping them apart means neither overwrites
the other, and `generation` tells the supervisor that someone acted again
(e.g. a start after `fatal`).
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from smsfleet.core.clock import human_time
from smsfleet.core.records import Timestamp
from smsfleet.core.text import OneLine
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.models import POLICY_ACTOR


class DesiredState(StrEnum):
    running = "running"
    stopped = "stopped"


class SessionState(StrEnum):
    stopped = "stopped"
    starting = "starting"
    running = "running"
    backoff = "backoff"
    exited = "exited"
    fatal = "fatal"
    stopping = "stopping"


class EventKind(StrEnum):
    created = "created"  # a program was assigned to a pair: its session exists now
    start_requested = "start_requested"
    stop_requested = "stop_requested"
    restart_requested = "restart_requested"
    starting = "starting"
    running = "running"
    adopted = "adopted"
    exited = "exited"
    hung = "hung"
    # A running program's heartbeats are overdue (`hang_restart_at`), and then came again.
    silent = "silent"
    heard = "heard"
    backoff = "backoff"
    fatal = "fatal"
    stopping = "stopping"
    stopped = "stopped"
    start_failed = "start_failed"


class SessionSpec(BaseModel):
    """What should run: written by people and by the policy."""

    name: str
    program: str
    pair: str
    host: str = "local"
    desired: DesiredState = DesiredState.stopped
    desired_reason: str | None = None
    desired_actor: str | None = None
    desired_at: Timestamp | None = None
    generation: int = 0
    restart_requested_at: Timestamp | None = None
    created_at: Timestamp

    def should_run(self, pair: Pair) -> bool:
        """Wanted running by people or the policy, on its pair while that runs sessions
        (enabled or probing, with a test number): what the supervisor keeps running. A
        paused, disabled or numberless pair's sessions are stopped on purpose, not down."""
        return self.desired is DesiredState.running and pair.runs_sessions

    def restart_asked_since(self, started_at: datetime | None) -> bool:
        """A restart asked for after the session's last start: not carried out yet."""
        asked = self.restart_requested_at
        return asked is not None and (started_at is None or asked > started_at)


def hang_restart_at(
    state: SessionState,
    started_at: datetime | None,
    heartbeat: datetime | None,
    now: datetime,
    hang_timeout: timedelta,
) -> datetime | None:
    """While a running program's heartbeats are overdue: when the supervisor restarts it as
    hung unless one comes. Overdue after half the hang timeout without one (a program beats
    every 15 s: two missed), and only once it has beaten in this run, as the hang check."""
    if state is not SessionState.running or heartbeat is None or started_at is None:
        return None
    if heartbeat < started_at or now - heartbeat <= hang_timeout / 2:
        return None
    return heartbeat + hang_timeout


def silence_said(heartbeat: datetime, restart_at: datetime, now: datetime) -> str:
    """A running program's overdue heartbeats, as its note and its `silent` event say them."""
    return (
        f"no heartbeat since {human_time(heartbeat, now=now)}: restarted as hung at"
        f" {human_time(restart_at, now=now)} unless one comes"
    )


@dataclass(frozen=True)
class SignsOfLife:
    """Each session's last sign of life (a lease, report or heartbeat: `Dispatcher.heartbeats`)
    and how long the supervisor waits for one before it restarts a running program as hung."""

    heartbeats: Mapping[str, datetime]
    hang_timeout: timedelta


STOPPED_FOR_LENGTH = 512


class SessionStatus(BaseModel):
    """What the supervisor saw last."""

    name: str
    state: SessionState = SessionState.stopped
    observed_generation: int = 0
    pid: int | None = None
    started_at: Timestamp | None = None
    # The supervisor's own restarts (after an exit, a hang or a failed start) apart from
    # the restarts people asked for, counted once carried out (a session its pair or a
    # person stopped meanwhile is started, not restarted): a flapping program shows in the
    # first alone.
    restarts: int = 0
    requested_restarts: int = 0
    quick_failures: int = 0
    backoff_until: Timestamp | None = None
    last_exit_code: int | None = None
    last_exit_at: Timestamp | None = None
    # Why the supervisor stopped the run that exited last (no heartbeat, a restart asked
    # for, its pair paused...); None when it ended on its own. Its exit code alone (a kill
    # at the end of a stop's grace) would read as someone else's kill.
    stopped_for: str | None = Field(default=None, max_length=STOPPED_FOR_LENGTH)
    last_log_lines: list[str] = Field(default_factory=list)
    updated_at: Timestamp


class SessionEvent(BaseModel):
    """One transition or request, kept in the event log and pushed to the WebSocket."""

    id: str
    at: Timestamp
    session: str
    kind: EventKind
    from_state: SessionState | None = None
    to_state: SessionState | None = None
    actor: str
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def drains(desired: DesiredState, pair: Pair) -> bool:
    """Down only because the policy paused its pair: its program is told at its next
    lease and may finish its attempts in flight. A person's pause, disable or stop takes
    it down at once, as asked."""
    return (
        desired is DesiredState.running
        and pair.state is PairState.paused
        and pair.state_actor == POLICY_ACTOR
    )


def exit_said(code: object, recorded: object = None) -> str:
    """How a program ended, as a person reads it: a negative code is the signal that
    killed it (`killed by signal 9 (SIGKILL)`); `recorded` False: its runner ended without
    recording the program's end (the runner killed, the program with it)."""
    if not isinstance(code, int):
        if recorded is False:
            return "went down: its runner ended without recording the program's exit (killed?)"
        return "exited"
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = f" ({signal.Signals(-code).name})"
    except ValueError:
        name = ""
    if -code == signal.SIGHUP:
        # What screen sends its window's program as it closes (`screen -X quit`, a kill of
        # the SCREEN process): that, far more often than a hand's kill -HUP.
        name = " (SIGHUP, as when its screen is closed)"
    return f"killed by signal {-code}{name}"


class SessionPublic(BaseModel):
    name: str
    program: str
    pair: str
    country: str
    host: str
    desired: DesiredState
    desired_reason: str | None
    desired_actor: str | None
    state: SessionState
    pid: int | None
    started_at: Timestamp | None
    uptime_seconds: float | None
    restarts: int = Field(
        description="Restarts by the supervisor after an exit, a hang or a failed start"
    )
    requested_restarts: int = Field(
        description="Restarts people asked for, or a program's change, once carried out: one asked"
        " of a session stopped meanwhile (its pair paused or disabled) is not counted",
    )
    last_exit_code: int | None = Field(
        description="How its last run ended; none while a run is starting, running or stopping"
    )
    last_exit: str | None = Field(
        default=None,
        description="`last_exit_code` as a person reads it ('killed by signal 9 (SIGKILL)',"
        " 'exited with code 3'), and why when the supervisor stopped the run ('… when stopped"
        " (no heartbeat)')",
    )
    last_exit_at: Timestamp | None
    previous_exit: str | None = Field(
        default=None,
        description="While a run is alive after an exit: how the run before it ended"
        " ('killed by signal 9 (SIGKILL)', 'exited with code 3')",
    )
    # The last lease, report or heartbeat (kept with the metrics: `Dispatcher.heartbeats`).
    last_heartbeat: Timestamp | None
    hang_restart_at: Timestamp | None = Field(
        default=None,
        description="While a running program's heartbeats are overdue (none for half the hang"
        " timeout since `last_heartbeat`): when the supervisor restarts it as hung unless one"
        " comes",
    )
    is_high_priority: bool
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    retry_at: Timestamp | None = Field(
        description="In backoff after a crash: when the supervisor starts it again"
    )
    note: str | None = Field(
        description="Why a session wanted running does not run (its pair is paused...), "
        "that the supervisor gave up on it, or that its pair is only probed"
    )


class SessionAction(StrEnum):
    start = "start"
    stop = "stop"
    restart = "restart"


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: OneLine | None = Field(default=None, max_length=256)
    force: StrictBool = False


class BulkActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: SessionAction
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    operator: str | None = Field(
        default=None, max_length=64, description="Pair key, slug or operator name, in any case"
    )
    program: str | None = Field(default=None, max_length=32)
    all: StrictBool = Field(default=False, description="Required to act on every session")
    reason: OneLine | None = Field(default=None, max_length=256)
    force: StrictBool = False


class ActionResult(BaseModel):
    name: str
    ok: bool
    state: SessionState | None = None
    desired: DesiredState | None = None
    error: str | None = None
    note: str | None = Field(
        default=None,
        description="Why a session wanted running does not run yet (its pair is paused...)",
    )


class HostPublic(BaseModel):
    """A host of the inventory as the supervisor last saw it."""

    name: str
    address: str | None = Field(
        description="`local`, or user@address:port for SSH; operators and admins only"
    )
    reachable: bool | None = Field(description="None until this replica's supervisor listed it")
    checked_at: Timestamp | None
    error: str | None = Field(description="Why it does not answer; in full for operators only")
    sessions: int = Field(description="Sessions placed there")
    running: int = Field(description="Of those, starting, running or stopping")


class LogLines(BaseModel):
    name: str
    lines: list[str]
