"""A background job: one function run every few seconds in a daemon thread until closed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["PeriodicJob"]

log = logging.getLogger("smsfleet.jobs")


class PeriodicJob:
    """Runs `run` every `interval` seconds (first at once, or after one interval).

    `should_run` gates each round: with replicas, jobs that decide (the policy, the
    alert rules) run on the supervising leader only. An exception is logged and the
    loop goes on: a database hiccup must not end it. `on_wait` is told how many seconds
    the loop waits before its next round each time it starts waiting (the first time
    before `start_loop` returns), and None once it stops.
    """

    def __init__(
        self,
        name: str,
        run: Callable[[], object],
        *,
        should_run: Callable[[], bool] = lambda: True,
        run_at_start: bool = True,
        on_wait: Callable[[float | None], None] = lambda seconds: None,
    ) -> None:
        self.name = name
        self._run = run
        self._should_run = should_run
        self._run_at_start = run_at_start
        self._on_wait = on_wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """Closed, or closing: a long round ends at its next step."""
        return self._stop.is_set()

    def run_once(self) -> object:
        return self._run()

    def start_loop(self, interval: float) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        if not self._run_at_start:
            self._on_wait(interval)
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name=f"smsfleet-{self.name}", daemon=True
        )
        self._thread.start()

    def _loop(self, interval: float) -> None:
        try:
            if not self._run_at_start and self._stop.wait(interval):
                return
            while not self._stop.is_set():
                if self._should_run():
                    try:
                        self._run()
                    except Exception:
                        log.exception("%s failed; retrying in %.0f s", self.name, interval)
                self._on_wait(interval)
                self._stop.wait(interval)
        finally:
            self._on_wait(None)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._on_wait(None)
