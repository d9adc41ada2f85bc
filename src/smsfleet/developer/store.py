"""The request log (`api_requests`) and its daily rollup (`api_usage_daily`), metrics store.

Every batch of logged requests is inserted raw and folded, in the same
transaction, into one row per day, owner, key, method and route with counters
and a coarse latency histogram, and into `api_usage_latency_daily`, the same rows'
fine latency bins (`smsfleet.core.quantiles`: one row per bin that holds requests,
its count added on conflict), which the quantiles are read from. The analytics read
only the rollups, so they answer in milliseconds whatever the size of the log.

The owner is a user's name and when their account was made (`owner_since`): an account
deleted and made again under its name is another owner, who sees none of the old one's
use. Rows logged before requests said so hold `LEGACY_SINCE` (see `UsageOwner`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Engine

from smsfleet.core.quantiles import Bins, bin_of
from smsfleet.core.sql import LEGACY_SINCE, DateTimeColumn, metrics_metadata, naive_utc
from smsfleet.developer.models import LATENCY_BOUNDS_MS

__all__ = [
    "LoggedRequest",
    "UsageOwner",
    "UsageRow",
    "UsageStore",
    "api_requests_table",
    "api_usage_daily_table",
    "api_usage_latency_daily_table",
]

BUCKETS = tuple(f"b{index:02d}" for index in range(len(LATENCY_BOUNDS_MS) + 1))
COUNTERS = ("requests", "client_errors", "server_errors", "latency_sum_ms", *BUCKETS)
GROUPS = ("day", "owner", "owner_since", "key_id", "method", "route")


def _owner_since() -> sa.Column[datetime]:
    return sa.Column(
        "owner_since", DateTimeColumn, nullable=False, primary_key=True, autoincrement=False
    )


api_requests_table = sa.Table(
    "api_requests",
    metrics_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False),
    sa.Column("owner", sa.String(32), nullable=False),
    sa.Column("owner_since", DateTimeColumn, nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("route", sa.String(160), nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Index("ix_api_requests_at", "at"),
)

api_usage_daily_table = sa.Table(
    "api_usage_daily",
    metrics_metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("owner", sa.String(32), primary_key=True),
    _owner_since(),
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("method", sa.String(8), primary_key=True),
    sa.Column("route", sa.String(160), primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in COUNTERS[:3]),
    sa.Column("latency_sum_ms", sa.Float, nullable=False),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in BUCKETS),
    sa.Index("ix_api_usage_daily_key_day", "key_id", "day"),
    sa.Index("ix_api_usage_daily_owner_day", "owner", "day"),
)

# The latency bins of each `api_usage_daily` row (`n` requests in bin `bin`).
api_usage_latency_daily_table = sa.Table(
    "api_usage_latency_daily",
    metrics_metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("owner", sa.String(32), primary_key=True),
    _owner_since(),
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("method", sa.String(8), primary_key=True),
    sa.Column("route", sa.String(160), primary_key=True),
    sa.Column("bin", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Index("ix_api_usage_latency_daily_key_day", "key_id", "day"),
    sa.Index("ix_api_usage_latency_daily_owner_day", "owner", "day"),
)


@dataclass(frozen=True)
class LoggedRequest:
    at: datetime
    owner: str
    key_id: str
    method: str
    route: str
    status: int
    latency_ms: float
    # When the owner's account was made (none: no account, authentication failed).
    owner_since: datetime | None = None

    @property
    def since(self) -> datetime:
        """`owner_since` as the columns hold it."""
        return LEGACY_SINCE if self.owner_since is None else naive_utc(self.owner_since)


@dataclass(frozen=True)
class UsageOwner:
    """Whose use: a user's name and when their account was made (`User.created_at`).

    A row logged before requests said which account made them is taken for the account
    of its name only from the day after that account was made: on the day it was made,
    the row may be an earlier account's of the name, and is left to admins."""

    name: str
    since: datetime

    def rows_of(self, table: sa.Table) -> sa.ColumnElement[bool]:
        since = naive_utc(self.since)
        legacy = sa.and_(table.c.owner_since == LEGACY_SINCE, table.c.day > since.date())
        return sa.and_(table.c.owner == self.name, sa.or_(table.c.owner_since == since, legacy))


@dataclass(frozen=True)
class UsageRow:
    """Summed counters and latency bins of one group (its key columns in `group`)."""

    group: tuple[Any, ...]
    counters: dict[str, float]
    bins: Bins = field(default_factory=dict)


def _bucket(latency_ms: float) -> str:
    index = next((i for i, b in enumerate(LATENCY_BOUNDS_MS) if latency_ms <= b), len(BUCKETS) - 1)
    return BUCKETS[index]


def _fold(requests: Iterable[LoggedRequest]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The batch's rollup rows and latency bin rows."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    bins: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in requests:
        key = (r.at.astimezone(UTC).date(), r.owner, r.since, r.key_id, r.method, r.route)
        row = rows.get(key)
        if row is None:
            row = {**dict(zip(GROUPS, key, strict=True)), **dict.fromkeys(COUNTERS, 0)}
            rows[key] = row
        row["requests"] += 1
        row["client_errors"] += 400 <= r.status < 500
        row["server_errors"] += r.status >= 500
        row["latency_sum_ms"] += r.latency_ms
        row[_bucket(r.latency_ms)] += 1
        index = bin_of(r.latency_ms)
        bin_row = bins.get((*key, index))
        if bin_row is None:
            bin_row = {**dict(zip(GROUPS, key, strict=True)), "bin": index, "n": 0}
            bins[(*key, index)] = bin_row
        bin_row["n"] += 1
    return list(rows.values()), list(bins.values())


def _additive_upsert(
    connection: sa.Connection, table: sa.Table, keys: Sequence[str], counters: Sequence[str]
) -> sa.Executable:
    """Insert rows; on a key already there, add their counters to it."""
    if connection.dialect.name == "sqlite":
        insert = sqlite.insert(table)
        return insert.on_conflict_do_update(
            index_elements=[table.c[name] for name in keys],
            set_={name: table.c[name] + insert.excluded[name] for name in counters},
        )
    my_insert = mysql.insert(table)
    return my_insert.on_duplicate_key_update(
        {name: table.c[name] + my_insert.inserted[name] for name in counters}
    )


class UsageStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, requests: Sequence[LoggedRequest]) -> None:
        """Log a batch raw and fold it into the daily rollup, in one transaction."""
        if not requests:
            return
        raw = [
            {
                "at": naive_utc(r.at),
                "owner": r.owner,
                "owner_since": r.since,
                "key_id": r.key_id,
                "method": r.method,
                "route": r.route,
                "status": r.status,
                "latency_ms": r.latency_ms,
            }
            for r in requests
        ]
        folded, bins = _fold(requests)
        with self._engine.begin() as connection:
            connection.execute(sa.insert(api_requests_table), raw)
            connection.execute(
                _additive_upsert(connection, api_usage_daily_table, GROUPS, COUNTERS), folded
            )
            connection.execute(
                _additive_upsert(
                    connection, api_usage_latency_daily_table, (*GROUPS, "bin"), ("n",)
                ),
                bins,
            )

    def summed(
        self,
        *,
        start: date,
        end: date,
        by: Sequence[str] = (),
        owner: UsageOwner | None = None,
        key_id: str | None = None,
    ) -> list[UsageRow]:
        """Counters over the days [start, end] by the `by` columns of the rollup; `owner`'s
        only, or everyone's."""
        table = api_usage_daily_table
        groups = [table.c[name] for name in by]
        select = (
            sa.select(*groups, *(sa.func.sum(table.c[name]) for name in COUNTERS))
            .where(table.c.day >= start, table.c.day <= end)
            .group_by(*groups)
        )
        if owner is not None:
            select = select.where(owner.rows_of(table))
        if key_id is not None:
            select = select.where(table.c.key_id == key_id)
        latency = api_usage_latency_daily_table
        bin_groups = [latency.c[name] for name in by]
        bin_select = (
            sa.select(*bin_groups, latency.c.bin, sa.func.sum(latency.c.n))
            .where(latency.c.day >= start, latency.c.day <= end)
            .group_by(*bin_groups, latency.c.bin)
        )
        if owner is not None:
            bin_select = bin_select.where(owner.rows_of(latency))
        if key_id is not None:
            bin_select = bin_select.where(latency.c.key_id == key_id)
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
            bin_rows = connection.execute(bin_select).all()
        bins: dict[tuple[Any, ...], Bins] = {}
        for row in bin_rows:
            per_group = bins.setdefault(tuple(row[: len(by)]), {})
            per_group[int(row[len(by)])] = int(row[len(by) + 1])
        result = []
        for row in rows:
            values = row[len(groups) :]
            if values[0] is None:  # no row matched: SUM of nothing
                continue
            counters = {
                name: float(value or 0) for name, value in zip(COUNTERS, values, strict=True)
            }
            group = tuple(row[: len(groups)])
            result.append(UsageRow(group=group, counters=counters, bins=bins.get(group, {})))
        return result

    def purge(self, *, before: datetime, batch: int = 10_000) -> int:
        """Delete raw requests logged before then, a batch per transaction; the daily
        rollup, which the analytics read, is kept. Returns how many went."""
        table = api_requests_table
        purged = 0
        while True:
            with self._engine.begin() as connection:
                ids = (
                    connection.execute(
                        sa.select(table.c.id).where(table.c.at < naive_utc(before)).limit(batch)
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    return purged
                connection.execute(sa.delete(table).where(table.c.id.in_(ids)))
            purged += len(ids)

    def count_raw(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).select_from(api_requests_table)
                ).scalar_one()
            )
