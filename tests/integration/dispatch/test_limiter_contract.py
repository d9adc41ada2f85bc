"""The limiter contract, unchanged on every backend (SQL on SQLite and MariaDB, Redis).

Minutes of fleet time on a fake clock: the cap holds in every sliding window,
grants are evenly spaced, demand above the cap is served at the cap, and the
share is fair between pairs (by weight) and between programs of a pair.
"""

from __future__ import annotations

from collections import Counter

from smsfleet.dispatch.limiter import Ask
from tests.integration.dispatch.simulation import (
    COUNTRY,
    WINDOW_MS,
    MemoryLimiter,
    Program,
    check_cap_and_spacing,
    run,
    worst_spread,
)
from tests.support.fakes import FakeClock
from tests.support.limiters import LimiterBackend

CAP = 10
MINUTE = 60_000


def test_cap_spacing_throughput_and_fair_share(limiter_backend: LimiterBackend) -> None:
    clock = FakeClock()
    limiter = limiter_backend.make(clock)
    pairs = ["UZ_beeline", "UZ_mobiuz", "UZ_ucell"]
    programs = [Program(pair, name) for pair in pairs for name in ("program1", "program2")]
    grants = run(limiter, clock, programs, cap=CAP, minutes=10)

    check_cap_and_spacing(grants, CAP)
    # Demand far above the cap: served at (at least 95 % of) the cap.
    assert len(grants) >= 0.95 * CAP * 10
    end = 10 * MINUTE
    assert worst_spread(grants, pairs, lambda g: g.pair, start=0, end=end) <= 1
    for pair in pairs:
        mine = [g for g in grants if g.pair == pair]
        spread = worst_spread(mine, ["program1", "program2"], lambda g: g.program, start=0, end=end)
        assert spread <= 1, pair
    totals = Counter(g.pair for g in grants)
    assert max(totals.values()) - min(totals.values()) <= 1


def test_high_priority_weight_is_honoured(limiter_backend: LimiterBackend) -> None:
    clock = FakeClock()
    limiter = limiter_backend.make(clock)
    programs = [
        Program("UZ_beeline", "program1", pair_weight=2.0),
        Program("UZ_beeline", "program2", pair_weight=2.0),
        Program("UZ_ucell", "program1"),
        Program("UZ_ucell", "program2"),
    ]
    grants = run(limiter, clock, programs, cap=CAP, minutes=6)

    check_cap_and_spacing(grants, CAP)
    high = sum(1 for g in grants if g.pair == "UZ_beeline")
    # Twice the share, within one grant per window.
    assert abs(high - 2 / 3 * len(grants)) <= 6
    for window_start in range(0, 5 * MINUTE + 1, MINUTE):
        window = [g for g in grants if window_start <= g.at < window_start + WINDOW_MS]
        high = sum(1 for g in window if g.pair == "UZ_beeline")
        assert abs(high - 2 / 3 * len(window)) <= 1.5


def test_a_pair_that_starts_later_gets_its_share(limiter_backend: LimiterBackend) -> None:
    clock = FakeClock()
    limiter = limiter_backend.make(clock)
    programs = [
        Program("UZ_beeline", "program1"),
        Program("UZ_ucell", "program1"),
        Program("UZ_mobiuz", "program1", start_ms=3 * MINUTE),
    ]
    grants = run(limiter, clock, programs, cap=CAP, minutes=7)

    check_cap_and_spacing(grants, CAP)
    before = Counter(g.pair for g in grants if g.at < 3 * MINUTE)
    assert before["UZ_mobiuz"] == 0
    assert abs(before["UZ_beeline"] - before["UZ_ucell"]) <= 1
    # The newcomer is served first until it has its share, then all three are even.
    first_late = min(g.at for g in grants if g.pair == "UZ_mobiuz")
    assert first_late - 3 * MINUTE <= 6_000
    pairs = ["UZ_beeline", "UZ_ucell", "UZ_mobiuz"]
    assert worst_spread(grants, pairs, lambda g: g.pair, start=4 * MINUTE, end=7 * MINUTE) <= 1
    assert len(grants) >= 0.95 * CAP * 7


def test_a_paused_pair_gets_nothing_and_holds_no_slot(limiter_backend: LimiterBackend) -> None:
    clock = FakeClock()
    limiter = limiter_backend.make(clock)
    programs = [
        Program("UZ_beeline", "program1"),
        Program("UZ_ucell", "program1", stop_ms=2 * MINUTE),
        Program("UZ_ucell", "program2", stop_ms=2 * MINUTE),
    ]
    grants = run(limiter, clock, programs, cap=CAP, minutes=5)

    check_cap_and_spacing(grants, CAP)
    assert not [g for g in grants if g.pair == "UZ_ucell" and g.at >= 2 * MINUTE]
    # The remaining pair gets the whole cap at once.
    after = [g for g in grants if g.at >= 2 * MINUTE]
    assert len(after) >= 0.95 * CAP * 3


def test_waits_point_at_the_next_slot(limiter_backend: LimiterBackend) -> None:
    clock = FakeClock()
    limiter = limiter_backend.make(clock)
    ask = Ask(country=COUNTRY, pair="UZ_beeline", program="program1", cap=CAP)
    assert limiter.acquire(ask).granted
    clock.advance(1.5)
    waiting = limiter.acquire(ask)
    assert not waiting.granted
    # A grant holds its place 61.5 s: the slot is 6.15 s after the first; it opens 0.5 s
    # (the tolerance) before.
    assert waiting.retry_after == 4.15
    clock.advance(4.149)
    assert not limiter.acquire(ask).granted
    clock.advance(0.001)
    assert limiter.acquire(ask).granted
    # Another country has its own cap.
    other = Ask(country="TJ", pair="TJ_megafon", program="program1", cap=1)
    assert limiter.acquire(other).granted
    clock.advance(61.499)
    assert limiter.acquire(other).retry_after == 0.001


def test_a_lower_cap_applies_to_the_grants_already_in_the_window(
    limiter_backend: LimiterBackend,
) -> None:
    clock = FakeClock()
    limiter = limiter_backend.make(clock)
    ask = Ask(country=COUNTRY, pair="UZ_beeline", program="program1", cap=60)
    for _ in range(5):
        assert limiter.acquire(ask).granted
        clock.advance(1)
    lowered = Ask(country=COUNTRY, pair="UZ_beeline", program="program1", cap=3)
    decision = limiter.acquire(lowered)
    assert not decision.granted
    # Three of the five must leave the window (61.5 s): the third one, granted at t=2 s.
    assert decision.retry_after == 58.5


def test_limiters_on_the_same_state_share_the_cap(limiter_backend: LimiterBackend) -> None:
    clock = FakeClock()
    first, second = limiter_backend.make(clock), limiter_backend.make(clock)
    ask_first = Ask(country=COUNTRY, pair="UZ_beeline", program="program1", cap=CAP)
    ask_second = Ask(country=COUNTRY, pair="UZ_ucell", program="program1", cap=CAP)
    assert first.acquire(ask_first).granted
    assert not second.acquire(ask_second).granted
    clock.advance(6)
    assert second.acquire(ask_second).granted
    assert not first.acquire(ask_first).granted


def test_every_backend_decides_as_the_reference(limiter_backend: LimiterBackend) -> None:
    """Same asks, same times: the same grants as the shared decision in memory.

    Enough programs that most waits send one back several slots on, for its place in
    line, which exercises the whole line on every backend; some come back late, within
    the catch-up and beyond it.
    """
    programs = [
        Program("UZ_beeline", "program1", pair_weight=2.0, late_ms=120),
        Program("UZ_beeline", "program2", pair_weight=2.0, late_ms=400),
        Program("UZ_ucell", "program1", late_ms=900),
        Program("UZ_ucell", "program2", stop_ms=2 * MINUTE),
        Program("UZ_mobiuz", "program3", start_ms=MINUTE + 500),
        *(Program(f"UZ_op{n}", f"program{g}") for n in range(3) for g in (1, 2, 3)),
    ]
    reference_clock = FakeClock()
    reference = run(MemoryLimiter(reference_clock), reference_clock, programs, cap=7, minutes=3)
    clock = FakeClock()
    assert run(limiter_backend.make(clock), clock, programs, cap=7, minutes=3) == reference


def test_a_pair_with_fewer_programs_than_the_others_gets_its_share(
    limiter_backend: LimiterBackend,
) -> None:
    """Pairs run by one program beside pairs run by three: between pairs with as many
    grants, the one with more programs is not ahead for its programs' fewer grants."""
    clock = FakeClock()
    limiter = limiter_backend.make(clock)
    programs = [
        Program(pair, program)
        for pair, names in (
            ("BE_op1", ("program1",)),
            ("BE_op2", ("program2",)),
            ("BE_op3", ("program1", "program2", "program6")),
            ("BE_op4", ("program1",)),
            ("BE_op5", ("program2",)),
            ("BE_op6", ("program1", "program2", "program6")),
        )
        for program in names
    ]
    grants = run(limiter, clock, programs, cap=CAP, minutes=10)

    check_cap_and_spacing(grants, CAP)
    totals = Counter(g.pair for g in grants)
    assert len(totals) == 6
    assert max(totals.values()) - min(totals.values()) <= 3, totals
    values = list(totals.values())
    jain = sum(values) ** 2 / (len(values) * sum(v * v for v in values))
    assert jain >= 0.99, totals
    # Within a pair of three programs, each still has its third.
    for pair in ("BE_op3", "BE_op6"):
        mine = Counter(g.program for g in grants if g.pair == pair)
        assert max(mine.values()) - min(mine.values()) <= 2, (pair, mine)
