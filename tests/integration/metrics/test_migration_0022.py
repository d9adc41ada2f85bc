"""Migration 0022 tells the accounts of a name apart in the request log, on SQLite and
MariaDB: the usage rows of a 0021 store say no account made them, and are a user's only
from the day after the user's account was made (admins see them all, as before); the
rows logged after are their account's. Going back, the accounts of a name fold together.

The rows are written through the 0021 schema (plain tables, not the store's: its is the
head schema), the store migrated to the head and read back through the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.sql import create_sql_engine
from smsfleet.developer.store import BUCKETS, LoggedRequest, UsageOwner, UsageStore
from tests.support.backends import sqlite_url_for
from tests.support.metrics_stores import migrate_metrics

KEYS = ("day", "owner", "key_id", "method", "route")
daily_0021 = sa.table(
    "api_usage_daily",
    sa.column("day", sa.Date()),
    *(sa.column(name) for name in KEYS[1:]),
    *(sa.column(name) for name in ("requests", "client_errors", "server_errors")),
    sa.column("latency_sum_ms"),
    *(sa.column(name) for name in BUCKETS),
)
bins_0021 = sa.table(
    "api_usage_latency_daily",
    sa.column("day", sa.Date()),
    *(sa.column(name) for name in (*KEYS[1:], "bin", "n")),
)
raw_0021 = sa.table(
    "api_requests",
    sa.column("at", sa.DateTime()),
    *(sa.column(name) for name in (*KEYS[1:], "status", "latency_ms")),
)

# Alice's account of the name now was made on the 5th; an earlier one logged the 4th and
# the 5th (before it was deleted), this one the 6th.
MADE = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
EARLIER = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
DAYS = (date(2026, 1, 4), date(2026, 1, 5), date(2026, 1, 6))
START, END = date(2026, 1, 1), date(2026, 1, 31)


def a_row(day: date, requests: int) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(BUCKETS, 0)
    key = {"day": day, "owner": "alice", "key_id": "", "method": "GET", "route": "/api/v1/pairs"}
    row.update(key, requests=requests, client_errors=0, server_errors=0, latency_sum_ms=1.0)
    row["b00"] = requests
    return row


@pytest.fixture(params=["sqlite", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = sqlite_url_for(tmp_path / "metrics.sqlite3")
    else:
        url = request.getfixturevalue("empty_mariadb_url")
    engine = create_sql_engine(url)
    try:
        migrate_metrics(engine, "0021")
        yield engine
    finally:
        engine.dispose()


def test_rows_from_before_are_the_users_only_after_the_day_the_account_was_made(
    engine: Engine,
) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(daily_0021), [a_row(day, 2) for day in DAYS])
        bins = [{**{k: a_row(day, 2)[k] for k in KEYS}, "bin": 3, "n": 2} for day in DAYS]
        connection.execute(sa.insert(bins_0021), bins)
        raw = {"owner": "alice", "key_id": "", "method": "GET", "route": "/api/v1/pairs"}
        connection.execute(
            sa.insert(raw_0021),
            [{**raw, "at": datetime(2026, 1, 4), "status": 200, "latency_ms": 1.0}],
        )

    migrate_metrics(engine, "head")

    store = UsageStore(engine)
    alice = UsageOwner("alice", MADE)
    everyone = store.summed(start=START, end=END, by=("day",))
    assert sorted((row.group[0], row.counters["requests"]) for row in everyone) == [
        (day, 2.0) for day in DAYS
    ]
    hers = store.summed(start=START, end=END, by=("day",), owner=alice)
    assert [(row.group[0], row.bins) for row in hers] == [(DAYS[2], {3: 2})]
    # Logged from now on: by account, whatever the day.
    store.add(
        [
            LoggedRequest(MADE, "alice", "", "GET", "/api/v1/pairs", 200, 1.0, owner_since=MADE),
            LoggedRequest(MADE, "alice", "", "GET", "/api/v1/pairs", 200, 1.0, owner_since=EARLIER),
        ]
    )
    hers = store.summed(start=START, end=END, by=("day",), owner=alice)
    assert sorted((row.group[0], row.counters["requests"]) for row in hers) == [
        (DAYS[1], 1.0),
        (DAYS[2], 2.0),
    ]
    assert store.count_raw() == 3

    migrate_metrics(engine, "0021", down=True)

    with engine.connect() as connection:
        back = connection.execute(
            sa.select(daily_0021.c.day, daily_0021.c.requests).order_by(daily_0021.c.day)
        ).all()
    assert [(day, int(n)) for day, n in back] == [(DAYS[0], 2), (DAYS[1], 4), (DAYS[2], 2)]
