"""Each session's worker requests, paced by a token bucket in this process.

A session may make `burst` requests at once and `rate` a second after that; beyond, its
requests are refused (429) before any store work, so one leaked token or runaway program
cannot take the control plane's time from everyone else. Sized far above what an honest
program makes (see `Settings.worker_requests_per_second`).

Per replica (and per uvicorn worker): no I/O and no lock, one dict step per request,
from the event loop only. Each bucket is kept as the moment it would be full again (the
"theoretical arrival time" of GCRA), one float; a bucket idle that long is full, so it is
forgotten and memory holds only the sessions heard from in the last `burst / rate`
seconds.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["SessionPace"]


class SessionPace:
    def __init__(self, *, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._interval = 1.0 / rate
        self._span = burst * self._interval  # an empty bucket's wait until it is full
        # A request is allowed while the bucket is full before this far into the future.
        self._tolerance = self._span - self._interval
        # Least recently asked first: idle buckets are forgotten from the front.
        self._full_at: OrderedDict[str, float] = OrderedDict()

    def take(self, key: str, now: float) -> float:
        """Spend one of `key`'s requests at `now` (seconds): 0 when allowed, else the
        seconds until one is (nothing is spent)."""
        full_at = self._full_at.get(key, now)
        # Never further ahead than an empty bucket: a clock set back costs one wait at
        # most, not the time it went back.
        full_at = min(max(full_at, now), now + self._span)
        wait = full_at - now - self._tolerance
        if wait <= 0:
            full_at += self._interval
            wait = 0.0
        self._full_at[key] = full_at
        self._full_at.move_to_end(key)
        self._forget_idle(now)
        return wait

    def __len__(self) -> int:
        return len(self._full_at)

    def _forget_idle(self, now: float) -> None:
        buckets = self._full_at
        while buckets:
            oldest = next(iter(buckets))
            if buckets[oldest] > now:
                return
            del buckets[oldest]
