"""The metrics store's dispatch tables: attempts, heartbeats and the SQL limiter's state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from smsfleet.core.sql import DateTimeColumn, metrics_metadata
from smsfleet.dispatch.models import Attempt, Outcome

__all__ = ["AttemptStore", "HeartbeatStore", "attempts_table", "session_heartbeats_table"]

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

attempts_table = sa.Table(
    "attempts",
    metrics_metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session", sa.String(80), nullable=False),
    sa.Column("pair", sa.String(40), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("operator", sa.String(32), nullable=False),
    sa.Column("program", sa.String(32), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("leased_at", DateTimeColumn, nullable=False),
    sa.Column("sent_at", DateTimeColumn),
    sa.Column("delivered_at", DateTimeColumn),
    sa.Column("completed_at", DateTimeColumn),
    sa.Column("outcome", sa.String(16)),
    sa.Column("error_code", sa.String(64)),
    sa.Column("latency_ms", sa.Integer),
    sa.Column("provider", sa.String(64)),
    sa.Index("ix_attempts_pair_leased_at", "pair", "leased_at"),
    sa.Index("ix_attempts_program_leased_at", "program", "leased_at"),
    sa.Index("ix_attempts_country_leased_at", "country", "leased_at"),
    sa.Index("ix_attempts_session_leased_at", "session", "leased_at"),
    sa.Index("ix_attempts_completed_at", "completed_at"),
)

session_heartbeats_table = sa.Table(
    "session_heartbeats",
    metrics_metadata,
    sa.Column("session", sa.String(80), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False),
)

# The SQL limiter: one row per country is the lock every decision of the country takes.
dispatch_countries_table = sa.Table(
    "dispatch_countries",
    metrics_metadata,
    sa.Column("country", sa.String(2), primary_key=True),
    sa.Column("last_grant_ms", sa.BigInteger),
)

dispatch_asks_table = sa.Table(
    "dispatch_asks",
    metrics_metadata,
    sa.Column("country", sa.String(2), primary_key=True),
    sa.Column("pair", sa.String(40), primary_key=True),
    sa.Column("program", sa.String(32), primary_key=True),
    sa.Column("last_ask_ms", sa.BigInteger, nullable=False),
    sa.Column("waiting_since_ms", sa.BigInteger),
    sa.Column("due_ms", sa.BigInteger, nullable=False),
    sa.Column("pair_weight", sa.Double, nullable=False),
    sa.Column("program_weight", sa.Double, nullable=False),
)

dispatch_grants_table = sa.Table(
    "dispatch_grants",
    metrics_metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("pair", sa.String(40), nullable=False),
    sa.Column("program", sa.String(32), nullable=False),
    sa.Index("ix_dispatch_grants_country_at_ms", "country", "at_ms"),
)


def _naive(value: datetime | None) -> datetime | None:
    # SQL columns hold naive UTC, as everywhere in core.sql.
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class AttemptStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, attempt: Attempt) -> None:
        values: dict[str, Any] = attempt.model_dump()
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = _naive(value)
        with self._engine.begin() as connection:
            connection.execute(sa.insert(attempts_table).values(**values))

    def add_many(self, attempts: Sequence[Attempt]) -> None:
        """Insert several attempts in one statement and transaction (bulk ingest)."""
        if not attempts:
            return
        rows = []
        for attempt in attempts:
            values: dict[str, Any] = attempt.model_dump()
            rows.append(
                {name: _naive(v) if isinstance(v, datetime) else v for name, v in values.items()}
            )
        with self._engine.begin() as connection:
            connection.execute(sa.insert(attempts_table), rows)

    def get(self, trigger_id: str) -> Attempt | None:
        query = sa.select(attempts_table).where(attempts_table.c.id == trigger_id)
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return Attempt.model_validate(dict(row)) if row else None

    def recent(self, *, limit: int, **equals: str) -> list[Attempt]:
        """The newest `limit` attempts whose columns equal `equals`, newest first."""
        query = sa.select(attempts_table)
        for name, value in equals.items():
            query = query.where(attempts_table.c[name] == value)
        query = query.order_by(attempts_table.c.leased_at.desc(), attempts_table.c.id)
        with self._engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).mappings()
            return [Attempt.model_validate(dict(row)) for row in rows]

    def last_phone(self, pair: str) -> str | None:
        """The number the pair's latest attempt went to (phone rotation)."""
        query = (
            sa.select(attempts_table.c.phone)
            .where(attempts_table.c.pair == pair)
            .order_by(attempts_table.c.leased_at.desc())
            .limit(1)
        )
        with self._engine.connect() as connection:
            phone: str | None = connection.execute(query).scalar()
        return phone

    def complete(
        self,
        trigger_id: str,
        *,
        outcome: Outcome,
        completed_at: datetime,
        sent_at: datetime | None = None,
        delivered_at: datetime | None = None,
        error_code: str | None = None,
        latency_ms: int | None = None,
        provider: str | None = None,
    ) -> bool:
        """Record the outcome of an open attempt; False when it was already closed."""
        query = (
            sa.update(attempts_table)
            .where(attempts_table.c.id == trigger_id, attempts_table.c.outcome.is_(None))
            .values(
                outcome=outcome.value,
                completed_at=_naive(completed_at),
                sent_at=_naive(sent_at),
                delivered_at=_naive(delivered_at),
                error_code=error_code,
                latency_ms=latency_ms,
                provider=provider,
            )
        )
        with self._engine.begin() as connection:
            return bool(connection.execute(query).rowcount)

    def expire_open_attempts(
        self, *, leased_before: datetime, now: datetime, session: str
    ) -> list[Attempt]:
        """As `expire_open` for one session, returning the attempts it closed."""
        query = sa.select(attempts_table).where(
            attempts_table.c.session == session,
            attempts_table.c.outcome.is_(None),
            attempts_table.c.leased_at < _naive(leased_before),
        )
        with self._engine.begin() as connection:
            rows = connection.execute(query).mappings().all()
            if not rows:
                return []
            ids = [row["id"] for row in rows]
            connection.execute(
                sa.update(attempts_table)
                .where(attempts_table.c.id.in_(ids), attempts_table.c.outcome.is_(None))
                .values(
                    outcome=Outcome.error.value,
                    error_code="lease_expired",
                    completed_at=_naive(now),
                )
            )
        return [
            Attempt.model_validate(
                {
                    **row,
                    "outcome": Outcome.error,
                    "error_code": "lease_expired",
                    "completed_at": now,
                }
            )
            for row in rows
        ]

    def expire_open(
        self, *, leased_before: datetime, now: datetime, session: str | None = None
    ) -> int:
        """Close attempts leased before `leased_before` that were never reported."""
        query = sa.update(attempts_table).where(
            attempts_table.c.outcome.is_(None),
            attempts_table.c.leased_at < _naive(leased_before),
        )
        if session is not None:
            query = query.where(attempts_table.c.session == session)
        query = query.values(
            outcome=Outcome.error.value, error_code="lease_expired", completed_at=_naive(now)
        )
        with self._engine.begin() as connection:
            return int(connection.execute(query).rowcount)


class HeartbeatStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def beat(self, session: str, at: datetime) -> None:
        table = session_heartbeats_table
        moment = _naive(at)
        update = sa.update(table).where(table.c.session == session).values(at=moment)
        with self._engine.begin() as connection:
            if connection.execute(update).rowcount:
                return
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(table).values(session=session, at=moment))
        except IntegrityError:  # a concurrent first beat inserted it: update instead
            with self._engine.begin() as connection:
                connection.execute(update)

    def all(self) -> dict[str, datetime]:
        table = session_heartbeats_table
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(table.c.session, table.c.at)).all()
        return {session: _aware(at) for session, at in rows}
