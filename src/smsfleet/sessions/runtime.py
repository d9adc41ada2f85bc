"""The running parts of sessions in a control plane: backend, supervisor, process stats."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import psutil

from smsfleet.core.clock import Clock
from smsfleet.core.errors import NotFound
from smsfleet.core.security import worker_token
from smsfleet.core.settings import Settings
from smsfleet.pairs.models import Pair
from smsfleet.sessions.models import SessionSpec
from smsfleet.sessions.screen import LaunchSpec, ScreenBackend
from smsfleet.sessions.supervisor import EventSink, Heartbeats, Supervisor, SupervisorPolicy
from smsfleet.stores import ConfigStore

__all__ = ["ProcessStats", "SessionRuntime"]


class ProcessStats:
    """CPU and memory of a session's program and its children, by pid.

    psutil's CPU percentage is measured between two calls, so the Process objects
    are kept between requests.
    """

    def __init__(self) -> None:
        self._processes: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()

    def __call__(self, pid: int) -> tuple[float, int] | None:
        with self._lock:
            try:
                process = self._processes.get(pid) or psutil.Process(pid)
                self._processes[pid] = process
                family = [process, *process.children(recursive=True)]
                cpu = sum(p.cpu_percent(interval=None) for p in family)
                memory = sum(p.memory_info().rss for p in family)
            except psutil.Error:
                self._processes.pop(pid, None)
                return None
        return round(cpu, 1), memory


@dataclass
class SessionRuntime:
    backend: ScreenBackend
    supervisor: Supervisor
    stats: ProcessStats

    @classmethod
    def build(
        cls,
        *,
        settings: Settings,
        store: ConfigStore,
        clock: Clock,
        on_event: EventSink | None = None,
        heartbeats: Heartbeats | None = None,
    ) -> SessionRuntime:
        backend = ScreenBackend(settings.sessions_dir, screen_dir=settings.screen_dir)
        secret = settings.jwt_secret

        def launch(spec: SessionSpec, pair: Pair) -> LaunchSpec:
            program = store.programs.get(spec.program)
            if program is None:
                raise NotFound(f"program {spec.program!r} does not exist")
            return LaunchSpec(
                name=spec.name,
                argv=tuple(program.command),
                env={
                    "SMSFLEET_URL": settings.public_url,
                    "SMSFLEET_SESSION": spec.name,
                    "SMSFLEET_WORKER_TOKEN": worker_token(secret=secret, session=spec.name),
                    "SMSFLEET_PAIR": pair.key,
                    "SMSFLEET_PROGRAM": spec.program,
                    "SMSFLEET_COUNTRY": pair.country,
                    "SMSFLEET_SIMULATOR_URL": settings.simulator_url,
                },
                cwd=settings.programs_dir,
            )

        policy = SupervisorPolicy(
            start_seconds=settings.start_seconds,
            backoff_initial_seconds=settings.backoff_initial_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
            stable_seconds=settings.stable_seconds,
            max_quick_failures=settings.max_quick_failures,
            stop_grace_seconds=settings.stop_grace_seconds,
            heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
            workers=min(16, (os.cpu_count() or 2) * 4),
        )
        supervisor = Supervisor(
            store=store,
            backend=backend,
            clock=clock,
            launch=launch,
            policy=policy,
            on_event=on_event,
            heartbeats=heartbeats,
        )
        return cls(backend=backend, supervisor=supervisor, stats=ProcessStats())
