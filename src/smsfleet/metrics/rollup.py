"""The background job: roll up completed minutes, purge raw attempts past retention."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from smsfleet.metrics.service import JobReport

__all__ = ["RollupJob"]

log = logging.getLogger("smsfleet.metrics")


class RollupJob:
    """Runs `run` every `interval` seconds in a daemon thread until closed.

    Every run is idempotent (it recomputes minutes from raw attempts), so several
    replicas running it at once only repeat work.
    """

    def __init__(self, run: Callable[[], JobReport]) -> None:
        self._run = run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_loop(self, interval: float) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="smsfleet-metrics-rollup", daemon=True
        )
        self._thread.start()

    def run_once(self) -> JobReport:
        return self._run()

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self._run()
            except Exception:  # a database hiccup must not end the loop
                log.exception("metrics rollup failed; retrying in %.0f s", interval)
            self._stop.wait(interval)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
