"""Heavy reads' own threads, taken in turn among users, and how many reads one user may
have under way.

A metrics read over a long window (a 30-day heatmap, a trend by pair) takes tens of
milliseconds of CPU. On the thread pool every sync route shares, a flood of them took
every thread and, through the GIL, starved the programs' leases of CPU. Here at most
`threads` of them run at once, whoever asks. Each user has at most one read waiting for a
thread, the rest of theirs queued behind it: so the threads go round the users who wait,
and one user's flood puts one read, not all of theirs, ahead of another user's. One user
may have at most `per_user` reads under way (`admit`): waiting, running, or their answer
still being sent (a reader that does not read holds its places); one more is refused for
a second. The answer is made in the same thread, off the event loop.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter, Lock

from smsfleet.core.errors import Throttled

__all__ = ["HeavyReads", "Place"]

T = TypeVar("T")


class Place:
    """One read of a user's under way, from `HeavyReads.admit` until `release` (once the
    answer is sent, or the read failed); releasing it again does nothing."""

    def __init__(self, reads: HeavyReads, user: str) -> None:
        self.user = user
        self._reads: HeavyReads | None = reads

    def release(self) -> None:
        reads, self._reads = self._reads, None
        if reads is not None:
            reads._release(self.user)


class HeavyReads:
    """Called from the event loop, but for a place freed by the collector (an answer never
    sent), which may run in any thread: the counts are kept under a lock."""

    def __init__(
        self,
        *,
        threads: int,
        per_user: int,
        named: str = "heavy reads of yours (metrics, templates, the policy's standing)",
    ) -> None:
        # What a refusal calls these reads.
        self._named = named
        # Taken in turn, at most one waiter of each user at a time (`_turns`).
        self.threads = CapacityLimiter(threads)
        # What the reads run on, apart from the shared pool; never waited for, as
        # `threads` lets no more than this many through.
        self._pool = CapacityLimiter(threads)
        self._per_user = per_user
        self._under_way: Counter[str] = Counter()
        self._turns: dict[str, Lock] = {}
        self._counting = threading.Lock()

    def under_way(self, user: str) -> int:
        return self._under_way[user]

    def admit(self, user: str) -> Place:
        """A place for one more read of `user`'s; `Throttled` when they have `per_user`
        under way already."""
        with self._counting:
            if self._under_way[user] >= self._per_user:
                raise Throttled(
                    f"{self._per_user} {self._named} are under way already: try again when"
                    " one is answered",
                    retry_after=1,
                )
            self._under_way[user] += 1
            self._turns.setdefault(user, Lock())
        return Place(self, user)

    async def run(self, place: Place, read: Callable[[], T]) -> T:
        """`read()` in one of the heavy reads' threads, in its user's turn. The place is
        the caller's to release; a failed read releases it."""
        holder = object()
        try:
            async with self._turns[place.user]:  # one read of theirs waits at a time
                await self.threads.acquire_on_behalf_of(holder)
            try:
                return await anyio.to_thread.run_sync(read, limiter=self._pool)
            finally:
                self.threads.release_on_behalf_of(holder)
        except BaseException:
            place.release()
            raise

    def _release(self, user: str) -> None:
        with self._counting:
            self._under_way[user] -= 1
            if not self._under_way[user]:
                del self._under_way[user]
                del self._turns[user]
