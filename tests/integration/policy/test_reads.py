"""The policy's figures of every pair are read in a few queries, however many pairs there
are: the standing and the dispatch goals, which every viewer's pages ask for, read them
all, and a query per pair (each pair's window starts at its last change, so a fleet of
new or resumed pairs is all such pairs) made them take seconds at a few thousand pairs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.attempts import store as store_module
from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.service import pair_window_stats
from smsfleet.policy.stats import Window, WindowStats

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WINDOW = Window(span=timedelta(minutes=30), max_attempts=10)


def _pair(index: int, changed: datetime, state: PairState = PairState.enabled) -> Pair:
    return Pair(
        key=f"UZ_op{index:03d}",
        country="UZ",
        operator=f"op{index}",
        slug=f"op{index:03d}",
        state=state,
        state_actor="operator",
        state_changed_at=changed,
        created_at=changed,
        updated_at=changed,
    )


def _attempt(number: int, pair: Pair, completed: datetime, outcome: Outcome) -> Attempt:
    return Attempt(
        id=f"{number:032x}",
        session=f"program1_{pair.key}",
        pair=pair.key,
        country=pair.country,
        operator=pair.slug,
        program="program1",
        phone="+998901234567",
        leased_at=completed - timedelta(seconds=5),
        completed_at=completed,
        outcome=outcome,
    )


def test_pairs_changed_within_their_window_are_read_together(
    metrics_engine: Engine,
) -> None:
    # Pairs changed at different moments within the window (each its own start), one
    # changed before it, one paused within it (its window is not cut at its pause).
    pairs = [_pair(n, NOW - timedelta(minutes=n % 20 + 1)) for n in range(1200)]
    pairs.append(_pair(1200, NOW - timedelta(hours=2)))
    pairs.append(_pair(1201, NOW - timedelta(minutes=3), PairState.paused))
    attempts = [
        _attempt(n * 10 + k, pair, NOW - timedelta(minutes=k * 2, seconds=30), outcome)
        for n, pair in enumerate(pairs[:1200:50] + pairs[1200:])
        for k, outcome in enumerate([Outcome.delivered, Outcome.not_delivered] * 3)
    ]
    ledger = AttemptStore(metrics_engine)
    ledger.add_many(attempts)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(metrics_engine, "before_cursor_execute", count)
    try:
        stats = pair_window_stats(ledger, pairs, window=WINDOW, now=NOW)
    finally:
        sa.event.remove(metrics_engine, "before_cursor_execute", count)
    # The window, and the pairs' own starts in as many reads as their chunks take.
    assert len(statements) == 1 + -(-1200 // store_module.STARTS_CHUNK)
    # What a read of each pair alone from its start says.
    for pair in pairs:
        assert pair.state_changed_at is not None
        start = WINDOW.since(NOW)
        if pair.state is not PairState.paused:
            start = max(start, pair.state_changed_at)
        alone = ledger.completed_counts(
            by="pair", keys=[pair.key], start=start, end=NOW, newest=WINDOW.max_attempts
        )
        expected = alone.get(pair.key)
        if expected is None and start > WINDOW.since(NOW):
            expected = (0, 0)  # a pair counted from its change is there, with none
        found = stats.get(pair.key)
        assert ((found.samples, found.delivered) if found else None) == expected, pair.key
    assert stats["UZ_op1200"] == WindowStats(samples=6, delivered=3)
    assert stats["UZ_op1201"] == WindowStats(samples=6, delivered=3)
