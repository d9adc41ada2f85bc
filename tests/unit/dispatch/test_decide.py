"""The shared decision and the small pure helpers of dispatch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from smsfleet.attempts.ledger import next_phone
from smsfleet.dispatch.limiter import (
    Ask,
    CountryState,
    LimiterPolicy,
    decide,
    from_ms,
    min_gap_ms,
    spacing_ms,
    to_ms,
)
from smsfleet.dispatch.models import ReportRequest

# Round figures: a cap of 10 is a grant every 6 s (the default holds a grant 61.5 s).
POLICY = LimiterPolicy(window_ms=60_000)
T0 = 1_767_614_400_000


def ask(pair: str = "UZ_a", program: str = "program1", **fields: float) -> Ask:
    cap = int(fields.pop("cap", 10))
    return Ask(country="UZ", pair=pair, program=program, cap=cap, **fields)


def test_time_round_trips_in_whole_milliseconds() -> None:
    moment = datetime(2026, 1, 5, 12, 0, 0, 123_000, tzinfo=UTC)
    assert from_ms(to_ms(moment)) == moment
    assert to_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1000


@pytest.mark.parametrize(("cap", "spacing"), [(10, 6000), (7, 8572), (600, 100), (60_000, 1)])
def test_spacing_never_lets_more_than_cap_in_a_window(cap: int, spacing: int) -> None:
    assert spacing_ms(cap, 60_000) == spacing
    assert cap * spacing >= 60_000


def test_the_lowest_share_wins_a_free_slot_and_others_wait_for_the_next() -> None:
    state = CountryState(last_slot=None, grants=[])
    assert decide(state, ask("UZ_a"), T0, POLICY).granted
    # b asks during the spacing and is told when the next slot opens (its time
    # less the tolerance, 500 ms at this cap).
    waiting = decide(state, ask("UZ_b"), T0 + 1000, POLICY)
    assert (waiting.granted, waiting.wait_ms) == (False, 4500)
    # At that slot a asks first, but b has fewer grants in the window.
    first = decide(state, ask("UZ_a"), T0 + 6000, POLICY)
    assert (first.granted, first.wait_ms) == (False, 5500)
    assert decide(state, ask("UZ_b"), T0 + 6000, POLICY).granted


def test_a_grant_may_come_early_by_the_tolerance_and_keeps_the_schedule() -> None:
    state = CountryState(last_slot=None, grants=[])
    assert decide(state, ask(), T0, POLICY).granted
    assert not decide(state, ask(), T0 + 5499, POLICY).granted
    # 500 ms early: granted, and the slot it takes is still T0 + 6 s …
    assert decide(state, ask(), T0 + 5500, POLICY).granted
    assert state.last_slot == T0 + 6000
    # … and a return 300 ms late takes the slot it was late for, less what is
    # beyond the catch-up (250 ms at this cap) …
    late = decide(state, ask(), T0 + 12_300, POLICY)
    assert late.granted
    assert state.last_slot == T0 + 12_050
    # … so the next slot opens 5.75 s after that late grant, not 6 s less the tolerance.
    assert not decide(state, ask(), T0 + 17_549, POLICY).granted
    assert decide(state, ask(), T0 + 17_550, POLICY).granted


def test_a_grant_late_by_no_more_than_the_catch_up_keeps_the_schedule_exactly() -> None:
    state = CountryState(last_slot=None, grants=[])
    assert decide(state, ask(), T0, POLICY).granted
    assert decide(state, ask(), T0 + 6_200, POLICY).granted
    assert state.last_slot == T0 + 6_000
    # The next slot is 12 s, open from 11.5 s: 5.3 s after the late grant, no less
    # than the least gap between two grants.
    assert min_gap_ms(10, POLICY) == 5_250
    assert decide(state, ask(), T0 + 11_500, POLICY).granted


def test_the_window_holds_the_cap_on_real_grant_times() -> None:
    state = CountryState(last_slot=None, grants=[])
    now, granted = T0, []
    while now < T0 + 120_000:
        if decide(state, ask(cap=2), now, POLICY).granted:
            granted.append(now)
        now += 100
    for index, at in enumerate(granted):
        assert sum(1 for other in granted[index:] if other < at + 60_000) <= 2


def test_an_asker_that_does_not_come_back_stops_holding_slots() -> None:
    state = CountryState(last_slot=None, grants=[])
    assert decide(state, ask("UZ_a"), T0, POLICY).granted
    assert not decide(state, ask("UZ_b"), T0 + 1000, POLICY).granted  # due at T0 + 5.5 s
    # b is owed the slot while within its grace …
    assert not decide(state, ask("UZ_a"), T0 + 5500 + POLICY.grace_ms, POLICY).granted
    # … and no longer after it.
    assert decide(state, ask("UZ_a"), T0 + 5501 + POLICY.grace_ms, POLICY).granted


def test_a_waiting_asker_comes_back_for_its_place_in_line_not_every_slot() -> None:
    state = CountryState(last_slot=None, grants=[])
    assert decide(state, ask("UZ_x"), T0, POLICY).granted
    # Seven pairs ask during the spacing, in this order; the slot opens at T0 + 5.5 s.
    backs = [
        decide(state, ask(f"UZ_{n}"), T0 + 100 * (n + 1), POLICY).wait_ms + T0 + 100 * (n + 1)
        for n in range(7)
    ]
    opens = T0 + 5500
    # The first three in line (the longest waits) come for the next slot; each one
    # after comes a slot later than the one before, early_turns (2) slots early.
    assert backs == [opens] * 3 + [opens + 6000 * k for k in range(1, 5)]


def test_a_fleet_that_comes_back_when_told_fills_every_slot_with_few_asks() -> None:
    # Eight pairs, each back exactly when told; a send takes 1 s.
    state = CountryState(last_slot=None, grants=[])
    due = {f"UZ_{n}": T0 + 10 * n for n in range(8)}
    grants: list[int] = []
    asks = 0
    while min(due.values()) < T0 + 300_000:
        pair, now = min(due.items(), key=lambda item: item[1])
        verdict = decide(state, ask(pair), now, POLICY)
        asks += 1
        if verdict.granted:
            grants.append(now)
            due[pair] = now + 1000
        else:
            due[pair] = now + verdict.wait_ms
    # Every slot is taken: 10 a minute …
    assert len(grants) == 50
    # … and each pair asks about four times per grant (back from a send, then
    # early_turns slots early, then at its slot), not once a slot (eight).
    assert asks <= (POLICY.early_turns + 2.5) * len(grants)


def test_a_slot_goes_to_the_first_in_line_who_is_due_by_now() -> None:
    state = CountryState(last_slot=None, grants=[])
    assert decide(state, ask("UZ_x"), T0, POLICY).granted
    for n in range(5):
        decide(state, ask(f"UZ_{n}"), T0 + 100 * (n + 1), POLICY)
    # UZ_4 is fifth in line, sent back for the third slot; it comes back at the
    # first one anyway. UZ_0 … UZ_2 are due then too and ahead of it: not its slot …
    early = decide(state, ask("UZ_4"), T0 + 5500, POLICY)
    assert not early.granted
    # … and with nobody ahead of it due by the slot after, it is.
    state.askers = {k: a for k, a in state.askers.items() if k == "UZ_4|program1"}
    assert decide(state, ask("UZ_4"), T0 + 5500 + early.wait_ms, POLICY).granted


def test_weights_decide_between_pairs_then_programs() -> None:
    state = CountryState(last_slot=None, grants=[])
    now = T0
    wins: list[str] = []
    askers = [ask("UZ_hp", "program1", pair_weight=2.0), ask("UZ_n", "program1")]
    for _ in range(9):
        verdicts = [(a, decide(state, a, now, POLICY)) for a in askers]
        wins += [a.pair for a, v in verdicts if v.granted]
        now += 6000
    assert wins.count("UZ_hp") == 6
    assert wins.count("UZ_n") == 3


def test_asks_are_checked() -> None:
    with pytest.raises(ValueError, match="cap"):
        ask(cap=0)
    with pytest.raises(ValueError, match="weights"):
        ask(pair_weight=0)
    with pytest.raises(ValueError, match=r"\|"):
        ask(pair="UZ|a")


def test_phone_rotation() -> None:
    numbers = ["+1", "+2", "+3"]
    assert next_phone(numbers, None) == "+1"
    assert next_phone(numbers, "+1") == "+2"
    assert next_phone(numbers, "+3") == "+1"
    assert next_phone(numbers, "+9") == "+1"  # the list changed since


def test_reports_take_aware_and_naive_times_as_utc() -> None:
    report = ReportRequest.model_validate(
        {
            "trigger_id": "a" * 32,
            "session": "program1_UZ_uzmobile",
            "outcome": "delivered",
            "sent_at": "2026-01-05T12:00:00",
            "delivered_at": "2026-01-05T13:00:01+01:00",
        }
    )
    assert report.sent_at == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert report.delivered_at == datetime(2026, 1, 5, 12, 0, 1, tzinfo=UTC)
    with pytest.raises(ValidationError):
        ReportRequest.model_validate(
            {"trigger_id": "A" * 32, "session": "program1_UZ_uzmobile", "outcome": "delivered"}
        )
