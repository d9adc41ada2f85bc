"""The policy's hysteresis, one row per situation: what `decide` does and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsfleet.core.errors import ConfigurationError
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.models import POLICY_ACTOR, EvidenceBound, PolicyAction
from smsfleet.policy.service import PolicyConfig, Verdict, decide
from smsfleet.policy.stats import Look, Window, WindowStats, split_z

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CONFIG = PolicyConfig(
    window=Window(span=timedelta(minutes=30), max_attempts=50),
    min_samples=20,
    pause_threshold=0.5,
    resume_threshold=0.7,
    cooldown=timedelta(minutes=2),
    cooldown_max=timedelta(minutes=30),
    probe_interval=timedelta(seconds=30),
    probe_samples=10,
    evaluation_interval=timedelta(seconds=30),
    z=1.96,
)
# Wilson 95 % intervals at n = 20: 20/20 → [0.839, 1], 17/20 → [0.640, 0.948],
# 10/20 → [0.299, 0.701], 8/20 → [0.219, 0.613], 4/20 → [0.081, 0.416].
GOOD, FAIR, BAD = WindowStats(20, 20), WindowStats(20, 17), WindowStats(20, 4)
HALF, FORTY = WindowStats(20, 10), WindowStats(20, 8)
FEW_BAD = WindowStats(19, 0)
# A good spell, then failures only: 35 of the newest 50 delivered, 5 of the newest 20.
GOOD_SPELL, TURNED_BAD = WindowStats(50, 35), WindowStats(20, 5)


def pair(
    state: PairState = PairState.enabled,
    *,
    actor: str = POLICY_ACTOR,
    changed_minutes_ago: float = 60,
    high: bool = False,
    **fields: Any,
) -> Pair:
    return Pair(
        key="UZ_a",
        country="UZ",
        operator="A",
        slug="a",
        is_high_priority=high,
        state=state,
        state_actor=actor,
        state_changed_at=NOW - timedelta(minutes=changed_minutes_ago),
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
        **fields,
    )


E, P, PR, D = PairState.enabled, PairState.paused, PairState.probing, PairState.disabled
A = PolicyAction


@pytest.mark.parametrize(
    ("subject", "stats", "held", "expected"),
    [
        # enabled, normal priority
        (pair(E), GOOD, False, None),
        (pair(E), FAIR, False, None),
        (pair(E), BAD, False, A.paused),
        (pair(E), FEW_BAD, False, None),  # under the minimum sample: no decision
        # not confidently under the line: a route at 50 % or 40 % of 20 may be a good one
        (pair(E), HALF, False, None),
        (pair(E), FORTY, False, None),
        (pair(E, pause_threshold=0.7), FORTY, False, A.paused),  # the pair's own threshold
        (pair(E, pause_threshold=0.7), FAIR, False, None),
        # enabled, high priority: never paused
        (pair(E, high=True), BAD, False, A.held),
        (pair(E, high=True), BAD, True, None),  # already held: said once
        (pair(E, high=True), FAIR, True, None),  # between the thresholds: still held
        (pair(E, high=True), GOOD, True, A.recovered),
        (pair(E, high=True), GOOD, False, None),
        (pair(E, high=True), HALF, False, None),
        # paused by the policy: cool-down, then probing
        (pair(P, changed_minutes_ago=1), GOOD, False, None),
        (pair(P, changed_minutes_ago=2), BAD, False, A.probing),
        (pair(P, changed_minutes_ago=1, high=True), BAD, False, A.resumed),
        # paused or disabled by a person: left alone
        (pair(P, actor="alice", changed_minutes_ago=600), GOOD, False, None),
        (pair(D, actor="alice"), BAD, False, None),
        # probing: resume above, pause again under, wait in between or on few samples
        (pair(PR), GOOD, False, A.resumed),
        (pair(PR), BAD, False, A.paused),
        (pair(PR), FAIR, False, None),
        (pair(PR), HALF, False, None),
        (pair(PR), WindowStats(5, 5), False, None),
        # probes decide on 10: 10 of 10 clear the 70 % line (lower bound 72.2 %), none
        # of 10 is under the 50 % one (upper bound 27.8 %); 9 probes decide nothing
        (pair(PR), WindowStats(10, 10), False, A.resumed),
        (pair(PR), WindowStats(10, 0), False, A.paused),
        (pair(PR), WindowStats(9, 9), False, None),
        (pair(PR), WindowStats(9, 0), False, None),
        (pair(PR), WindowStats(10, 9), False, None),
        # between the lines: probed on until 30 probes, then back when they deliver at or
        # over the resume line (22 of 30, 73 %: its lower bound 56 % is not over it), else
        # paused again
        (pair(PR), WindowStats(29, 14), False, None),
        (pair(PR), WindowStats(30, 14), False, A.paused),
        (pair(PR), WindowStats(29, 22), False, None),
        (pair(PR), WindowStats(30, 22), False, A.resumed),
        (pair(PR), WindowStats(30, 20), False, A.paused),
        (pair(PR, resume_threshold=0.6), FAIR, False, A.resumed),
        (pair(PR, high=True), BAD, False, A.resumed),
    ],
)
def test_decision_table(
    subject: Pair, stats: WindowStats, held: bool, expected: PolicyAction | None
) -> None:
    verdict = decide(pair=subject, stats=stats, held=held, now=NOW, config=CONFIG)
    assert verdict.action == expected
    assert verdict.reason  # what it does, or why nothing


@pytest.mark.parametrize(
    ("subject", "stats", "held", "expected", "bound"),
    [
        (pair(E), BAD, False, A.paused, EvidenceBound.upper_bound),
        # 8/20 against an own 70 % line: its upper bound (0.613) is below it
        (pair(E, pause_threshold=0.7), FORTY, False, A.paused, EvidenceBound.upper_bound),
        (pair(E, high=True), BAD, False, A.held, EvidenceBound.upper_bound),
        (pair(PR), BAD, False, A.paused, EvidenceBound.upper_bound),
        (pair(PR), GOOD, False, A.resumed, EvidenceBound.lower_bound),
        (pair(E, high=True), GOOD, True, A.recovered, EvidenceBound.lower_bound),
        # no figure decides these
        (pair(P, changed_minutes_ago=2), BAD, False, A.probing, None),
        (pair(PR, high=True), BAD, False, A.resumed, None),
    ],
)
def test_a_verdict_names_the_bound_it_was_taken_on(
    subject: Pair,
    stats: WindowStats,
    held: bool,
    expected: PolicyAction,
    bound: EvidenceBound | None,
) -> None:
    verdict = decide(pair=subject, stats=stats, held=held, now=NOW, config=CONFIG)
    assert (verdict.action, verdict.decided_on) == (expected, bound)


def test_reasons_carry_the_figures() -> None:
    verdict = decide(pair=pair(E), stats=BAD, held=False, now=NOW, config=CONFIG)
    assert verdict.reason == (
        "4 of 20 delivered (20 %) in the last 30 min: below the 50 % pause line "
        "with 95 % confidence; probed from 12:02:00 UTC, after a cool-down of 2 min"
    )
    probing = decide(pair=pair(PR), stats=GOOD, held=False, now=NOW, config=CONFIG)
    assert probing.reason == (
        "while probing, 20 of 20 probes delivered (100 %): above the 70 % "
        "resume line with 95 % confidence"
    )
    held = decide(pair=pair(E, high=True), stats=BAD, held=False, now=NOW, config=CONFIG)
    assert held.reason.startswith("high priority, so it keeps running: 4 of 20 delivered")


@pytest.mark.parametrize(
    ("subject", "stats", "newest", "held", "reason"),
    [
        (
            pair(E),
            GOOD,
            None,
            False,
            "20 of 20 delivered (100 %) in the last 30 min: over the 50 % pause line",
        ),
        # the newest attempts are said when they are the worse look
        (
            pair(E),
            GOOD_SPELL,
            TURNED_BAD,
            False,
            # 5 of 20 is confidently under 50 % at 95 % alone, not at 97.5 % (each of two)
            "5 of the newest 20 delivered (25 %) in the last 30 min: under the 50 % pause line,"
            " but too few attempts yet to be sure of it (95 % sure: the whole window and its"
            " newest 20 are each read at 97.5 %); more attempts decide",
        ),
        (
            pair(E),
            FEW_BAD,
            None,
            False,
            "19 completed attempts in the last 30 min: a decision needs 20",
        ),
        # on the line is not over it
        (
            pair(E),
            WindowStats(20, 10),
            None,
            False,
            "10 of 20 delivered (50 %) in the last 30 min: on the 50 % pause line",
        ),
        # a window started at a resume says so, rather than "0 in the last 30 min"
        (
            pair(E, changed_minutes_ago=3),
            WindowStats(1, 1),
            None,
            False,
            "1 completed attempt since it was enabled at 11:57:00 UTC: a decision needs 20",
        ),
        # a new pair's window starts when it was created, not at a change of state
        (
            pair(E, changed_minutes_ago=3).model_copy(
                update={"created_at": NOW - timedelta(minutes=3)}
            ),
            WindowStats(2, 2),
            None,
            False,
            "2 completed attempts since it was created at 11:57:00 UTC: a decision needs 20",
        ),
        (
            pair(E, high=True),
            FAIR,
            None,
            True,
            "held (high priority, so it keeps running): 17"
            " of 20 delivered (85 %) in the last 30 min: taken as failing until it is confidently"
            " above the 70 % line it recovers at",
        ),
        # two looks: the newest, better, recovers it as well as the window would
        (
            pair(E, high=True),
            WindowStats(50, 26),
            WindowStats(20, 17),
            True,
            "held (high priority, so it keeps running): 26 of the newest 50 delivered (52 %)"
            " in the last 30 min; 17 of the newest 20 delivered (85 %) in the last 30 min:"
            " taken as failing until either is confidently above the 70 % line it recovers at",
        ),
        (
            pair(P, changed_minutes_ago=1),
            GOOD,
            None,
            False,
            "in its cool-down of 2 min: probed from 12:01:00 UTC",
        ),
        (
            pair(P, actor="alice"),
            GOOD,
            None,
            False,
            "paused by alice: a person's pause is theirs to lift",
        ),
        (pair(D, actor="alice"), BAD, None, False, "disabled: the policy leaves it alone"),
        (
            pair(PR),
            WindowStats(4, 3),
            None,
            False,
            "probing: 4 of the 10 probes a decision needs have completed, 3 delivered",
        ),
        (
            pair(PR),
            WindowStats(1, 0),
            None,
            False,
            "probing: 1 of the 10 probes a decision needs has completed, 0 delivered",
        ),
        (
            pair(PR),
            WindowStats(10, 9),
            None,
            False,
            "probing: 9 of 10 probes delivered (90 %): neither confidently above the"
            " 70 % resume line nor below the 50 % pause line; resumed once confidently above"
            " the 70 % resume line, over all its probes or its newest 10, paused again once"
            " confidently below the 50 % pause line, else after 30 probes resumed if at or over"
            " the 70 % resume line, else paused again",
        ),
    ],
)
def test_a_pair_left_as_it_is_says_why(
    subject: Pair, stats: WindowStats, newest: WindowStats | None, held: bool, reason: str
) -> None:
    """What an operator asks of a route the policy leaves alone: why not now."""
    verdict = decide(pair=subject, stats=stats, newest=newest, held=held, now=NOW, config=CONFIG)
    assert (verdict.action, verdict.reason) == (None, reason)


def test_a_route_between_the_lines_is_paused_again_after_its_probes() -> None:
    verdict = decide(pair=pair(PR), stats=WindowStats(30, 14), held=False, now=NOW, config=CONFIG)
    assert (verdict.action, verdict.decided_on, verdict.cooldown) == (
        A.paused,
        None,  # no bound decided it: the probes it had
        timedelta(minutes=4),
    )
    assert verdict.reason == (
        "while probing, 14 of 30 probes delivered (47 %): neither confidently"
        " above the 70 % resume line nor below the 50 % pause line after 30 probes; paused"
        " again, probed from 12:04:00 UTC, after a cool-down of 4 min (each pause in a row"
        " doubles it, to at most 30 min)"
    )


def test_a_verdict_on_no_figure_carries_what_the_policy_reads_of_the_route() -> None:
    """A pair in its cool-down after a pause on its newest 20 (4 delivered) is shown with
    those, not with its whole window's 33 of 50: the figures beside its pause's reason."""
    whole, newest = WindowStats(50, 33), WindowStats(20, 4)
    for subject in (pair(P, changed_minutes_ago=1), pair(P, actor="alice")):
        verdict = decide(
            pair=subject, stats=whole, newest=newest, held=False, now=NOW, config=CONFIG
        )
        assert verdict.action is None and verdict.look is not None
        assert verdict.look.stats == newest, verdict.reason


def test_a_healthy_route_near_the_resume_line_is_back_after_its_probes() -> None:
    """A healed route delivering 85 % is rarely confidently over a 70 % line on 30 probes;
    at or over it, it is back rather than paused again for twice as long."""
    verdict = decide(pair=pair(PR), stats=WindowStats(30, 22), held=False, now=NOW, config=CONFIG)
    assert (verdict.action, verdict.decided_on, verdict.cooldown) == (A.resumed, None, None)
    assert verdict.look is not None and verdict.look.stats == WindowStats(30, 22)
    assert verdict.reason == (
        "while probing, 22 of 30 probes delivered (73 %) after 30 probes: at or"
        " over the 70 % resume line, if not confidently, and not below the 50 % pause line"
    )


def test_an_own_pause_threshold_above_the_default_resume_lifts_it() -> None:
    assert CONFIG.thresholds(pair(pause_threshold=0.8)) == (0.8, 0.8)
    assert CONFIG.thresholds(pair(resume_threshold=0.9)) == (0.5, 0.9)
    assert CONFIG.thresholds(pair()) == (0.5, 0.7)


def test_crossed_global_thresholds_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="RESUME_THRESHOLD"):
        PolicyConfig(**{**CONFIG.__dict__, "pause_threshold": 0.8, "resume_threshold": 0.6})


def test_a_pause_looks_at_the_newest_attempts_too() -> None:
    # The whole window alone says nothing: 35 of 50 may be a good route.
    assert decide(pair=pair(E), stats=GOOD_SPELL, held=False, now=NOW, config=CONFIG).action is None
    verdict = decide(
        pair=pair(E),
        stats=GOOD_SPELL,
        newest=WindowStats(20, 4),
        held=False,
        now=NOW,
        config=CONFIG,
    )
    assert verdict.action is A.paused
    assert verdict.reason == (
        "4 of the newest 20 delivered (20 %) in the last 30 min: below the 50 % pause line "
        "with 95 % confidence; probed from 12:02:00 UTC, after a cool-down of 2 min"
    )
    assert verdict.look == Look(CONFIG.newest_window, WindowStats(20, 4), split_z(CONFIG.z, 2))
    held = decide(
        pair=pair(E, high=True),
        stats=GOOD_SPELL,
        newest=WindowStats(20, 4),
        held=False,
        now=NOW,
        config=CONFIG,
    )
    assert held.action is A.held


def test_two_looks_keep_the_confidence_of_one() -> None:
    """Each look is read at 97.5 %: 5 of 20 (upper bound 50.06 % there, 46.9 % at 95 %) is
    not enough, nor is 18 of 50 (49.9 % at 95 %) once the newest are looked at too."""
    assert WindowStats(20, 5).upper_bound(CONFIG.z) < 0.5 < WindowStats(20, 5).upper_bound(2.2414)
    assert (
        decide(
            pair=pair(E), stats=GOOD_SPELL, newest=TURNED_BAD, held=False, now=NOW, config=CONFIG
        ).action
        is None
    )
    eighteen = WindowStats(50, 18)
    alone = decide(pair=pair(E), stats=eighteen, held=False, now=NOW, config=CONFIG)
    assert alone.action is A.paused
    assert (
        decide(
            pair=pair(E),
            stats=eighteen,
            newest=WindowStats(20, 8),
            held=False,
            now=NOW,
            config=CONFIG,
        ).action
        is None
    )


def test_a_route_that_heals_while_probed_resumes_once_its_newest_probes_deliver() -> None:
    """Its first probe went out before it healed and failed, and one of its later ones
    was a usual loss: its 22 probes and its newest 20 say nothing yet. A wrong resume
    costs little, so its newest 10 may show it alone, at the full confidence."""

    def healed(newest_probes: WindowStats | None, state: PairState = PR) -> Verdict:
        return decide(
            pair=pair(state),
            stats=WindowStats(22, 20),
            newest=WindowStats(20, 18),
            newest_probes=newest_probes,
            held=False,
            now=NOW,
            config=CONFIG,
        )

    assert healed(None).action is None
    ten = WindowStats(10, 10)
    verdict = healed(ten)
    assert verdict.action is A.resumed
    probes = replace(CONFIG.newest_probes_window, probes=True)
    assert verdict.look == Look(probes, ten, CONFIG.z)
    assert verdict.reason.startswith("while probing, 10 of the newest 10 probes delivered (100 %)")
    # One of the newest ten lost is not enough: 9 of 10 is not confidently over 70 %. The
    # reason says how its newest probes stand, as they may resume it.
    nine = healed(WindowStats(10, 9))
    assert nine.action is None
    assert nine.reason.startswith(
        "probing: 18 of the newest 20 probes delivered (90 %); 9 of the newest 10 probes"
        " delivered (90 %): neither confidently above"
    ), nine.reason
    # Never a pause on them: a pause again stays the whole window's and its newest 20's.
    assert healed(WindowStats(10, 0)).action is None
    # Nor is a running route decided on them: they are a probed pair's alone.
    assert healed(ten, state=E).action is None


def test_resuming_looks_at_the_newest_attempts_too() -> None:
    """A route that heals while probed: its first 6 probes failed, so the window's 26 say
    nothing yet, but its newest 20 all delivered."""
    healed = WindowStats(26, 20)
    assert decide(pair=pair(PR), stats=healed, held=False, now=NOW, config=CONFIG).action is None
    verdict = decide(pair=pair(PR), stats=healed, newest=GOOD, held=False, now=NOW, config=CONFIG)
    assert verdict.action is A.resumed
    probes = replace(CONFIG.newest_window, probes=True)  # a probed pair's, since probed
    assert verdict.look == Look(probes, GOOD, split_z(CONFIG.z, 2))
    assert verdict.reason.startswith("while probing, 20 of the newest 20 probes delivered (100 %)")
    # Read at 97.5 %: 18 of the newest 20 (lower bound 66.3 % there, 69.9 % at 95 %) is
    # not enough.
    assert WindowStats(20, 18).lower_bound(split_z(CONFIG.z, 2)) < 0.7
    assert (
        decide(
            pair=pair(PR),
            stats=healed,
            newest=WindowStats(20, 18),
            held=False,
            now=NOW,
            config=CONFIG,
        ).action
        is None
    )
    recovered = decide(
        pair=pair(E, high=True), stats=healed, newest=GOOD, held=True, now=NOW, config=CONFIG
    )
    assert recovered.action is A.recovered


def test_each_pause_in_a_row_doubles_the_cool_down_to_its_maximum() -> None:
    first = decide(pair=pair(E), stats=BAD, held=False, now=NOW, config=CONFIG)
    assert first.cooldown == timedelta(minutes=2)
    pauses: list[Verdict] = []
    last: timedelta | None = first.cooldown
    for _ in range(6):  # its probes still fail: paused again, and again
        again = decide(
            pair=pair(PR), stats=BAD, held=False, now=NOW, config=CONFIG, last_cooldown=last
        )
        assert again.action is A.paused
        pauses.append(again)
        last = again.cooldown
    minutes = [p.cooldown // timedelta(minutes=1) for p in pauses if p.cooldown]
    assert minutes == [4, 8, 16, 30, 30, 30]
    assert pauses[-1].reason == (
        "while probing, 4 of 20 probes delivered (20 %): below the 50 % pause "
        "line with 95 % confidence; paused again, probed from 12:30:00 UTC, after a "
        "cool-down of 30 min (each pause in a row doubles it, to at most 30 min)"
    )
    # A pause from running starts over at the configured cool-down, whatever came before.
    anew = decide(pair=pair(E), stats=BAD, held=False, now=NOW, config=CONFIG, last_cooldown=last)
    assert anew.cooldown == CONFIG.cooldown


@pytest.mark.parametrize(
    ("minutes_ago", "last_cooldown", "expected"),
    [
        (3, None, A.probing),  # none recorded: the configured cool-down
        (3, timedelta(minutes=4), None),
        (4, timedelta(minutes=4), A.probing),
        (29, timedelta(minutes=30), None),
    ],
)
def test_a_paused_route_waits_the_cool_down_of_its_pause(
    minutes_ago: float, last_cooldown: timedelta | None, expected: PolicyAction | None
) -> None:
    verdict = decide(
        pair=pair(P, changed_minutes_ago=minutes_ago),
        stats=BAD,
        held=False,
        now=NOW,
        config=CONFIG,
        last_cooldown=last_cooldown,
    )
    assert verdict.action == expected
    assert verdict.cooldown is None
    minutes = (last_cooldown or CONFIG.cooldown) // timedelta(minutes=1)
    assert verdict.reason.startswith(
        f"cool-down of {minutes} min over"
        if verdict.action is not None
        else f"in its cool-down of {minutes} min: probed from "
    )


def test_a_cool_down_above_its_maximum_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="COOLDOWN_MAX_SECONDS"):
        PolicyConfig(**{**CONFIG.__dict__, "cooldown_max": timedelta(minutes=1)})
