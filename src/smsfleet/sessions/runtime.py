"""The running parts of sessions in a control plane: backend, supervisor, process stats."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from smsfleet.core.clock import Clock
from smsfleet.core.errors import NotFound, Unavailable
from smsfleet.core.security import worker_token
from smsfleet.core.settings import LOCAL_HOST, Settings
from smsfleet.pairs.models import Pair
from smsfleet.programs.rules import ProgramRules, check_command
from smsfleet.sessions.backend import LaunchSpec, SessionBackend
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.leader import RedisLeadership, SoleLeadership
from smsfleet.sessions.models import SessionSpec, SessionStatus
from smsfleet.sessions.screen import ScreenError
from smsfleet.sessions.supervisor import (
    EventSink,
    Heartbeats,
    StopsTold,
    Supervisor,
    SupervisorPolicy,
    TickSink,
)
from smsfleet.stores import ConfigStore

__all__ = ["ProcessStats", "SessionRuntime"]


class ProcessStats:
    """CPU and memory of sessions' programs, sampled in the background every `max_age` s.

    psutil measures CPU between two readings, so Process objects are kept; and a
    listing of 600 sessions must not read /proc 600 times on its request path: a
    request reads only the pids it has never seen, and a stale sample is refreshed
    by a background thread while requests keep answering from the last one.
    """

    def __init__(self, max_age: float = 2.0) -> None:
        self._max_age = max_age
        self._processes: dict[int, psutil.Process] = {}
        self._sample: dict[int, tuple[float, int]] = {}
        self._unreadable: set[int] = set()
        self._wanted: set[int] = set()
        self._sampled_at = -math.inf
        self._refreshing = False
        self._lock = threading.Lock()

    def usage(self, pids: Iterable[int]) -> dict[int, tuple[float, int]]:
        wanted = set(pids)
        with self._lock:
            self._wanted |= wanted
            new = wanted - self._sample.keys() - self._unreadable
            if new:
                self._read(new)
            stale = time.monotonic() - self._sampled_at > self._max_age
            if stale and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="process-stats", daemon=True).start()
            return {pid: self._sample[pid] for pid in wanted if pid in self._sample}

    def _refresh(self) -> None:
        with self._lock:
            pids, self._wanted = self._wanted, set()
        fresh = self._readings(pids)
        with self._lock:
            self._sample = fresh
            self._unreadable = pids - fresh.keys()
            for gone in set(self._processes) - fresh.keys():
                self._processes.pop(gone, None)
            self._sampled_at = time.monotonic()
            self._refreshing = False

    def _read(self, pids: set[int]) -> None:
        fresh = self._readings(pids)
        self._sample.update(fresh)
        self._unreadable |= pids - fresh.keys()

    def _readings(self, pids: set[int]) -> dict[int, tuple[float, int]]:
        readings: dict[int, tuple[float, int]] = {}
        for pid in pids:
            try:
                process = self._processes.get(pid) or psutil.Process(pid)
                with process.oneshot():
                    cpu = round(process.cpu_percent(None), 1)
                    readings[pid] = (cpu, process.memory_info().rss)
                self._processes[pid] = process
            except psutil.Error:
                self._processes.pop(pid, None)
        return readings


@dataclass
class SessionRuntime:
    hosts: Hosts
    supervisor: Supervisor
    stats: ProcessStats
    store: ConfigStore

    def usage(
        self, sessions: Iterable[tuple[SessionSpec, SessionStatus | None]]
    ) -> dict[str, tuple[float, int]]:
        """CPU % and resident bytes of the sessions' programs: this host's read here by pid,
        other hosts' from the supervisor's last listing of them."""
        local: dict[int, str] = {}
        remote: list[str] = []
        for spec, status in sessions:
            if spec.host != LOCAL_HOST:
                remote.append(spec.name)
            elif status is not None and status.pid:
                local[status.pid] = spec.name
        found = {local[pid]: value for pid, value in self.stats.usage(local).items()}
        elsewhere = self.hosts.usage()
        found.update({name: elsewhere[name] for name in remote if name in elsewhere})
        return found

    def tail(self, name: str, lines: int, *, say_why: bool = True) -> list[str]:
        """The last lines of a session's log, wherever it runs; `say_why`: a failure
        tells its error, which may name paths and a host's answer (operators see them)."""
        try:
            return self.backend_of(name).tail(name, lines)
        except ScreenError as error:  # its host is away, or its screen broken
            spec = self.store.session_specs.get(name)
            why = error if say_why else f"host {spec.host if spec else LOCAL_HOST} does not answer"
            message = f"the log of {name} cannot be read now: {why}"
            raise Unavailable(message, retry_after=5) from error

    def backend_of(self, name: str) -> SessionBackend:
        """The backend of the host session `name` runs on (this one if it has no spec yet)."""
        spec = self.store.session_specs.get(name)
        return self.hosts.backend(spec.host if spec is not None else LOCAL_HOST)

    @classmethod
    def build(
        cls,
        *,
        settings: Settings,
        store: ConfigStore,
        clock: Clock,
        on_event: EventSink | None = None,
        heartbeats: Heartbeats | None = None,
        stops_told: StopsTold | None = None,
        on_tick: TickSink | None = None,
        redis_prefix: str = "smsfleet",
    ) -> SessionRuntime:
        hosts = Hosts.from_settings(settings)
        secret = settings.jwt_secret
        if settings.run_as is not None:
            # Programs of another user get through to their own spool folder (theirs,
            # made by the runner) and cannot list or read anything else here.
            for folder in (settings.data_dir, settings.data_dir / "spool"):
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o711)
        rules = ProgramRules.from_settings(settings)

        def launch(spec: SessionSpec, pair: Pair) -> LaunchSpec:
            program = store.programs.get(spec.program)
            if program is None:
                raise NotFound(f"program {spec.program!r} does not exist")
            remote = settings.hosts.get(spec.host)
            # Checked again at every start, where it runs: a program stored before the
            # rules (or whose file was since replaced by a link out of the program
            # directories) never runs. An SSH host's agent checks against that host's own
            # disk and program directories (`SshBackend.program_rules`); this disk says
            # nothing of what a path leads to there, so it is not asked.
            if remote is None:
                check_command(program.command, rules)
            if remote is not None:
                data_dir = remote.data_dir.rstrip("/")
                spool_dir = f"{data_dir}/spool/{spec.name}"
                cwd = Path(remote.programs_dir or data_dir)
            else:
                spool_dir = str(settings.data_dir.resolve() / "spool" / spec.name)
                cwd = settings.programs_dir
            return LaunchSpec(
                name=spec.name,
                argv=tuple(program.command),
                env={
                    "SMSFLEET_URL": settings.resolved_public_url,
                    "SMSFLEET_SESSION": spec.name,
                    "SMSFLEET_WORKER_TOKEN": worker_token(
                        secret=secret, session=spec.name, created_at=spec.created_at
                    ),
                    "SMSFLEET_PAIR": pair.key,
                    "SMSFLEET_PROGRAM": spec.program,
                    "SMSFLEET_COUNTRY": pair.country,
                    "SMSFLEET_SIMULATOR_URL": settings.simulator_url,
                    "SMSFLEET_SPOOL_DIR": spool_dir,
                    # What the supervisor allows from SIGTERM to SIGKILL: the worker SDK
                    # plans its stop (waits, reports, exit) to end within it.
                    "SMSFLEET_STOP_GRACE": f"{settings.stop_grace_seconds:g}",
                }
                | (
                    {"SMSFLEET_PROGRAM_SENTRY_DSN": settings.program_sentry_dsn}
                    if settings.program_sentry_dsn
                    else {}
                ),
                cwd=cwd,
            )

        policy = SupervisorPolicy(
            start_seconds=settings.start_seconds,
            backoff_initial_seconds=settings.backoff_initial_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
            stable_seconds=settings.stable_seconds,
            max_quick_failures=settings.max_quick_failures,
            stop_grace_seconds=settings.stop_grace_seconds,
            pause_drain_seconds=settings.pause_drain_seconds,
            heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
            workers=min(16, (os.cpu_count() or 2) * 4),
        )
        supervisor = Supervisor(
            store=store,
            hosts=hosts,
            clock=clock,
            launch=launch,
            policy=policy,
            on_event=on_event,
            heartbeats=heartbeats,
            stops_told=stops_told,
            on_tick=on_tick,
            leadership=RedisLeadership.from_url(
                settings.redis_url,
                ttl_seconds=settings.leader_ttl_seconds,
                key=f"{redis_prefix}:supervisor:leader",
            )
            if settings.redis_url
            else SoleLeadership(),
        )
        return cls(hosts=hosts, supervisor=supervisor, stats=ProcessStats(), store=store)
