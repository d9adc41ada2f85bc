"""Heavy reads: a few threads for everyone, a few reads under way per user."""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import pytest

from smsfleet.core.errors import Throttled
from smsfleet.core.heavy_reads import HeavyReads

WAIT = 5.0


async def answered(reads: HeavyReads, user: str, read: Callable[[], str]) -> str:
    """A read of `user`'s, its place released once answered (as a sent answer does)."""
    place = reads.admit(user)
    answer = await reads.run(place, read)
    place.release()
    return answer


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
            answers.append(await answered(reads, user, held.read))

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
            answers.append((user, await answered(reads, user, held.read)))

        async with anyio.create_task_group() as group:
            group.start_soon(one, "ann")  # running
            group.start_soon(one, "ann")  # waiting: ann's second
            await anyio.sleep(0.1)
            with pytest.raises(
                Throttled,
                match=r"2 heavy reads of yours \(metrics, templates, the policy's standing\)",
            ) as refused:
                await answered(reads, "ann", held.read)
            assert refused.value.retry_after == 1
            group.start_soon(one, "bob")  # another user waits in turn
            await anyio.sleep(0.1)
            held.release.set()
        # Answered, ann's places are hers again.
        assert await answered(reads, "ann", lambda: "again") == "again"

    anyio.run(main)
    assert sorted(answers) == [("ann", "answer"), ("ann", "answer"), ("bob", "answer")]


def test_a_failed_read_gives_its_place_back() -> None:
    reads = HeavyReads(threads=1, per_user=1)

    def broken() -> str:
        raise ValueError("no such window")

    async def main() -> None:
        with pytest.raises(ValueError, match="no such window"):
            await reads.run(reads.admit("ann"), broken)
        assert reads.under_way("ann") == 0
        assert await answered(reads, "ann", lambda: "answer") == "answer"

    anyio.run(main)


def test_the_threads_go_round_the_users_who_wait() -> None:
    """One user's flood puts one read ahead of another user's, not all of theirs."""
    reads = HeavyReads(threads=1, per_user=10)
    held = Held()
    order: list[str] = []

    def read_of(name: str) -> Callable[[], str]:
        def read() -> str:
            order.append(name)
            return held.read() if name == "ann-0" else name

        return read

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(answered, reads, "ann", read_of("ann-0"))  # the only thread
            with anyio.fail_after(WAIT):
                while held.started < 1:
                    await anyio.sleep(0.01)
            for n in range(1, 5):  # ann's flood, then bob's one read
                group.start_soon(answered, reads, "ann", read_of(f"ann-{n}"))
                await anyio.sleep(0.01)
            group.start_soon(answered, reads, "bob", read_of("bob"))
            await anyio.sleep(0.1)
            held.release.set()

    anyio.run(main)
    assert order == ["ann-0", "ann-1", "bob", "ann-2", "ann-3", "ann-4"]


def test_a_place_is_held_until_released_and_released_once() -> None:
    reads = HeavyReads(threads=1, per_user=1)

    async def main() -> None:
        place = reads.admit("ann")
        assert await reads.run(place, lambda: "answer") == "answer"
        # Answered but not sent yet: the place is still held.
        with pytest.raises(Throttled):
            reads.admit("ann")
        place.release()
        place.release()  # a second release frees nothing more
        assert reads.under_way("ann") == 0
        again = reads.admit("ann")
        with pytest.raises(Throttled):
            reads.admit("ann")
        again.release()

    anyio.run(main)
