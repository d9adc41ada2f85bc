"""The request log (`api_requests`) and its daily rollup (`api_usage_daily`), metrics store.

Every batch of logged requests is inserted raw and folded, in the same
transaction, into one row per day, owner, key, method and route with counters
and a latency histogram: the analytics read only the rollup, so they answer in
milliseconds whatever the size of the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Engine

from smsfleet.core.sql import DateTimeColumn, metrics_metadata, naive_utc
from smsfleet.developer.models import LATENCY_BOUNDS_MS

__all__ = ["LoggedRequest", "UsageRow", "UsageStore", "api_requests_table", "api_usage_daily_table"]

BUCKETS = tuple(f"b{index:02d}" for index in range(len(LATENCY_BOUNDS_MS) + 1))
COUNTERS = ("requests", "client_errors", "server_errors", "latency_sum_ms", *BUCKETS)
GROUPS = ("day", "owner", "key_id", "method", "route")

api_requests_table = sa.Table(
    "api_requests",
    metrics_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False),
    sa.Column("owner", sa.String(32), nullable=False),
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
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("method", sa.String(8), primary_key=True),
    sa.Column("route", sa.String(160), primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in COUNTERS[:3]),
    sa.Column("latency_sum_ms", sa.Float, nullable=False),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in BUCKETS),
    sa.Index("ix_api_usage_daily_key_day", "key_id", "day"),
    sa.Index("ix_api_usage_daily_owner_day", "owner", "day"),
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


@dataclass(frozen=True)
class UsageRow:
    """Summed counters of one group (its key columns in `group`)."""

    group: tuple[Any, ...]
    counters: dict[str, float]


def _bucket(latency_ms: float) -> str:
    index = next((i for i, b in enumerate(LATENCY_BOUNDS_MS) if latency_ms <= b), len(BUCKETS) - 1)
    return BUCKETS[index]


def _fold(requests: Iterable[LoggedRequest]) -> list[dict[str, Any]]:
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in requests:
        key = (r.at.astimezone(UTC).date(), r.owner, r.key_id, r.method, r.route)
        row = rows.get(key)
        if row is None:
            row = {**dict(zip(GROUPS, key, strict=True)), **dict.fromkeys(COUNTERS, 0)}
            rows[key] = row
        row["requests"] += 1
        row["client_errors"] += 400 <= r.status < 500
        row["server_errors"] += r.status >= 500
        row["latency_sum_ms"] += r.latency_ms
        row[_bucket(r.latency_ms)] += 1
    return list(rows.values())


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
                "key_id": r.key_id,
                "method": r.method,
                "route": r.route,
                "status": r.status,
                "latency_ms": r.latency_ms,
            }
            for r in requests
        ]
        folded = _fold(requests)
        table = api_usage_daily_table
        with self._engine.begin() as connection:
            connection.execute(sa.insert(api_requests_table), raw)
            upsert: sa.Executable
            if connection.dialect.name == "sqlite":
                insert = sqlite.insert(table)
                upsert = insert.on_conflict_do_update(
                    index_elements=[table.c[name] for name in GROUPS],
                    set_={name: table.c[name] + insert.excluded[name] for name in COUNTERS},
                )
            else:
                my_insert = mysql.insert(table)
                upsert = my_insert.on_duplicate_key_update(
                    {name: table.c[name] + my_insert.inserted[name] for name in COUNTERS}
                )
            connection.execute(upsert, folded)

    def summed(
        self,
        *,
        start: date,
        end: date,
        by: Sequence[str] = (),
        owner: str | None = None,
        key_id: str | None = None,
    ) -> list[UsageRow]:
        """Counters over the days [start, end] by the `by` columns of the rollup."""
        table = api_usage_daily_table
        groups = [table.c[name] for name in by]
        select = (
            sa.select(*groups, *(sa.func.sum(table.c[name]) for name in COUNTERS))
            .where(table.c.day >= start, table.c.day <= end)
            .group_by(*groups)
        )
        if owner is not None:
            select = select.where(table.c.owner == owner)
        if key_id is not None:
            select = select.where(table.c.key_id == key_id)
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
        result = []
        for row in rows:
            values = row[len(groups) :]
            if values[0] is None:  # no row matched: SUM of nothing
                continue
            counters = {
                name: float(value or 0) for name, value in zip(COUNTERS, values, strict=True)
            }
            result.append(UsageRow(group=tuple(row[: len(groups)]), counters=counters))
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
