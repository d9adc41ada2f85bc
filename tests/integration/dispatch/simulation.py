"""A fleet of simulated programs asking one limiter, on a fake clock, and checks on the grants.

Each program asks, and when granted "sends" for `think_ms` before asking again;
when told to wait, it comes back exactly `retry_after` later, as the SDK does.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from smsfleet.core.clock import Clock
from smsfleet.dispatch.limiter import (
    Ask,
    CountryState,
    Decision,
    Limiter,
    LimiterPolicy,
    decide,
    from_ms,
    min_gap_ms,
    to_ms,
)
from tests.support.fakes import FakeClock

WINDOW_MS = 60_000
COUNTRY = "UZ"


class MemoryLimiter:
    """The shared decision on in-memory state: the reference every backend must match."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._states: dict[str, CountryState] = {}

    def acquire(self, ask: Ask) -> Decision:
        state = self._states.setdefault(ask.country, CountryState(last_slot=None, grants=[]))
        now = to_ms(self._clock.now())
        verdict = decide(state, ask, now, LimiterPolicy())
        return Decision(
            granted=verdict.granted, retry_after=verdict.wait_ms / 1000, at=from_ms(now)
        )

    def withdraw(self, *, country: str, pair: str, program: str | None = None) -> None:
        state = self._states.get(country)
        if state is not None:
            state.askers = {
                key: asker
                for key, asker in state.askers.items()
                if asker.pair != pair or program not in (None, asker.program)
            }

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Program:
    pair: str
    program: str
    pair_weight: float = 1.0
    start_ms: int = 0
    stop_ms: int | None = None
    """When its pair is paused: it stops asking and the service withdraws it."""
    late_ms: int = 0
    """How much later than it was told it comes back after a wait."""


@dataclass(frozen=True)
class GrantAt:
    at: int
    pair: str
    program: str


def run(
    limiter: Limiter,
    clock: FakeClock,
    programs: list[Program],
    *,
    cap: int,
    minutes: float,
    think_ms: int = 1_000,
) -> list[GrantAt]:
    """Drive the fleet for `minutes` of fake time; the grants, oldest first."""
    end = int(minutes * 60_000)
    start = to_ms(clock.start)
    queue = [(program.start_ms, index) for index, program in enumerate(programs)]
    heapq.heapify(queue)
    withdrawn: set[str] = set()
    grants: list[GrantAt] = []
    while queue:
        due, index = heapq.heappop(queue)
        program = programs[index]
        if due >= end:
            continue
        clock.set_elapsed(due)
        if program.stop_ms is not None and due >= program.stop_ms:
            if program.pair not in withdrawn:
                limiter.withdraw(country=COUNTRY, pair=program.pair)
                withdrawn.add(program.pair)
            continue
        decision = limiter.acquire(
            Ask(
                country=COUNTRY,
                pair=program.pair,
                program=program.program,
                cap=cap,
                pair_weight=program.pair_weight,
            )
        )
        if decision.granted:
            at = to_ms(decision.at) - start
            assert at == due
            grants.append(GrantAt(at, program.pair, program.program))
            heapq.heappush(queue, (due + think_ms, index))
        else:
            wait = round(decision.retry_after * 1000)
            assert wait > 0
            heapq.heappush(queue, (due + wait + program.late_ms, index))
    return grants


def max_in_any_window(times: list[int], window_ms: int = WINDOW_MS) -> int:
    """The most grants in any window [t, t + window): every window starting at a grant."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - window_ms:
            first += 1
        most = max(most, last - first + 1)
    return most


def min_gap(times: list[int]) -> int:
    ordered = sorted(times)
    return min(b - a for a, b in itertools.pairwise(ordered))


def windows(grants: list[GrantAt], *, start: int, end: int) -> Iterable[list[GrantAt]]:
    """The grants of every full 60-s window starting at a grant within [start, end - 60 s]."""
    for first in grants:
        if start <= first.at <= end - WINDOW_MS:
            yield [g for g in grants if first.at <= g.at < first.at + WINDOW_MS]


def worst_spread(
    grants: list[GrantAt], names: list[str], key: Callable[[GrantAt], str], *, start: int, end: int
) -> int:
    """The largest difference, in any full window, between the grants of `names`."""
    worst = 0
    for window in windows(grants, start=start, end=end):
        counts = Counter(key(g) for g in window)
        values = [counts.get(name, 0) for name in names]
        worst = max(worst, max(values) - min(values))
    return worst


def check_cap_and_spacing(grants: list[GrantAt], cap: int) -> None:
    times = [g.at for g in grants]
    assert max_in_any_window(times) <= cap
    assert min_gap(times) >= min_gap_ms(cap, LimiterPolicy())
