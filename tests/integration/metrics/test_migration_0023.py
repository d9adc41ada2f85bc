"""Migration 0023 counts the attempts broken off after their SMS was sent in `sent`, on
SQLite and MariaDB: the rollups of a 0022 store get `broken_off_sent`, their minutes
filled from the raw attempts still kept (a purged minute's stays 0), their hours from
the minutes and the countries' hours from the hours, and the week series are refolded
with the figure. Going back drops the columns and takes the figure off the series.

The rows are written through the 0022 schema (plain tables, not the store's: its is the
head schema), the store migrated to the head and read back through the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.attempts.store import attempts_table
from smsfleet.core.sql import create_sql_engine
from smsfleet.metrics.buckets import HOUR
from smsfleet.metrics.series import FIELDS, HOURS_PER_WEEK, unpack, week_of
from smsfleet.metrics.store import MetricsStore
from smsfleet.metrics.tables import COUNTER_COLUMNS
from tests.support.backends import sqlite_url_for
from tests.support.metrics_stores import migrate_metrics

COUNTERS_0022 = [name for name in COUNTER_COLUMNS if name != "broken_off_sent"]
ROUTE_KEY = ("pair", "program", "country", "operator")
ROLLUP_KEYS = {
    "metrics_minute": ROUTE_KEY,
    "metrics_hour": ROUTE_KEY,
    "metrics_hour_country": ("country",),
}
state = sa.table("metrics_state", sa.column("name"), sa.column("at", sa.DateTime()))
series = sa.table(
    "metrics_week_series",
    sa.column("week", sa.DateTime()),
    sa.column("kind"),
    sa.column("group_key"),
    sa.column("hours", sa.LargeBinary()),
)

# Raw attempts are kept from PURGED on; everything before ROLLED is rolled up.
PURGED = datetime(2026, 1, 5, 10, 0)
ROLLED = datetime(2026, 1, 5, 12, 0)
UZ1 = ("UZ_uzmobile", "program1", "UZ", "uzmobile")
UZ2 = ("UZ_uzmobile", "program2", "UZ", "uzmobile")
TJ1 = ("TJ_megafon", "program1", "TJ", "megafon")


def rollup(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("bucket", sa.DateTime()),
        *map(sa.column, (*ROLLUP_KEYS[name], *COUNTERS_0022)),
    )


def row(name: str, bucket: datetime, key: tuple[str, ...], **counts: int) -> dict[str, object]:
    values: dict[str, object] = dict.fromkeys(COUNTERS_0022, 0)
    values.update(counts, bucket=bucket, **dict(zip(ROLLUP_KEYS[name], key, strict=True)))
    return values


def attempt(
    number: int, route: tuple[str, ...], at: datetime, outcome: str, code: str | None, sent: bool
) -> dict[str, object]:
    pair, program, country, operator = route
    return {
        "id": f"{number:032x}",
        "session": f"{program}_{pair}",
        "pair": pair,
        "country": country,
        "operator": operator,
        "program": program,
        "phone": "+998901234567",
        "leased_at": at - timedelta(seconds=30),
        "sent_at": at - timedelta(seconds=20) if sent else None,
        "delivered_at": None,
        "completed_at": at,
        "outcome": outcome,
        "error_code": code,
        "latency_ms": None,
        "provider": None,
    }


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 1, 5, hour, minute, second)


@pytest.fixture(params=["sqlite", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = sqlite_url_for(tmp_path / "metrics.sqlite3")
    else:
        url = request.getfixturevalue("empty_mariadb_url")
    engine = create_sql_engine(url)
    try:
        migrate_metrics(engine, "0022")
        yield engine
    finally:
        engine.dispose()


def write_0022_store(engine: Engine) -> None:
    """Attempts broken off after sending (and one before) in minutes rolled up, one not
    rolled up yet, and a minute whose raw attempts were purged; a stale week series."""
    raw = [
        attempt(1, UZ1, at(11, 5, 1), "delivered", None, sent=True),
        attempt(2, UZ1, at(11, 5, 2), "error", "interrupted", sent=True),
        attempt(3, UZ1, at(11, 5, 3), "error", "interrupted", sent=True),
        attempt(4, UZ1, at(11, 5, 4), "error", "lease_lost", sent=False),
        attempt(5, UZ1, at(11, 5, 5), "error", "E_TIMEOUT", sent=True),  # not broken off
        attempt(6, UZ2, at(11, 30), "error", "lease_expired", sent=True),
        attempt(7, TJ1, at(11, 40), "error", "interrupted", sent=True),
        attempt(8, TJ1, at(12, 10), "error", "interrupted", sent=True),  # not rolled up yet
    ]
    minutes = [
        row("metrics_minute", at(9, 30), UZ1, broken_off=2),  # its attempts purged
        row("metrics_minute", at(11, 5), UZ1, delivered=1, error=1, broken_off=3),
        row("metrics_minute", at(11, 30), UZ2, broken_off=1),
        row("metrics_minute", at(11, 40), TJ1, broken_off=1),
    ]
    hours = [
        row("metrics_hour", at(9, 0), UZ1, broken_off=2),
        row("metrics_hour", at(11, 0), UZ1, delivered=1, error=1, broken_off=3),
        row("metrics_hour", at(11, 0), UZ2, broken_off=1),
        row("metrics_hour", at(11, 0), TJ1, broken_off=1),
    ]
    countries = [
        row("metrics_hour_country", at(9, 0), ("UZ",), broken_off=2),
        row("metrics_hour_country", at(11, 0), ("UZ",), delivered=1, error=1, broken_off=4),
        row("metrics_hour_country", at(11, 0), ("TJ",), broken_off=1),
    ]
    week = datetime.fromtimestamp(week_of(int(at(11, 0).replace(tzinfo=UTC).timestamp())), UTC)
    with engine.begin() as connection:
        connection.execute(sa.insert(attempts_table), raw)
        for name, rows in (
            ("metrics_minute", minutes),
            ("metrics_hour", hours),
            ("metrics_hour_country", countries),
        ):
            connection.execute(sa.insert(rollup(name)), rows)
        connection.execute(
            sa.insert(state),
            [{"name": "rolled_until", "at": ROLLED}, {"name": "purged_until", "at": PURGED}],
        )
        stale = {"week": week.replace(tzinfo=None), "kind": "fleet", "group_key": "all"}
        connection.execute(sa.insert(series), [{**stale, "hours": b"\x00" * 20 * 168}])


def broken_off_sent(engine: Engine, name: str) -> dict[tuple[object, ...], int]:
    """By bucket and pair, program or country."""
    key = ROLLUP_KEYS[name][:2] if name != "metrics_hour_country" else ("country",)
    table = sa.table(
        name, sa.column("bucket", sa.DateTime()), *map(sa.column, (*key, "broken_off_sent"))
    )
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table)).all()
    return {tuple(found[:-1]): int(found[-1]) for found in rows}


def fleet_hours(engine: Engine) -> list[int]:
    """The 11:00 hour of the fleet's week series."""
    with engine.connect() as connection:
        (week, blob), *others = connection.execute(
            sa.select(series.c.week, series.c.hours).where(series.c.kind == "fleet")
        ).all()
    assert not others
    values = unpack(blob)
    fields = len(values) // HOURS_PER_WEEK
    index = int((at(11, 0) - week) / HOUR) * fields
    return list(values[index : index + fields])


def test_attempts_broken_off_after_sending_are_counted_from_the_raw_attempts_kept(
    engine: Engine,
) -> None:
    write_0022_store(engine)

    migrate_metrics(engine, "head")

    # The minute at 9:30 stays at 0: its attempts were purged, what they were is unknown.
    assert broken_off_sent(engine, "metrics_minute") == {
        (at(9, 30), *UZ1[:2]): 0,
        (at(11, 5), *UZ1[:2]): 2,
        (at(11, 30), *UZ2[:2]): 1,
        (at(11, 40), *TJ1[:2]): 1,
    }
    assert broken_off_sent(engine, "metrics_hour") == {
        (at(9, 0), *UZ1[:2]): 0,
        (at(11, 0), *UZ1[:2]): 2,
        (at(11, 0), *UZ2[:2]): 1,
        (at(11, 0), *TJ1[:2]): 1,
    }
    assert broken_off_sent(engine, "metrics_hour_country") == {
        (at(9, 0), "UZ"): 0,
        (at(11, 0), "UZ"): 3,
        (at(11, 0), "TJ"): 1,
    }
    # Read through the store: the hours rolled up and, past them, the raw attempts.
    store = MetricsStore(engine)
    tallies = store.tallies(
        start=at(9, 0).replace(tzinfo=UTC), end=at(13, 0).replace(tzinfo=UTC), group=("pair",)
    )
    by_pair = {group[0]: tally for (_, group), tally in tallies.items()}
    assert {pair: (t.sent, t.completed, t.broken_off) for pair, t in by_pair.items()} == {
        "UZ_uzmobile": (1 + 3, 2, 6),
        "TJ_megafon": (2, 0, 2),
    }
    # Refolded: 6 figures an hour, the new one before p95 (-1: none delivered with one).
    assert FIELDS == 6
    assert fleet_hours(engine) == [1, 0, 1, 0, 4, -1]
    # A minute of SMS all broken off after sending: a row with no success rate.
    sms_metrics = sa.table(
        "sms_metrics",
        sa.column("timestamp", sa.DateTime()),
        *map(sa.column, ("country", "operator", "sms_sent", "success_rate", "failures")),
    )
    judged = {"country": "UZ", "operator": "uzmobile", "sms_sent": 2, "failures": 0}
    with engine.begin() as connection:
        connection.execute(
            sa.insert(sms_metrics),
            [
                {**judged, "timestamp": at(12, 1), "success_rate": 0.5},
                {**judged, "timestamp": at(12, 2), "success_rate": None},
            ],
        )

    migrate_metrics(engine, "0022", down=True)

    with engine.connect() as connection:
        for name in ROLLUP_KEYS:
            columns = {c["name"] for c in sa.inspect(connection).get_columns(name)}
            assert "broken_off_sent" not in columns
            assert "broken_off" in columns
        blobs = connection.execute(sa.select(series.c.hours)).scalars().all()
    assert {len(blob) for blob in blobs} == {168 * 5 * 4}
    assert fleet_hours(engine) == [1, 0, 1, 0, -1]
    # Back to a rate in every row: the rows without one go.
    with engine.connect() as connection:
        rates = connection.execute(sa.select(sms_metrics.c.success_rate)).scalars().all()
        (rate_column,) = [
            c
            for c in sa.inspect(connection).get_columns("sms_metrics")
            if c["name"] == "success_rate"
        ]
    assert rates == [0.5]
    assert rate_column["nullable"] is False
