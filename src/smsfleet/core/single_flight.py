"""One run of a costly function at a time, its result shared by every caller meanwhile.

A call while a run is under way waits for it and gets its result (or its error); a call
within `fresh_for` of the last run's end gets that run's result without running again.
So a loop of calls, or many at once, costs one run per `fresh_for` at most, per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from smsfleet.core.clock import Clock

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Runs shared between callers, timed by `clock`. A run that failed is not kept: the
    callers waiting for it get its error, the next call runs again. A clock set back
    keeps no result past its time: only a run that ended `fresh_for` ago or less is
    shared."""

    def __init__(self, *, clock: Clock, fresh_for: timedelta) -> None:
        self._clock = clock
        self._fresh_for = fresh_for
        self._lock = threading.Lock()
        self._running: Future[T] | None = None
        self._last: tuple[datetime, T] | None = None

    def run(self, work: Callable[[], T]) -> T:
        """`work`'s result: of the run under way, of the last one while fresh, or of a
        run made now."""
        with self._lock:
            if self._last is not None:
                ended, result = self._last
                if timedelta(0) <= self._clock.now() - ended <= self._fresh_for:
                    return result
            running = self._running
            if running is None:
                mine: Future[T] = Future()
                self._running = mine
        if running is not None:
            return running.result()
        try:
            result = work()
        except BaseException as error:
            with self._lock:
                self._running = None
            mine.set_exception(error)
            raise
        with self._lock:
            self._running = None
            self._last = (self._clock.now(), result)
        mine.set_result(result)
        return result
