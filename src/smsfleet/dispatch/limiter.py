"""The per-country limiter: its contract and the decision both backends make.

For each country, at most `cap` grants in any sliding window of `window_ms` (61.5 s: the
cap's minute and a second and a half, so that sends made a moment after their grants keep
to the cap in the gateway's own minute), shared by every pair, program and host of the
country, paced on a schedule of slots `61.5/cap` s apart (a steady pace, never a burst). A grant
takes the next slot; it may come up to a tolerance (half a spacing, at most
`slot_tolerance_ms`) before the slot's time, so an asker that comes back a little late,
as every request over a network does, keeps the schedule instead of pushing it back:
with steady demand the country gets its whole cap. A grant given late takes the slot it
was late for, up to half the tolerance back (`catch_up_ms`), so the lateness is made up
by the next slots rather than lost. Two grants are thus at least `min_gap_ms` (a spacing
less one and a half tolerances) apart, and the sliding-window count is checked on real
grant times.

Waiting askers line up by share: first (grants-in-window + 1) ÷ weight of
their pair, then of their program within the pair, then the longest wait. A
program's share is scaled to its pair (times the pair's programs asking), so that
between pairs with as many grants the one with more programs is not ahead: its
programs each have fewer grants, and a pair run by one program beside pairs run by
three would lose every tie to them. A
waiting asker counts while it came back when it was told to (within `grace_ms`),
so a program that died or paused stops holding slots a couple of seconds after it
was due back. A free slot goes to the first in line among those due by now. A
loser is not sent back for the very next slot but for its place in the line, less
`early_turns` slots to spare: without that, every waiting program of a country
would ask again at every slot, a herd that costs a request (and, in SQL, a
serialised transaction) per program per slot. An asker is kept while it asked
within `active_ms` or is not yet past its due time and the grace.

Times are integer milliseconds since the epoch: exact in SQL, in Python and in
Redis' Lua doubles alike, so both backends decide identically.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = [
    "LIMITER_WINDOW",
    "Ask",
    "Decision",
    "Limiter",
    "LimiterPolicy",
    "LimiterUnavailable",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


# How long a grant holds its place in a country's count (`LimiterPolicy.window_ms`): the
# minute, half a second for its program to be ready to send (`send_within_ms`), and a
# second for the send to reach the gateway: a fresh connection on a busy host took 0.6 s
# (in a 1 s margin, 1.1 s after the grant made 11 in the gateway's minute).
LIMITER_WINDOW = timedelta(milliseconds=61_500)


class LimiterUnavailable(RuntimeError):
    """The limiter's store cannot be reached: no decision, so no grant (fail closed)."""


@dataclass(frozen=True)
class LimiterPolicy:
    # The cap is per minute, and a grant holds its place a second and a half longer: a
    # program sends a moment after its grant, and the gateway's own minute, counted from
    # the sends, must not see one more than the cap when one send left later than the next.
    window_ms: int = LIMITER_WINDOW // timedelta(milliseconds=1)
    # How soon after its grant an SMS must leave, or not at all; the rest of the window's
    # time past the minute is for the send's way to the gateway.
    send_within_ms: int = 500
    # An asker stays a contender this long after its last ask …
    active_ms: int = 15_000
    # … and only until this long after the time it was told to come back.
    grace_ms: int = 2_000
    # How early a grant may take its slot (capped at half the spacing).
    slot_tolerance_ms: int = 500
    # A waiting asker comes back this many slots before its place in line.
    early_turns: int = 2

    @property
    def send_within_seconds(self) -> float:
        """How soon after its grant an SMS must leave, or not at all. Sends that leave as
        late after their grants, or less, and reach the gateway within the rest of the
        window's time past the minute, keep to the cap in the gateway's own minute."""
        return self.send_within_ms / 1000


@dataclass(frozen=True)
class Ask:
    """One program of one pair asking to send one SMS in `country`."""

    country: str
    pair: str
    program: str
    cap: int
    pair_weight: float = 1.0
    program_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.cap < 1:
            raise ValueError("cap must be at least 1")
        if self.pair_weight <= 0 or self.program_weight <= 0:
            raise ValueError("weights must be positive")
        if "|" in self.pair or "|" in self.program:
            raise ValueError("pair and program must not contain '|'")


@dataclass(frozen=True)
class Decision:
    granted: bool
    retry_after: float
    """Seconds until asking again is worth it (0 when granted)."""
    at: datetime
    """The time the decision was taken (the grant time when granted)."""


class Limiter(Protocol):
    def acquire(self, ask: Ask) -> Decision:
        """Grant one send now, or say how long to wait."""
        ...

    def withdraw(self, *, country: str, pair: str, program: str | None = None) -> None:
        """Forget the pending asks of a pair (or one of its programs): it stopped asking."""
        ...

    def close(self) -> None: ...


def to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def spacing_ms(cap: int, window_ms: int) -> int:
    return math.ceil(window_ms / cap)


def tolerance_ms(cap: int, policy: LimiterPolicy) -> int:
    """How long before its slot's time a grant may be given."""
    return min(spacing_ms(cap, policy.window_ms) // 2, policy.slot_tolerance_ms)


def catch_up_ms(cap: int, policy: LimiterPolicy) -> int:
    """How far back a late grant's slot may be: its lateness up to this is made up."""
    return tolerance_ms(cap, policy) // 2


def min_gap_ms(cap: int, policy: LimiterPolicy) -> int:
    """The least time between two grants of a country."""
    return spacing_ms(cap, policy.window_ms) - tolerance_ms(cap, policy) - catch_up_ms(cap, policy)


def is_active(asker: AskerState, now: int, policy: LimiterPolicy) -> bool:
    """Asked lately, or told to come back and not yet past the grace.

    A wait can be longer than `active_ms` (61.5/cap s at a low cap): the asker keeps
    its place until it was due back, else every return would start a fresh wait.
    """
    return asker.last_ask > now - policy.active_ms or asker.due + policy.grace_ms >= now


def asker_key(pair: str, program: str) -> str:
    return f"{pair}|{program}"


@dataclass
class AskerState:
    pair: str
    program: str
    last_ask: int
    waiting_since: int | None
    due: int
    pair_weight: float
    program_weight: float


@dataclass(frozen=True)
class Grant:
    at: int
    pair: str
    program: str


@dataclass
class Schedule:
    """What a decision reads and updates besides the window's grants."""

    last_slot: int | None
    """The slot the latest grant took: its time, up to the tolerance after it (early)
    or up to the catch-up before it (late)."""
    askers: dict[str, AskerState] = field(default_factory=dict)


@dataclass
class CountryState(Schedule):
    """A country's whole state, kept in memory by the reference `decide`."""

    grants: list[Grant] = field(default_factory=list)
    """The grants in the window, oldest first."""


@dataclass(frozen=True)
class Window:
    """What a decision needs of a country's grants in the sliding window."""

    count: int
    freeing: int | None
    """The time of the grant `cap` places from the newest, when there are that many:
    the window frees when it leaves."""
    pair_counts: Mapping[str, int]
    program_counts: Mapping[str, int]
    """By asker key (`pair|program`)."""

    @classmethod
    def of(cls, grants: Sequence[Grant], cap: int) -> Window:
        """From the grants in the window, oldest first."""
        count = len(grants)
        return cls(
            count=count,
            freeing=grants[count - cap].at if count >= cap else None,
            pair_counts=Counter(grant.pair for grant in grants),
            program_counts=Counter(asker_key(grant.pair, grant.program) for grant in grants),
        )


@dataclass(frozen=True)
class Verdict:
    granted: bool
    wait_ms: int
    asker: AskerState


@dataclass(frozen=True)
class Pace:
    slot: int
    """The slot the next grant takes."""
    opens: int
    """When it may be given: the slot less the tolerance, or later when the window is full."""


def pace(
    *, last_slot: int | None, window: Window, cap: int, now: int, policy: LimiterPolicy
) -> Pace:
    """The next slot, from the latest slot and the window's grants."""
    spacing = spacing_ms(cap, policy.window_ms)
    slot = now if last_slot is None else max(now - catch_up_ms(cap, policy), last_slot + spacing)
    opens = slot - tolerance_ms(cap, policy)
    if window.count >= cap and window.freeing is not None:
        opens = max(opens, window.freeing + policy.window_ms)
    return Pace(slot=slot, opens=opens)


def asking(previous: AskerState | None, ask: Ask, now: int, policy: LimiterPolicy) -> AskerState:
    """The asker's state as it asks now: it keeps its place if it was waiting."""
    since = now
    if (
        previous is not None
        and previous.waiting_since is not None
        and is_active(previous, now, policy)
    ):
        since = previous.waiting_since
    return AskerState(
        pair=ask.pair,
        program=ask.program,
        last_ask=now,
        waiting_since=since,
        due=now,
        pair_weight=ask.pair_weight,
        program_weight=ask.program_weight,
    )


def wait_for(mine: AskerState, due: int, now: int) -> Verdict:
    mine.due = due
    return Verdict(granted=False, wait_ms=due - now, asker=mine)


def decide(state: CountryState, ask: Ask, now: int, policy: LimiterPolicy) -> Verdict:
    """Take one decision on the whole state in memory; updates `state` in place."""
    cutoff = now - policy.window_ms
    state.grants = sorted((g for g in state.grants if g.at > cutoff), key=lambda g: g.at)
    verdict = decide_in(Window.of(state.grants, ask.cap), state, ask, now, policy)
    if verdict.granted:
        state.grants.append(Grant(at=now, pair=ask.pair, program=ask.program))
    return verdict


def decide_in(
    window: Window, state: Schedule, ask: Ask, now: int, policy: LimiterPolicy
) -> Verdict:
    """Take one decision, given the window's grants.

    Updates the askers and the latest slot of `state`; the caller persists them and,
    when granted, records the grant.
    """
    state.askers = {
        key: asker for key, asker in state.askers.items() if is_active(asker, now, policy)
    }
    key = asker_key(ask.pair, ask.program)
    mine = asking(state.askers.get(key), ask, now, policy)
    state.askers[key] = mine

    next_slot = pace(last_slot=state.last_slot, window=window, cap=ask.cap, now=now, policy=policy)
    line = waiting_line(state.askers, window, now, policy)
    spacing = spacing_ms(ask.cap, policy.window_ms)
    tolerance = tolerance_ms(ask.cap, policy)

    def back_for_my_turn(winner: str | None) -> Verdict:
        # Slot 0 is the one being decided; the next ones follow a spacing apart.
        slot = next_slot.opens + tolerance
        turn = my_turn(state.askers, line, key, slot=slot, spacing=spacing, winner=winner)
        earliest = 0 if winner is None else 1
        back = max(earliest, turn - policy.early_turns)
        return wait_for(mine, slot - tolerance + back * spacing, now)

    if next_slot.opens > now:
        return back_for_my_turn(None)
    winner = next(name for name in line if state.askers[name].due <= now)
    if winner != key:
        # This slot is the winner's: come back for a later one.
        return back_for_my_turn(winner)
    state.last_slot = next_slot.slot
    mine.waiting_since = None
    return Verdict(granted=True, wait_ms=0, asker=mine)


def waiting_line(
    askers: Mapping[str, AskerState], window: Window, now: int, policy: LimiterPolicy
) -> list[str]:
    """The waiting askers' keys, lowest share first."""

    programs_of = Counter(asker.pair for asker in askers.values())

    def share(name: str) -> tuple[float, float, int, str]:
        asker = askers[name]
        assert asker.waiting_since is not None
        # The share it would have with this grant: with the share it has now, ties
        # would go to the longest wait, which favours the lighter weight.
        return (
            (window.pair_counts.get(asker.pair, 0) + 1) / asker.pair_weight,
            (window.program_counts.get(name, 0) + 1)
            / asker.program_weight
            * programs_of[asker.pair],
            asker.waiting_since,
            name,
        )

    waiting = [
        name
        for name, asker in askers.items()
        if asker.waiting_since is not None and now <= asker.due + policy.grace_ms
    ]
    return sorted(waiting, key=share)


def my_turn(
    askers: Mapping[str, AskerState],
    line: list[str],
    key: str,
    *,
    slot: int,
    spacing: int,
    winner: str | None,
) -> int:
    """The slot `key` can expect, counting from the one at `slot` (0, the winner's if any).

    Each asker ahead of it in line takes the first slot still free among those it is
    back in time for: one due back later does not hold an earlier slot.
    """
    taken = set() if winner is None else {0}
    for name in line:
        if name == key:
            break
        if name == winner:
            continue
        # The first slot at or after its due time: ceil((due - slot) / spacing).
        turn = max(0, -((slot - askers[name].due) // spacing))
        while turn in taken:
            turn += 1
        taken.add(turn)
    turn = 0
    while turn in taken:
        turn += 1
    return turn
