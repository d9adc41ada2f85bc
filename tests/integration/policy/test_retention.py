"""Policy decisions past the retention deleted in batches, on SQLite and MariaDB: a pair's
latest decision and its latest pause kept however old."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from smsfleet.core.retention import build_retention
from smsfleet.policy.models import DecisionQuery, PolicyAction
from smsfleet.policy.store import PolicyStore
from tests.integration.policy.test_store import NOW, decision
from tests.support.fakes import FakeClock
from tests.support.retention import batches

CUTOFF = NOW - timedelta(days=365)


def add_history(store: PolicyStore) -> None:
    """Pair A paused twice long ago, then probed and resumed, and once lately; pair B's
    every decision long ago, its last a probe after a pause."""
    for number, pair, action, days in (
        (0, "AA_one", PolicyAction.paused, 401),
        (1, "AA_one", PolicyAction.paused, 400),
        (2, "AA_one", PolicyAction.probing, 399),
        (3, "AA_one", PolicyAction.resumed, 398),
        (4, "AA_one", PolicyAction.resumed, 10),
        (5, "BB_two", PolicyAction.resumed, 500),
        (6, "BB_two", PolicyAction.paused, 450),
        (7, "BB_two", PolicyAction.probing, 420),
    ):
        store.add(decision(number, pair, action, NOW - timedelta(days=days)))


def kept(store: PolicyStore) -> set[int]:
    return {int(d.id, 16) for d in store.decisions(DecisionQuery(limit=100))}


def test_old_decisions_go_but_a_pairs_latest_and_latest_pause(metrics_engine: Engine) -> None:
    store = PolicyStore(metrics_engine)
    add_history(store)
    retention = build_retention(
        "policy_decisions", store.forget_before, days=365, clock=FakeClock(NOW)
    )
    assert retention.job.run_once() == 4
    assert kept(store) == {1, 4, 6, 7}
    assert store.latest_actions(["AA_one", "BB_two"]) == {
        "AA_one": PolicyAction.resumed,
        "BB_two": PolicyAction.probing,
    }
    assert {
        pair: int(d.id, 16) for pair, d in store.latest_pauses(["AA_one", "BB_two"]).items()
    } == {
        "AA_one": 1,
        "BB_two": 6,
    }


def test_decisions_go_oldest_first_a_batch_at_a_time(metrics_engine: Engine) -> None:
    store = PolicyStore(metrics_engine)
    add_history(store)
    assert batches(store.forget_before, CUTOFF, limit=3, kept=lambda: kept(store)) == [
        (3, {1, 3, 4, 6, 7}),
        (1, {1, 4, 6, 7}),
        (0, {1, 4, 6, 7}),
    ]
