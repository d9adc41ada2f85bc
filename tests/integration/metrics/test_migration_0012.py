"""Migration 0012 backfills the fine latency bins from the data of a 0011 metrics store.

On SQLite and MariaDB, an empty database is migrated to 0011, filled through the 0011
schema (plain tables, not the store classes: theirs are the head schema), migrated to
0012, and the bins and `metrics_state` it leaves are read back:

- every rollup row gets one bin per non-empty coarse bucket, at the bucket's middle
  (the open-ended bucket at its last bound), with the bucket's count;
- a day of the request log held whole is binned from the raw latencies instead; a
  partly purged day keeps the coarse bins, and a day not folded yet gets none;
- `rolled_until` goes back to the first minute of the kept attempts, never before
  `purged_until`, and never forward.

The expected bins are worked out here from the coarse bounds of the time and `bin_of`,
not from the migration's own helpers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.quantiles import bin_of
from smsfleet.core.sql import create_sql_engine
from tests.support.backends import sqlite_url_for
from tests.support.metrics_stores import migrate_metrics

# Coarse bounds (ms) of revision 0011: request log (b00..b12), delivery (latency_b00..b17).
REQUEST_BOUNDS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
DELIVERY_BOUNDS = (
    *(250, 500, 1_000, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000),
    *(30_000, 45_000, 60_000, 90_000, 120_000, 180_000, 300_000),
)
OUTCOMES = ("delivered", "not_delivered", "send_failed", "error")
USAGE_KEY = ("owner", "key_id", "method", "route")

WHOLE = date(2026, 1, 5)  # every request of the day still in api_requests
PARTLY_PURGED = date(2026, 1, 6)  # some of its requests purged from api_requests
PURGED = date(2026, 1, 4)  # none left in api_requests
UNFOLDED = date(2026, 1, 7)  # in api_requests, not in api_usage_daily yet

KEY_A = {"owner": "acme", "key_id": "k1", "method": "GET", "route": "/v1/sends"}
KEY_B = {"owner": "acme", "key_id": "k2", "method": "POST", "route": "/v1/messages"}


def _middle(bounds: tuple[int, ...], index: int) -> int:
    """The fine bin standing for coarse bucket `index`: its middle, the last bound for
    the open-ended one."""
    if index == len(bounds):
        return bin_of(bounds[-1])
    lower = 0 if index == 0 else bounds[index - 1]
    return bin_of((lower + bounds[index]) / 2)


def _request_bucket(latency: float) -> int:
    """The coarse request bucket (b00..b12) of a latency: (lower, upper]."""
    return next((i for i, upper in enumerate(REQUEST_BOUNDS) if latency <= upper), 12)


@pytest.fixture(params=["sqlite", "mariadb"])
def empty_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url_for(tmp_path / "metrics.sqlite3")
    url: str = request.getfixturevalue("empty_mariadb_url")
    return url


@pytest.fixture
def engine(empty_sql_url: str) -> Iterator[Engine]:
    engine = create_sql_engine(empty_sql_url)
    try:
        migrate_metrics(engine, "0011")
        yield engine
    finally:
        engine.dispose()


# --- the 0011 schema, as much of it as the test writes --------------------------------

api_requests = sa.table(
    "api_requests",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime()),
    *(sa.column(name, sa.String()) for name in USAGE_KEY),
    sa.column("status", sa.Integer()),
    sa.column("latency_ms", sa.Float()),
)
api_usage_daily = sa.table(
    "api_usage_daily",
    sa.column("day", sa.Date()),
    *(sa.column(name, sa.String()) for name in USAGE_KEY),
    sa.column("requests", sa.Integer()),
    sa.column("client_errors", sa.Integer()),
    sa.column("server_errors", sa.Integer()),
    sa.column("latency_sum_ms", sa.Float()),
    *(sa.column(f"b{index:02d}", sa.Integer()) for index in range(13)),
)
HISTOGRAM = [f"latency_b{index:02d}" for index in range(18)]
COUNTERS = (*OUTCOMES, "latency_sum_ms", "latency_count", *HISTOGRAM)


def _rollup(name: str, *keys: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("bucket", sa.DateTime()),
        *(sa.column(key, sa.String()) for key in keys),
        *(sa.column(counter, sa.Integer()) for counter in COUNTERS),
    )


ROLLUP_KEYS = ("pair", "program", "country", "operator")
metrics_minute = _rollup("metrics_minute", *ROLLUP_KEYS)
metrics_hour = _rollup("metrics_hour", *ROLLUP_KEYS)
metrics_hour_country = _rollup("metrics_hour_country", "country")
metrics_state = sa.table("metrics_state", sa.column("name"), sa.column("at", sa.DateTime()))
attempts = sa.table(
    "attempts",
    *(sa.column(name) for name in ("id", "session", "pair", "country", "operator")),
    *(sa.column(name) for name in ("program", "phone")),
    sa.column("leased_at", sa.DateTime()),
    sa.column("completed_at", sa.DateTime()),
)


def _usage_row(day: date, key: dict[str, str], buckets: dict[int, int]) -> dict[str, Any]:
    return {
        "day": day,
        **key,
        "requests": sum(buckets.values()),
        "client_errors": 0,
        "server_errors": 0,
        "latency_sum_ms": 0.0,
        **{f"b{index:02d}": buckets.get(index, 0) for index in range(13)},
    }


def _rollup_row(keys: dict[str, Any], buckets: dict[int, int]) -> dict[str, Any]:
    return {
        **keys,
        **dict.fromkeys(COUNTERS, 0),
        "delivered": sum(buckets.values()),
        "latency_count": sum(buckets.values()),
        **{f"latency_b{index:02d}": n for index, n in buckets.items()},
    }


# --- the request log and its daily rollup ----------------------------------------------

# (at, key, latency ms) of every request still logged. Latencies are exact in a
# single-precision FLOAT (MariaDB's column) and none lies on its coarse middle's bin.
RAW: list[tuple[datetime, dict[str, str], float]] = [
    (datetime(2026, 1, 5, 0, 0, 0), KEY_A, 3.0),
    (datetime(2026, 1, 5, 8, 30, 1, 250_000), KEY_A, 12.0),
    (datetime(2026, 1, 5, 9, 0, 0), KEY_A, 12.25),
    (datetime(2026, 1, 5, 9, 0, 1), KEY_A, 12.25),
    (datetime(2026, 1, 5, 12, 0, 0), KEY_A, 700.0),
    (datetime(2026, 1, 5, 13, 0, 0), KEY_A, 6000.0),
    (datetime(2026, 1, 5, 23, 59, 59, 999_000), KEY_A, 40.0),
    (datetime(2026, 1, 5, 10, 0, 0), KEY_B, 0.25),
    (datetime(2026, 1, 5, 11, 0, 0), KEY_B, 2.0),
    (datetime(2026, 1, 5, 14, 0, 0), KEY_B, 4096.0),
    # The partly purged day: 2 of its 5 requests left.
    (datetime(2026, 1, 6, 0, 0, 0), KEY_A, 3.0),
    (datetime(2026, 1, 6, 18, 0, 0), KEY_A, 80.0),
    # Not folded into api_usage_daily yet.
    (datetime(2026, 1, 7, 1, 0, 0), KEY_A, 12.0),
    (datetime(2026, 1, 7, 2, 0, 0), KEY_B, 700.0),
]
PARTLY_PURGED_BUCKETS = {2: 2, 6: 3}  # 5 requests: (2, 5] ms twice, (50, 100] ms thrice
PURGED_BUCKETS = {3: 4}  # 4 requests in (5, 10] ms


def _coarse_of_whole_day(key: dict[str, str]) -> dict[int, int]:
    return dict(
        Counter(
            _request_bucket(latency) for at, k, latency in RAW if at.date() == WHOLE and k == key
        )
    )


def _fill_request_log(connection: sa.Connection) -> None:
    connection.execute(
        sa.insert(api_requests),
        [
            {"id": index, "at": at, **key, "status": 200, "latency_ms": latency}
            for index, (at, key, latency) in enumerate(RAW, start=1)
        ],
    )
    connection.execute(
        sa.insert(api_usage_daily),
        [
            _usage_row(WHOLE, KEY_A, _coarse_of_whole_day(KEY_A)),
            _usage_row(WHOLE, KEY_B, _coarse_of_whole_day(KEY_B)),
            _usage_row(PARTLY_PURGED, KEY_A, PARTLY_PURGED_BUCKETS),
            _usage_row(PURGED, KEY_B, PURGED_BUCKETS),
        ],
    )


def _usage_bins(connection: sa.Connection) -> dict[tuple[date, str], dict[int, int]]:
    """{(day, key_id): {bin: n}} of api_usage_latency_daily, checking the other keys."""
    table = sa.table(
        "api_usage_latency_daily",
        sa.column("day", sa.Date()),
        *(sa.column(name, sa.String()) for name in USAGE_KEY),
        sa.column("bin", sa.Integer()),
        sa.column("n", sa.Integer()),
    )
    keys = {KEY_A["key_id"]: KEY_A, KEY_B["key_id"]: KEY_B}
    result: dict[tuple[date, str], dict[int, int]] = {}
    for row in connection.execute(sa.select(table)).mappings():
        assert {name: row[name] for name in USAGE_KEY} == keys[row["key_id"]]
        day = row["day"]
        assert isinstance(day, date)
        result.setdefault((day, row["key_id"]), {})[int(row["bin"])] = int(row["n"])
    return result


def test_request_log_bins_from_the_coarse_buckets_and_from_whole_days(engine: Engine) -> None:
    with engine.begin() as connection:
        _fill_request_log(connection)
    # The whole day's coarse buckets differ from its raw bins, so a test passes only if
    # the raw log replaced them.
    raw_bins = {
        key["key_id"]: dict(
            Counter(bin_of(latency) for at, k, latency in RAW if at.date() == WHOLE and k == key)
        )
        for key in (KEY_A, KEY_B)
    }
    for key in (KEY_A, KEY_B):
        coarse = {_middle(REQUEST_BOUNDS, i) for i in _coarse_of_whole_day(key)}
        assert not coarse & set(raw_bins[key["key_id"]])
    assert max(raw_bins["k1"].values()) == 3  # 12.0 and twice 12.25 ms share a bin

    migrate_metrics(engine, "0012")

    with engine.connect() as connection:
        bins = _usage_bins(connection)
    assert bins == {
        (WHOLE, "k1"): raw_bins["k1"],
        (WHOLE, "k2"): raw_bins["k2"],
        (PARTLY_PURGED, "k1"): {
            _middle(REQUEST_BOUNDS, i): n for i, n in PARTLY_PURGED_BUCKETS.items()
        },
        (PURGED, "k2"): {_middle(REQUEST_BOUNDS, i): n for i, n in PURGED_BUCKETS.items()},
    }
    # Spelled out, lest the helpers above and the migration share a mistake.
    assert bins[(WHOLE, "k1")] == {87: 1, 123: 3, 153: 1, 226: 1, 281: 1}
    assert bins[(WHOLE, "k2")] == {24: 1, 77: 1, 271: 1}
    assert bins[(PARTLY_PURGED, "k1")] == {91: 2, 169: 3}
    assert bins[(PURGED, "k2")] == {111: 4}


# --- delivery latency rollups -----------------------------------------------------------

MINUTE = datetime(2026, 1, 5, 10, 7)
HOUR = datetime(2026, 1, 5, 10, 0)
UZMOBILE = {"pair": "UZ_uzmobile", "program": "program1", "country": "UZ", "operator": "uzmobile"}
BEELINE = {"pair": "UZ_beeline", "program": "program1", "country": "UZ", "operator": "beeline"}
MEGAFON = {"pair": "TJ_megafon", "program": "program2", "country": "TJ", "operator": "megafon"}
UZMOBILE_BUCKETS = {0: 1, 5: 2, 17: 4}  # first, a middle one and the open-ended bucket
BEELINE_BUCKETS = {3: 1, 16: 6}


def _fill_rollups(connection: sa.Connection) -> None:
    for table, bucket in ((metrics_minute, MINUTE), (metrics_hour, HOUR)):
        connection.execute(
            sa.insert(table),
            [
                _rollup_row({"bucket": bucket, **UZMOBILE}, UZMOBILE_BUCKETS),
                _rollup_row({"bucket": bucket, **BEELINE}, BEELINE_BUCKETS),
                _rollup_row({"bucket": bucket, **MEGAFON}, {}),  # no latency at all
            ],
        )
    # A later minute of the same pair and program: its own bins.
    connection.execute(
        sa.insert(metrics_minute),
        [_rollup_row({"bucket": MINUTE + timedelta(minutes=1), **UZMOBILE}, {10: 5})],
    )
    uz = Counter(UZMOBILE_BUCKETS) + Counter(BEELINE_BUCKETS)
    connection.execute(
        sa.insert(metrics_hour_country),
        [
            _rollup_row({"bucket": HOUR, "country": "UZ"}, dict(uz)),
            _rollup_row({"bucket": HOUR, "country": "TJ"}, {}),
        ],
    )


def _rollup_bins(connection: sa.Connection, name: str, *keys: str) -> set[tuple[Any, ...]]:
    table = sa.table(
        name,
        sa.column("bucket", sa.DateTime()),
        *(sa.column(key, sa.String()) for key in keys),
        sa.column("bin", sa.Integer()),
        sa.column("n", sa.Integer()),
    )
    rows = connection.execute(sa.select(table)).all()
    return {(row[0], *row[1:-2], int(row[-2]), int(row[-1])) for row in rows}


def _expected(bucket: datetime, keys: dict[str, str], buckets: dict[int, int]) -> set[Any]:
    return {(bucket, *keys.values(), _middle(DELIVERY_BOUNDS, i), n) for i, n in buckets.items()}


def test_rollups_get_one_bin_per_non_empty_coarse_bucket(engine: Engine) -> None:
    with engine.begin() as connection:
        _fill_rollups(connection)

    migrate_metrics(engine, "0012")

    with engine.connect() as connection:
        minute = _rollup_bins(connection, "metrics_minute_latency", *ROLLUP_KEYS)
        hour = _rollup_bins(connection, "metrics_hour_latency", *ROLLUP_KEYS)
        country = _rollup_bins(connection, "metrics_hour_country_latency", "country")
    assert minute == (
        _expected(MINUTE, UZMOBILE, UZMOBILE_BUCKETS)
        | _expected(MINUTE, BEELINE, BEELINE_BUCKETS)
        | _expected(MINUTE + timedelta(minutes=1), UZMOBILE, {10: 5})
    )
    assert hour == (
        _expected(HOUR, UZMOBILE, UZMOBILE_BUCKETS) | _expected(HOUR, BEELINE, BEELINE_BUCKETS)
    )
    uz = dict(Counter(UZMOBILE_BUCKETS) + Counter(BEELINE_BUCKETS))
    assert country == _expected(HOUR, {"country": "UZ"}, uz)
    # Spelled out: (0, 250] ms at 125 ms, (3 s, 5 s] at 4 s, over 300 s at 300 s,
    # (1 s, 2 s] at 1.5 s, (180 s, 300 s] at 240 s.
    uzmobile_hour = {(bin_, n) for _, pair, *_, bin_, n in hour if pair == "UZ_uzmobile"}
    assert uzmobile_hour == {(bin_of(125), 1), (bin_of(4_000), 2), (bin_of(300_000), 4)}
    assert {(bin_, n) for _, _, bin_, n in country} == {
        (bin_of(125), 1),
        (bin_of(4_000), 2),
        (bin_of(300_000), 4),
        (bin_of(1_500), 1),
        (bin_of(240_000), 6),
    }


# --- where the rollup job starts again --------------------------------------------------


def _state(connection: sa.Connection) -> dict[str, datetime]:
    rows = connection.execute(sa.select(metrics_state.c.name, metrics_state.c.at)).all()
    return {str(name): at for name, at in rows}


def _attempt(index: int, completed_at: datetime | None) -> dict[str, Any]:
    return {
        "id": f"{index:032x}",
        "session": "program1_UZ_uzmobile",
        "pair": "UZ_uzmobile",
        "country": "UZ",
        "operator": "uzmobile",
        "program": "program1",
        "phone": "+998901234567",
        "leased_at": (completed_at or datetime(2026, 1, 1, 0, 0)) - timedelta(seconds=30),
        "completed_at": completed_at,
    }


EARLIEST = datetime(2026, 1, 5, 10, 7, 42, 123_456)
KEPT = [
    None,  # still leased: no completed_at, leased long before
    datetime(2026, 1, 5, 11, 0, 0),
    EARLIEST,
    datetime(2026, 1, 6, 3, 0, 0),
]


@pytest.mark.parametrize(
    ("state", "completed", "expected"),
    [
        pytest.param(
            {"rolled_until": datetime(2026, 1, 7), "purged_until": datetime(2026, 1, 5)},
            KEPT,
            datetime(2026, 1, 5, 10, 7),
            id="back-to-the-first-kept-minute",
        ),
        pytest.param(
            {"rolled_until": datetime(2026, 1, 7), "purged_until": datetime(2026, 1, 5, 12)},
            KEPT,
            datetime(2026, 1, 5, 12),
            id="not-before-purged-until",
        ),
        pytest.param(
            {"rolled_until": datetime(2026, 1, 7)},
            KEPT,
            datetime(2026, 1, 5, 10, 7),
            id="never-purged",
        ),
        pytest.param(
            {"rolled_until": datetime(2026, 1, 5, 9), "purged_until": datetime(2026, 1, 4)},
            KEPT,
            datetime(2026, 1, 5, 9),
            id="never-forward",
        ),
        pytest.param(
            {"rolled_until": datetime(2026, 1, 7), "purged_until": datetime(2026, 1, 5)},
            [None],
            datetime(2026, 1, 7),
            id="no-completed-attempt",
        ),
    ],
)
def test_rolled_until_goes_back_to_the_first_kept_minute(
    engine: Engine,
    state: dict[str, datetime],
    completed: list[datetime | None],
    expected: datetime,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(metrics_state), [{"name": name, "at": at} for name, at in state.items()]
        )
        connection.execute(
            sa.insert(attempts), [_attempt(i, at) for i, at in enumerate(completed, start=1)]
        )

    migrate_metrics(engine, "0012")

    with engine.connect() as connection:
        assert _state(connection) == {**state, "rolled_until": expected}
