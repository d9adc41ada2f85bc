"""Migration 0020 lets a decision record no figures, on SQLite and MariaDB: the probing
decisions of a 0019 metrics store lose theirs (the window's at that moment, which decided
nothing), every other decision keeps its own; going back, they read as 0 of 0.

The decisions are written through the 0019 schema (a plain table, not the store's: its
is the head schema), the store migrated to the head and read back through the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.sql import create_sql_engine
from smsfleet.policy.models import DecisionQuery, PolicyAction
from smsfleet.policy.store import PolicyStore
from tests.support.backends import sqlite_url_for
from tests.support.metrics_stores import migrate_metrics

AT = datetime(2026, 1, 5, 12, 0)
WINDOW = "last 30 min, at most 50 attempts"

decisions_0019 = sa.table(
    "policy_decisions",
    *(sa.column(name) for name in ("id", "pair", "country", "action", "reason", "window")),
    *(sa.column(name) for name in ("decided_on",)),
    sa.column("at", sa.DateTime()),
    *(sa.column(name, sa.Double()) for name in ("lower_bound", "upper_bound", "success_ratio")),
    *(sa.column(name, sa.Double()) for name in ("pause_threshold", "resume_threshold")),
    *(sa.column(name, sa.Integer()) for name in ("samples", "delivered")),
)


def a_decision(number: int, action: str) -> dict[str, object]:
    return {
        "id": f"{action}-{number}",
        "at": AT.replace(minute=number),
        "pair": "UZ_a",
        "country": "UZ",
        "action": action,
        "reason": "why",
        "window": WINDOW,
        "decided_on": "upper_bound" if action == "paused" else None,
        "lower_bound": 0.081,
        "upper_bound": 0.416,
        "success_ratio": 0.2,
        "pause_threshold": 0.5,
        "resume_threshold": 0.7,
        "samples": 20,
        "delivered": 4,
    }


@pytest.fixture(params=["sqlite", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = sqlite_url_for(tmp_path / "metrics.sqlite3")
    else:
        url = request.getfixturevalue("empty_mariadb_url")
    engine = create_sql_engine(url)
    try:
        migrate_metrics(engine, "0019")
        yield engine
    finally:
        engine.dispose()


def test_probing_decisions_lose_their_figures_and_read_as_none_back(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(decisions_0019), [a_decision(0, "paused"), a_decision(1, "probing")]
        )

    migrate_metrics(engine, "head")

    store = PolicyStore(engine)
    found = {d.id: d for d in store.decisions(DecisionQuery())}
    paused, probing = found["paused-0"], found["probing-1"]
    assert (paused.samples, paused.delivered, paused.success_ratio) == (20, 4, 0.2)
    assert (paused.lower_bound, paused.upper_bound, paused.window) == (0.081, 0.416, WINDOW)
    assert probing.action is PolicyAction.probing
    figures = (probing.lower_bound, probing.upper_bound, probing.success_ratio)
    assert figures == (None, None, None)
    assert (probing.samples, probing.delivered, probing.window) == (None, None, None)
    # A new one is stored without figures too.
    store.add(probing.model_copy(update={"id": "probing-2", "at": AT.replace(minute=2)}))

    migrate_metrics(engine, "0019", down=True)

    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(decisions_0019).order_by(decisions_0019.c.id)
        ).mappings()
        back = {row["id"]: row for row in rows}
    assert back["paused-0"]["samples"] == 20
    for row_id in ("probing-1", "probing-2"):
        row = back[row_id]
        assert (row["samples"], row["delivered"], row["success_ratio"]) == (0, 0, None)
        assert (row["lower_bound"], row["upper_bound"], row["window"]) == (0.0, 1.0, "")
