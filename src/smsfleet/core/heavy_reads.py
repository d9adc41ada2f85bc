"""Heavy reads' own threads, and how many of them one user may have under way.

A metrics read over a long window (a 30-day heatmap, a trend by pair) takes tens of
milliseconds of CPU. On the thread pool every sync route shares, a flood of them took
every thread and, through the GIL, starved the programs' leases of CPU. Here at most
`threads` of them run at once, whoever asks, and the rest wait their turn in order; one
user may have at most `per_user` waiting or running, past which one more is refused for
a second. The answer is serialized in the same thread, off the event loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from smsfleet.core.errors import Throttled

__all__ = ["HeavyReads"]

T = TypeVar("T")


class HeavyReads:
    """Called from the event loop only, so the counts need no lock."""

    def __init__(self, *, threads: int, per_user: int) -> None:
        self.threads = CapacityLimiter(threads)  # the reads' own, apart from the shared pool
        self._per_user = per_user
        self._under_way: Counter[str] = Counter()

    async def run(self, user: str, read: Callable[[], T]) -> T:
        """`read()` in one of the heavy reads' threads, for `user`; `Throttled` when
        `user` has `per_user` reads waiting or running already."""
        if self._under_way[user] >= self._per_user:
            raise Throttled(
                f"{self._per_user} metrics reads of yours are under way already:"
                " try again when one is answered",
                retry_after=1,
            )
        self._under_way[user] += 1
        try:
            return await anyio.to_thread.run_sync(read, limiter=self.threads)
        finally:
            self._under_way[user] -= 1
            if not self._under_way[user]:
                del self._under_way[user]
