"""Every API request logged at almost no cost: the HTTP edge appends one
tuple to a queue; a background thread writes the queue in batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from prometheus_client import Histogram
from prometheus_client.registry import CollectorRegistry
from starlette.types import Scope

from smsfleet.core.clock import Clock
from smsfleet.developer.store import LoggedRequest, UsageStore

__all__ = ["RequestLog", "RequestRecorder", "worker_request_seconds"]

log = logging.getLogger("smsfleet.developer")

FLUSH_SECONDS = 1.0
PURGE_EVERY = timedelta(hours=1)
MAX_QUEUED = 200_000  # beyond this (the store is down), the oldest are dropped and counted
# Routes that are not API use: health checks, scrapes and the dashboard's files.
NOT_LOGGED = frozenset({"/healthz", "/readyz", "/metrics", "/{path:path}"})
# The fleet's own protocol (leases, reports, heartbeats: most requests a fleet makes) is
# not API use either: it is timed into Prometheus, not written row by row.
WORKER_ROUTES = "/api/v1/worker/"
WORKER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def worker_request_seconds(registry: CollectorRegistry) -> Histogram:
    """The worker routes' latency by route (lease, report, heartbeat, ended) and status."""
    return Histogram(
        "smsfleet_worker_request_seconds",
        "Time the control plane took to answer a session's worker request",
        ["route", "status"],
        buckets=WORKER_BUCKETS,
        registry=registry,
    )


class RequestLog:
    def __init__(
        self, store: UsageStore, clock: Clock, *, retention: timedelta = timedelta(days=7)
    ) -> None:
        self._store = store
        self._clock = clock
        # Raw requests (anonymous 401s and 429s too) are kept this long, purged hourly.
        self._retention = retention
        self._purged_at: datetime | None = None
        self._queue: deque[LoggedRequest] = deque(maxlen=MAX_QUEUED)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()

    def record(self, request: LoggedRequest) -> None:
        self._queue.append(request)  # thread-safe, and never blocks the request

    def now(self) -> datetime:
        return self._clock.now()

    def flush(self) -> int:
        """Write what is queued; return how many. Safe to call from any thread."""
        with self._flush_lock:
            batch: list[LoggedRequest] = []
            while self._queue and len(batch) < 10_000:
                batch.append(self._queue.popleft())
            if not batch:
                return 0
            try:
                self._store.add(batch)
            except Exception:
                self._queue.extendleft(reversed(batch))  # kept for the next try
                raise
            return len(batch)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="smsfleet-request-log", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                while self.flush():
                    pass
                self.purge_due()
            except Exception:
                log.exception("writing the request log failed; retrying")

    def purge_due(self) -> int:
        """Purge raw requests past their retention, at most once an hour."""
        now = self._clock.now()
        if self._purged_at is not None and now < self._purged_at + PURGE_EVERY:
            return 0
        purged = self._store.purge(before=now - self._retention)
        self._purged_at = now
        return purged

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            while self.flush():
                pass
        except Exception:
            log.exception("the last requests could not be logged")


class RequestRecorder:
    """Hands each finished HTTP request, with its route template and who made it, to the
    log (`request.state.principal` is set by authentication); worker requests are timed
    into `worker_seconds` instead. Called by the HTTP edge (smsfleet.edge)."""

    def __init__(
        self, *, request_log: Callable[[], RequestLog | None], worker_seconds: Histogram
    ) -> None:
        self._request_log = request_log
        self._worker_seconds = worker_seconds

    def __call__(self, scope: Scope, status: int, started: float) -> None:
        route = getattr(scope.get("route"), "path", None)
        if route is None or route in NOT_LOGGED:
            return
        if route.startswith(WORKER_ROUTES):
            name = route.removeprefix(WORKER_ROUTES)
            seconds = time.perf_counter() - started
            self._worker_seconds.labels(route=name, status=str(status)).observe(seconds)
            return
        request_log = self._request_log()
        if request_log is None:
            return
        # `user:<name>`, `key:<id>:<owner>`, or nothing when authentication failed; and
        # when the owner's account was made (`owner_since`): which account of the name.
        state = scope.get("state", {})
        principal = str(state.get("principal", "anonymous:"))
        since = state.get("owner_since")
        kind, _, who = principal.partition(":")
        key_id, _, owner = who.partition(":") if kind == "key" else ("", "", who)
        request_log.record(
            LoggedRequest(
                at=request_log.now(),
                owner=owner,
                key_id=key_id,
                method=scope["method"],
                route=route,
                status=status,
                latency_ms=(time.perf_counter() - started) * 1000,
                owner_since=since if isinstance(since, datetime) else None,
            )
        )
