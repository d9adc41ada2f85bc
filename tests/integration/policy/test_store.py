"""The policy store on SQLite and MariaDB: windows over attempts, decisions and filters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from smsfleet.dispatch.models import Attempt, Outcome
from smsfleet.dispatch.store import AttemptStore
from smsfleet.policy.models import DecisionQuery, PolicyAction, PolicyDecision
from smsfleet.policy.stats import Window, WindowStats
from smsfleet.policy.store import PolicyStore

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WINDOW = Window(span=timedelta(minutes=30), max_attempts=10)


def attempt(number: int, pair: str, outcome: Outcome | None, completed: datetime) -> Attempt:
    country, slug = pair.split("_", 1)
    return Attempt(
        id=f"{number:032x}",
        session=f"program1_{pair}",
        pair=pair,
        country=country,
        operator=slug,
        program="program1",
        phone="+998901234567",
        leased_at=completed - timedelta(seconds=5),
        completed_at=completed if outcome else None,
        outcome=outcome,
    )


def feed(engine: Engine, rows: Sequence[tuple[str, Outcome | None, timedelta]]) -> None:
    AttemptStore(engine).add_many(
        [attempt(n, pair, outcome, NOW - ago) for n, (pair, outcome, ago) in enumerate(rows)]
    )


def test_a_window_is_bounded_by_time_and_by_count(metrics_engine: Engine) -> None:
    store = PolicyStore(metrics_engine)
    ok, bad = Outcome.delivered, Outcome.not_delivered
    feed(
        metrics_engine,
        # UZ_a: 12 in the window, the newest 10 count (8 delivered), 3 too old, 1 open.
        [("UZ_a", ok, timedelta(minutes=m)) for m in range(1, 9)]
        + [("UZ_a", bad, timedelta(minutes=m)) for m in (9, 10, 11, 12)]
        + [("UZ_a", ok, timedelta(minutes=m)) for m in (31, 40, 50)]
        + [("UZ_a", None, timedelta(seconds=1))]
        # UZ_b: every failure kind counts as completed but not delivered.
        + [("UZ_b", o, timedelta(minutes=1)) for o in Outcome]
        # KZ_c: completed after `now` (a later attempt than the clock): not counted.
        + [("KZ_c", ok, -timedelta(minutes=1))],
    )
    stats = store.window_stats(window=WINDOW, now=NOW)
    assert stats == {"UZ_a": WindowStats(10, 8), "UZ_b": WindowStats(4, 1)}
    # UZ's newest 10: the five of the last minute (2 delivered) and UZ_a's next five.
    assert store.window_stats(window=WINDOW, now=NOW, by="country") == {"UZ": WindowStats(10, 7)}
    assert store.window_stats(window=WINDOW, now=NOW, keys=["UZ_b"]) == {"UZ_b": WindowStats(4, 1)}
    assert store.window_stats(window=WINDOW, now=NOW, keys=[]) == {}
    # A later start (a state change 5.5 minutes ago) leaves the 5 newest.
    since = store.window_stats(
        window=WINDOW, now=NOW, keys=["UZ_a"], since=NOW - timedelta(minutes=5, seconds=30)
    )
    assert since == {"UZ_a": WindowStats(5, 5)}


def decision(number: int, pair: str, action: PolicyAction, at: datetime) -> PolicyDecision:
    return PolicyDecision(
        id=f"{number:032x}",
        at=at,
        pair=pair,
        country=pair[:2],
        action=action,
        reason=f"{pair} {action.value}: because",
        lower_bound=0.4123456789,
        success_ratio=None if action is PolicyAction.probing else 0.55,
        samples=40,
        delivered=22,
        pause_threshold=0.5,
        resume_threshold=0.7,
        window="last 30 min, at most 50 attempts",
    )


def test_decisions_are_kept_with_their_figures_and_filtered(metrics_engine: Engine) -> None:
    store = PolicyStore(metrics_engine)
    made = [
        decision(1, "UZ_a", PolicyAction.paused, NOW - timedelta(minutes=20)),
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
