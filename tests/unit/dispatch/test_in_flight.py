"""Sizing a session's attempts in flight, and which test number the next attempt takes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smsfleet.attempts.ledger import next_phone
from smsfleet.dispatch.inflight import InFlightPolicy, allowance, capacity_per_minute

POLICY = InFlightPolicy()
PHONES = ["+1", "+2", "+3"]


@pytest.mark.parametrize(
    ("cycle", "sessions", "phones", "expected"),
    [
        # 10/min at a 30 s cycle needs 5 at once; with headroom 7.5, and room for the
        # count's swings (2 x sqrt 7.5), 13 for one session.
        (30.0, 1, 20, 13),
        (30.0, 2, 20, 8),
        # A fast route needs one at a time, and one for an SMS that is never delivered.
        (3.0, 4, 20, 2),
        # A test number awaits one code at a time.
        (30.0, 1, 2, 2),
        # Never more than the ceiling.
        (600.0, 1, 100, POLICY.ceiling),
    ],
)
def test_allowance(cycle: float, sessions: int, phones: int, expected: int) -> None:
    # `sessions` sessions of one pair each: the country's share is the pair's.
    got = allowance(
        cap_per_minute=10,
        cycle_seconds=cycle,
        sessions_in_country=sessions,
        pairs_in_country=sessions,
        sessions_in_pair=1,
        phones=phones,
        program="program1",
        policy=POLICY,
    )
    assert got == expected


def test_the_allowance_reaches_the_cap_when_test_numbers_allow() -> None:
    for cycle in (4.0, 12.0, 25.0, 40.0):
        for sessions in (1, 2, 3, 8):
            each = allowance(
                cap_per_minute=10,
                cycle_seconds=cycle,
                sessions_in_country=sessions,
                pairs_in_country=1,
                sessions_in_pair=sessions,
                phones=50,
                program="program1",
                policy=POLICY,
            )
            total = capacity_per_minute(in_flight=each * sessions, cycle_seconds=cycle)
            assert total >= 10 * POLICY.headroom, (cycle, sessions, each)


def test_a_pair_with_fewer_sessions_than_the_others_can_still_carry_its_share() -> None:
    """Six pairs share the cap equally: one run by one program beside pairs run by three
    has 10/6 a minute to carry on its one session, at its own (slow) cycle."""
    common = {"cap_per_minute": 10, "sessions_in_country": 10, "pairs_in_country": 6}
    for cycle in (12.0, 25.0, 40.0, 60.0):
        alone = allowance(
            cycle_seconds=cycle,
            sessions_in_pair=1,
            phones=50,
            program="program1",
            policy=POLICY,
            **common,
        )
        share = 10 / 6
        assert capacity_per_minute(in_flight=alone, cycle_seconds=cycle) >= share * POLICY.headroom
        # More than the country's cap spread evenly over its sessions would give it.
        spread = allowance(
            cycle_seconds=cycle,
            sessions_in_pair=3,
            phones=50,
            program="program1",
            policy=POLICY,
            **common,
        )
        assert alone > spread or alone == spread == 2, cycle


def test_a_program_that_cannot_send_in_parallel_gets_one() -> None:
    policy = InFlightPolicy(program_limits={"program2": 1}, default_cycle=timedelta(seconds=30))

    def allowed(program: str) -> int:
        return allowance(
            cap_per_minute=10,
            cycle_seconds=30.0,
            sessions_in_country=1,
            pairs_in_country=1,
            sessions_in_pair=1,
            phones=9,
            program=program,
            policy=policy,
        )

    assert allowed("program2") == 1
    assert allowed("program1") == 9


def test_next_phone_rotates_and_skips_numbers_awaiting_a_code() -> None:
    assert next_phone(PHONES, None) == "+1"
    assert next_phone(PHONES, "+1") == "+2"
    assert next_phone(PHONES, "+3") == "+1"
    assert next_phone(PHONES, "+1", busy=frozenset({"+2"})) == "+3"
    assert next_phone(PHONES, "+3", busy=frozenset({"+1", "+2"})) == "+3"
    # Two sessions raced for the last free number: the rotation's next, not a failure.
    assert next_phone(PHONES, "+1", busy=frozenset(PHONES)) == "+2"
