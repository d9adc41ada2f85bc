"""The policy store on SQLite and MariaDB: decisions and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from smsfleet.policy.models import DecisionQuery, EvidenceBound, PolicyAction, PolicyDecision
from smsfleet.policy.store import PolicyStore

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
BOUND_OF = {
    PolicyAction.paused: EvidenceBound.upper_bound,
    PolicyAction.held: EvidenceBound.upper_bound,
    PolicyAction.resumed: EvidenceBound.lower_bound,
}


def decision(
    number: int, pair: str, action: PolicyAction, at: datetime, cooldown: float | None = None
) -> PolicyDecision:
    if action is PolicyAction.probing:  # taken on no figures
        return PolicyDecision(
            id=f"{number:032x}",
            at=at,
            pair=pair,
            country=pair[:2],
            action=action,
            reason=f"{pair} {action.value}: its cool-down over",
            lower_bound=None,
            upper_bound=None,
            decided_on=None,
            success_ratio=None,
            samples=None,
            delivered=None,
            pause_threshold=0.5,
            resume_threshold=0.7,
            window=None,
        )
    return PolicyDecision(
        id=f"{number:032x}",
        at=at,
        pair=pair,
        country=pair[:2],
        action=action,
        reason=f"{pair} {action.value}: because",
        lower_bound=0.4123456789,
        upper_bound=0.6812345678,
        decided_on=BOUND_OF.get(action),
        success_ratio=0.55,
        samples=40,
        delivered=22,
        pause_threshold=0.5,
        resume_threshold=0.7,
        window="last 30 min, at most 50 attempts",
        cooldown_seconds=cooldown,
    )


def test_decisions_are_kept_with_their_figures_and_filtered(metrics_engine: Engine) -> None:
    store = PolicyStore(metrics_engine)
    made = [
        decision(1, "UZ_a", PolicyAction.paused, NOW - timedelta(minutes=20), 120.0),
        decision(2, "UZ_b", PolicyAction.held, NOW - timedelta(minutes=15)),
        decision(3, "UZ_a", PolicyAction.probing, NOW - timedelta(minutes=10)),
        decision(4, "KZ_c", PolicyAction.paused, NOW - timedelta(minutes=5)),
        decision(5, "UZ_a", PolicyAction.resumed, NOW),
    ]
    for item in made:
        store.add(item)
    assert store.decisions(DecisionQuery()) == made[::-1]
    assert store.decisions(DecisionQuery(pair="UZ_a")) == [made[4], made[2], made[0]]
    assert store.decisions(DecisionQuery(country="uz", limit=2)) == [made[4], made[2]]
    assert store.decisions(DecisionQuery(action=PolicyAction.paused)) == [made[3], made[0]]
    since = NOW - timedelta(minutes=10)
    assert store.decisions(DecisionQuery(since=since)) == made[:1:-1]
    assert store.decisions(DecisionQuery(pair="UZ_zz")) == []
    assert store.latest_actions(["UZ_a", "UZ_b", "UZ_zz"]) == {
        "UZ_a": PolicyAction.resumed,
        "UZ_b": PolicyAction.held,
    }
    assert store.latest_actions([]) == {}
    latest = store.latest_decisions(["UZ_a", "UZ_b", "UZ_zz"])
    assert latest == {"UZ_a": made[4], "UZ_b": made[1]}  # with their moments: `pairs ls`
    assert store.latest_decisions([]) == {}


def test_each_pairs_latest_pause_with_its_figures_and_cool_down(metrics_engine: Engine) -> None:
    store = PolicyStore(metrics_engine)
    minutes = iter(range(100))

    def add(pair: str, action: PolicyAction, cooldown: float | None = None) -> None:
        number = next(minutes)
        store.add(decision(number, pair, action, NOW + timedelta(minutes=number), cooldown))

    add("UZ_a", PolicyAction.paused, 120.0)
    add("UZ_a", PolicyAction.probing)
    add("UZ_a", PolicyAction.paused, 240.0)
    add("UZ_a", PolicyAction.probing)  # a later decision that is no pause
    add("UZ_b", PolicyAction.paused, 120.0)
    add("UZ_b", PolicyAction.paused)  # stored before pauses had one
    add("UZ_c", PolicyAction.held)
    pauses = store.latest_pauses(["UZ_a", "UZ_b", "UZ_c", "UZ_zz"])
    assert {pair: pause.id for pair, pause in pauses.items()} == {
        "UZ_a": f"{2:032x}",
        "UZ_b": f"{5:032x}",
    }
    assert (pauses["UZ_a"].samples, pauses["UZ_a"].cooldown_seconds) == (40, 240.0)
    assert pauses["UZ_b"].cooldown_seconds is None
    assert store.latest_pauses([]) == {}
