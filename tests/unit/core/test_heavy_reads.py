"""Heavy reads: a few threads for everyone, a few reads under way per user."""

from __future__ import annotations

import threading

import anyio
import pytest

from smsfleet.core.errors import Throttled
from smsfleet.core.heavy_reads import HeavyReads

WAIT = 5.0


class Held:
    """Reads that start, say so, and end when let go."""

    def __init__(self) -> None:
        self.started = 0
        self._lock = threading.Lock()
        self.release = threading.Event()

    def read(self) -> str:
        with self._lock:
            self.started += 1
        assert self.release.wait(WAIT), "the test never let the read go"
        return "answer"


def test_at_most_threads_reads_run_at_once_and_the_others_wait_in_turn() -> None:
    reads = HeavyReads(threads=2, per_user=10)
    held = Held()
    answers: list[str] = []

    async def main() -> None:
        async def one(user: str) -> None:
            answers.append(await reads.run(user, held.read))

        async with anyio.create_task_group() as group:
            for user in ("ann", "bob", "cid", "dan"):
                group.start_soon(one, user)
            with anyio.fail_after(WAIT):
                while held.started < 2:
                    await anyio.sleep(0.01)
            await anyio.sleep(0.2)
            assert held.started == 2, "more reads ran than the heavy reads' threads"
            held.release.set()

    anyio.run(main)
    assert (held.started, answers) == (4, ["answer"] * 4)


def test_a_user_past_their_reads_is_refused_while_another_user_is_served() -> None:
    reads = HeavyReads(threads=1, per_user=2)
    held = Held()
    answers: list[tuple[str, str]] = []

    async def main() -> None:
        async def one(user: str) -> None:
            answers.append((user, await reads.run(user, held.read)))

        async with anyio.create_task_group() as group:
            group.start_soon(one, "ann")  # running
            group.start_soon(one, "ann")  # waiting: ann's second
            await anyio.sleep(0.1)
            with pytest.raises(Throttled, match="2 metrics reads of yours") as refused:
                await reads.run("ann", held.read)
            assert refused.value.retry_after == 1
            group.start_soon(one, "bob")  # another user waits in turn
            await anyio.sleep(0.1)
            held.release.set()
        # Answered, ann's places are hers again.
        assert await reads.run("ann", lambda: "again") == "again"

    anyio.run(main)
    assert sorted(answers) == [("ann", "answer"), ("ann", "answer"), ("bob", "answer")]


def test_a_failed_read_gives_its_place_back() -> None:
    reads = HeavyReads(threads=1, per_user=1)

    def broken() -> str:
        raise ValueError("no such window")

    async def main() -> None:
        with pytest.raises(ValueError, match="no such window"):
            await reads.run("ann", broken)
        assert await reads.run("ann", lambda: "answer") == "answer"

    anyio.run(main)
