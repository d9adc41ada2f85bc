"""Migration 0014 gives the decisions of a 0013 metrics store their upper bound and
the bound they were taken on, on SQLite and MariaDB.

The decisions are written through the 0013 schema (a plain table, not the store's: its
is the head schema), the store migrated to the head and read back through the store:
the later migrations keep what 0014 filled (but 0020 takes a probing decision's figures),
and 0016 leaves their cool-down empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.sql import create_sql_engine
from smsfleet.policy.models import DecisionQuery, EvidenceBound, PolicyAction
from smsfleet.policy.stats import wilson_interval
from smsfleet.policy.store import PolicyStore
from tests.support.backends import sqlite_url_for
from tests.support.metrics_stores import migrate_metrics

AT = datetime(2026, 1, 5, 12, 0)
PAUSE, RESUME = 0.5, 0.7

decisions_0013 = sa.table(
    "policy_decisions",
    *(sa.column(name) for name in ("id", "pair", "country", "action", "reason", "window")),
    sa.column("at", sa.DateTime()),
    *(sa.column(name, sa.Double()) for name in ("lower_bound", "success_ratio")),
    *(sa.column(name, sa.Double()) for name in ("pause_threshold", "resume_threshold")),
    *(sa.column(name, sa.Integer()) for name in ("samples", "delivered")),
)

# id: (action, delivered of 20, the bound the figures show it was taken on)
STORED: dict[str, tuple[str, int, EvidenceBound | None]] = {
    # 4/20 → [0.081, 0.416]: under the 50 % line whole
    "paused-on-upper": ("paused", 4, EvidenceBound.upper_bound),
    # 8/20 → [0.219, 0.613]: only the lower bound under it, as pauses once were
    "paused-on-lower": ("paused", 8, EvidenceBound.lower_bound),
    "held-on-upper": ("held", 4, EvidenceBound.upper_bound),
    # 20/20 → [0.839, 1]: over the 70 % line
    "resumed": ("resumed", 20, EvidenceBound.lower_bound),
    "recovered": ("recovered", 20, EvidenceBound.lower_bound),
    # a high-priority pair let go whatever its figures
    "resumed-let-go": ("resumed", 4, None),
    "probing": ("probing", 4, None),
}


@pytest.fixture(params=["sqlite", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = sqlite_url_for(tmp_path / "metrics.sqlite3")
    else:
        url = request.getfixturevalue("empty_mariadb_url")
    engine = create_sql_engine(url)
    try:
        migrate_metrics(engine, "0013")
        yield engine
    finally:
        engine.dispose()


def test_stored_decisions_get_their_upper_bound_and_the_bound_they_were_taken_on(
    engine: Engine,
) -> None:
    rows = []
    for number, (row_id, (action, delivered, _)) in enumerate(STORED.items()):
        lower, _upper = wilson_interval(delivered, 20, 1.96)
        rows.append(
            {
                "id": row_id,
                "at": AT.replace(minute=number),
                "pair": "UZ_a",
                "country": "UZ",
                "action": action,
                "reason": "why",
                "window": "last 30 min, at most 50 attempts",
                "lower_bound": lower,
                "success_ratio": delivered / 20,
                "pause_threshold": PAUSE,
                "resume_threshold": RESUME,
                "samples": 20,
                "delivered": delivered,
            }
        )
    with engine.begin() as connection:
        connection.execute(sa.insert(decisions_0013), rows)

    migrate_metrics(engine, "head")

    found = {d.id: d for d in PolicyStore(engine).decisions(DecisionQuery())}
    assert found.keys() == STORED.keys()
    for row_id, (_, delivered, bound) in STORED.items():
        decision = found[row_id]
        assert decision.decided_on == bound, row_id
        assert decision.cooldown_seconds is None, row_id
        if decision.action is PolicyAction.probing:  # 0020 takes a probing's figures
            assert decision.upper_bound is None
            continue
        assert decision.upper_bound == pytest.approx(wilson_interval(delivered, 20, 1.96)[1])
