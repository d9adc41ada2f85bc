"""Where API keys live (config store) and their quota counters (metrics store)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Engine

from smsfleet.core.sql import DateTimeColumn, config_metadata, metrics_metadata, naive_utc

__all__ = ["API_KEYS_COLLECTION", "QuotaStore", "api_key_usage_table", "api_keys_table"]

api_keys_table = sa.Table(
    "api_keys",
    config_metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("owner", sa.String(32), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("daily_quota", sa.Integer),
    sa.Column("monthly_quota", sa.Integer),
    sa.Column("created_at", DateTimeColumn, nullable=False),
    sa.Column("last_used_at", DateTimeColumn),
    sa.Column("revoked_at", DateTimeColumn),
)
API_KEYS_COLLECTION = "api_keys"

# Requests per key and calendar period (`d2026-11-22`, `m2026-11`, UTC).
api_key_usage_table = sa.Table(
    "api_key_usage",
    metrics_metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("period", sa.String(12), primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
    sa.Column("updated_at", DateTimeColumn, nullable=False),
)


class QuotaStore:
    """Counters shared by every replica: one atomic upsert per counted request."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def take(
        self, key_id: str, limits: dict[str, int | None], *, now: datetime
    ) -> tuple[dict[str, int], str | None]:
        """Count one request in each period, unless that takes one past its limit.

        Returns the counts and the period whose limit refused it (then nothing is
        counted), in one transaction, so concurrent requests never overshoot.
        """
        table = api_key_usage_table
        periods = list(limits)
        at = naive_utc(now)
        rows = [{"key_id": key_id, "period": p, "used": 1, "updated_at": at} for p in periods]
        mine = (table.c.key_id == key_id) & table.c.period.in_(periods)
        with self._engine.begin() as connection:
            upsert: sa.Executable
            if connection.dialect.name == "sqlite":
                insert = sqlite.insert(table).values(rows)
                upsert = insert.on_conflict_do_update(
                    index_elements=[table.c.key_id, table.c.period],
                    set_={"used": table.c.used + 1, "updated_at": insert.excluded.updated_at},
                )
            else:
                my_insert = mysql.insert(table).values(rows)
                upsert = my_insert.on_duplicate_key_update(
                    used=table.c.used + 1, updated_at=my_insert.inserted.updated_at
                )
            connection.execute(upsert)
            counts = {
                period: int(used)
                for period, used in connection.execute(
                    sa.select(table.c.period, table.c.used).where(mine)
                )
            }
            refused = next(
                (p for p, limit in limits.items() if limit is not None and counts[p] > limit), None
            )
            if refused is not None:
                connection.execute(sa.update(table).where(mine).values(used=table.c.used - 1))
                counts = {period: used - 1 for period, used in counts.items()}
        return counts, refused

    def used(self, key_id: str, periods: list[str]) -> dict[str, int]:
        table = api_key_usage_table
        with self._engine.connect() as connection:
            found = connection.execute(
                sa.select(table.c.period, table.c.used).where(
                    table.c.key_id == key_id, table.c.period.in_(periods)
                )
            ).all()
        return {period: int(used) for period, used in found}
