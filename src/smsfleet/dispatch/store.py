"""The metrics store's dispatch tables: attempts, heartbeats and the SQL limiter's state."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from smsfleet.core.sql import DateTimeColumn, metrics_metadata, naive_utc, pages_since
from smsfleet.dispatch.models import Attempt, Outcome

log = logging.getLogger("smsfleet.dispatch")

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
    # A number's conversation, and the attempt an inbound SMS verifies.
    sa.Index("ix_attempts_phone_leased_at", "phone", "leased_at"),
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
    sa.Column("last_slot_ms", sa.BigInteger),
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


def _row(attempt: Attempt) -> dict[str, Any]:
    values: dict[str, Any] = attempt.model_dump()
    return {name: naive_utc(v) if isinstance(v, datetime) else v for name, v in values.items()}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class AttemptStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, attempt: Attempt) -> None:
        self.add_many([attempt])

    def add_many(self, attempts: Sequence[Attempt]) -> None:
        """Insert several attempts in one statement and transaction (bulk ingest)."""
        if not attempts:
            return
        with self._engine.begin() as connection:
            connection.execute(sa.insert(attempts_table), [_row(a) for a in attempts])

    def get(self, trigger_id: str) -> Attempt | None:
        query = sa.select(attempts_table).where(attempts_table.c.id == trigger_id)
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return Attempt.model_validate(dict(row)) if row else None

    def recent(
        self, *, limit: int, leased_before: datetime | None = None, **equals: str
    ) -> list[Attempt]:
        """The newest `limit` attempts (leased before then, if given) whose columns equal
        `equals`, newest first."""
        query = sa.select(attempts_table)
        for name, value in equals.items():
            query = query.where(attempts_table.c[name] == value)
        if leased_before is not None:
            query = query.where(attempts_table.c.leased_at < naive_utc(leased_before))
        query = query.order_by(attempts_table.c.leased_at.desc(), attempts_table.c.id)
        with self._engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).mappings()
            return [Attempt.model_validate(dict(row)) for row in rows]

    def completed_since(
        self, since: datetime | None, *, size: int = 1000
    ) -> Iterator[list[Attempt]]:
        """Attempts completed since then (None: all), oldest first, `size` a page."""
        table = attempts_table
        for rows in pages_since(
            self._engine,
            sa.select(table).where(table.c.completed_at.is_not(None)),
            moment=table.c.completed_at,
            tiebreak=table.c.id,
            since=since,
            size=size,
        ):
            yield [Attempt.model_validate(row) for row in rows]

    def open_in_pair(self, pair: str, *, leased_since: datetime) -> list[tuple[str, str, str]]:
        """(id, session, phone) of the pair's attempts leased since then, not yet reported."""
        table = attempts_table
        query = sa.select(table.c.id, table.c.session, table.c.phone).where(
            table.c.pair == pair,
            table.c.leased_at >= naive_utc(leased_since),
            table.c.outcome.is_(None),
        )
        with self._engine.connect() as connection:
            return [(id_, session, phone) for id_, session, phone in connection.execute(query)]

    def close_lost(self, ids: Sequence[str], *, session: str, now: datetime) -> list[Attempt]:
        """Close the session's open attempts that its program says it does not carry."""
        query = sa.select(attempts_table).where(
            attempts_table.c.id.in_(list(ids)),
            attempts_table.c.session == session,
            attempts_table.c.outcome.is_(None),
        )
        with self._engine.begin() as connection:
            return self._close(connection, query, error_code="lease_lost", now=now)

    def granted_by_country(self, *, since: datetime) -> dict[str, tuple[int, int]]:
        """Per country: attempts leased since then, and how many the provider refused."""
        table = attempts_table
        refused = sa.func.sum(sa.case((table.c.outcome == Outcome.send_failed.value, 1), else_=0))
        query = (
            sa.select(table.c.country, sa.func.count(), refused)
            .where(table.c.leased_at >= naive_utc(since))
            .group_by(table.c.country)
        )
        with self._engine.connect() as connection:
            return {
                country: (int(count), int(failed or 0))
                for country, count, failed in connection.execute(query)
            }

    def awaiting_by_country(
        self, *, leased_since: datetime, now: datetime
    ) -> dict[str, tuple[int, int]]:
        """Per country: attempts leased since then and not yet reported, and how many of
        them were leased over a minute ago."""
        table = attempts_table
        stale = sa.func.sum(
            sa.case((table.c.leased_at < naive_utc(now - timedelta(minutes=1)), 1), else_=0)
        )
        query = (
            sa.select(table.c.country, sa.func.count(), stale)
            .where(table.c.leased_at >= naive_utc(leased_since), table.c.outcome.is_(None))
            .group_by(table.c.country)
        )
        with self._engine.connect() as connection:
            return {
                country: (int(count), int(old or 0))
                for country, count, old in connection.execute(query)
            }

    def cycle_seconds(
        self, pair: str, *, sample: int, open_since: datetime, now: datetime
    ) -> tuple[float, int] | None:
        """Mean lease-to-report time of the pair, and how many completed attempts it saw.

        Measured on the latest `sample` completed attempts and on the attempts still
        open (leased since `open_since`), counted at their age so far: an SMS that is
        never delivered completes only when the gateway gives up, and left out it would
        make the first minutes look faster than they are.
        """
        table = attempts_table
        completed = (
            sa.select(table.c.leased_at, table.c.completed_at)
            .where(table.c.pair == pair, table.c.completed_at.is_not(None))
            .order_by(table.c.leased_at.desc())
            .limit(sample)
        )
        still_open = sa.select(table.c.leased_at).where(
            table.c.pair == pair,
            table.c.leased_at >= naive_utc(open_since),
            table.c.outcome.is_(None),
        )
        with self._engine.connect() as connection:
            done = connection.execute(completed).all()
            waiting = connection.execute(still_open).scalars().all()
        if not done:
            return None
        spans = [max(0.0, (end - start).total_seconds()) for start, end in done]
        spans += [max(0.0, (now - _aware(start)).total_seconds()) for start in waiting]
        return float(sum(spans) / len(spans)), len(done)

    def lease(
        self,
        make: Callable[[str | None, frozenset[str]], Attempt],
        *,
        expire_before: datetime | None,
        now: datetime,
        open_since: datetime,
    ) -> tuple[Attempt, list[Attempt]]:
        """Open an attempt in one transaction: expire the session's stale leases first.

        `make` is given the number the pair's latest attempt went to (phone rotation) and
        the numbers awaiting a code (attempts leased since `open_since`, not yet
        reported), and returns the attempt to insert. With `expire_before`, the session's
        open attempts leased before it are closed as `lease_expired` and returned.
        """
        probe = make(None, frozenset())
        table = attempts_table
        with self._engine.begin() as connection:
            expired: list[Attempt] = []
            if expire_before is not None:
                expired = self._expire(
                    connection, session=probe.session, leased_before=expire_before, now=now
                )
            last = connection.execute(
                sa.select(table.c.phone)
                .where(table.c.pair == probe.pair)
                .order_by(table.c.leased_at.desc())
                .limit(1)
            ).scalar()
            busy = connection.execute(
                sa.select(table.c.phone).where(
                    table.c.pair == probe.pair,
                    table.c.leased_at >= naive_utc(open_since),
                    table.c.outcome.is_(None),
                )
            ).scalars()
            attempt = make(last, frozenset(busy))
            connection.execute(sa.insert(attempts_table).values(**_row(attempt)))
        return attempt, expired

    def report(
        self,
        trigger_id: str,
        *,
        session: str,
        outcome: Outcome,
        completed_at: datetime,
        sent_at: datetime | None = None,
        delivered_at: datetime | None = None,
        error_code: str | None = None,
        latency_ms: int | None = None,
        provider: str | None = None,
    ) -> tuple[Attempt | None, bool]:
        """Record the outcome of the session's open attempt, in one transaction.

        Returns the attempt as stored after the call (None when unknown) and whether
        this call closed it. An attempt of another session is left unchanged.
        """
        table = attempts_table
        query = (
            sa.update(table)
            .where(
                table.c.id == trigger_id,
                table.c.session == session,
                table.c.outcome.is_(None),
            )
            .values(
                outcome=outcome.value,
                completed_at=naive_utc(completed_at),
                sent_at=naive_utc(sent_at),
                delivered_at=naive_utc(delivered_at),
                error_code=error_code,
                latency_ms=latency_ms,
                provider=provider,
            )
        )
        with self._engine.begin() as connection:
            closed = bool(connection.execute(query).rowcount)
            row = (
                connection.execute(sa.select(table).where(table.c.id == trigger_id))
                .mappings()
                .first()
            )
        return (Attempt.model_validate(dict(row)) if row else None), closed

    def _expire(
        self, connection: sa.Connection, *, session: str, leased_before: datetime, now: datetime
    ) -> list[Attempt]:
        query = sa.select(attempts_table).where(
            attempts_table.c.session == session,
            attempts_table.c.outcome.is_(None),
            attempts_table.c.leased_at < naive_utc(leased_before),
        )
        return self._close(connection, query, error_code="lease_expired", now=now)

    def _close(
        self, connection: sa.Connection, query: sa.Select[Any], *, error_code: str, now: datetime
    ) -> list[Attempt]:
        """Give the open attempts `query` selects up as errors with `error_code`."""
        rows = connection.execute(query).mappings().all()
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        connection.execute(
            sa.update(attempts_table)
            .where(attempts_table.c.id.in_(ids), attempts_table.c.outcome.is_(None))
            .values(
                outcome=Outcome.error.value,
                error_code=error_code,
                completed_at=naive_utc(now),
            )
        )
        return [
            Attempt.model_validate(
                {
                    **row,
                    "outcome": Outcome.error,
                    "error_code": error_code,
                    "completed_at": now,
                }
            )
            for row in rows
        ]


class HeartbeatStore:
    """The last sign of life of every session, written at most once a `flush_interval`.

    A beat is kept in memory and written with the others pending in one transaction
    once `flush_interval` seconds have passed since the last write (a timer writes
    what is still pending when no further beat comes; `close` writes the rest).
    `all` merges what this process holds with what the table holds.
    """

    def __init__(self, engine: Engine, *, flush_interval: float = 1.0) -> None:
        self._engine = engine
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        self._pending: dict[str, datetime] = {}
        self._latest: dict[str, datetime] = {}
        self._last_flush = -math.inf
        self._timer: threading.Timer | None = None
        self._closed = False

    def beat(self, session: str, at: datetime) -> None:
        with self._lock:
            if (known := self._latest.get(session)) is None or at >= known:
                self._latest[session] = at
            if (pending := self._pending.get(session)) is None or at >= pending:
                self._pending[session] = at
            wait = self._last_flush + self._flush_interval - time.monotonic()
            if wait > 0 and not self._closed:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._flush_kept)
                    self._timer.daemon = True
                    self._timer.start()
                return
        # The lease or report that beats does not fail for its heartbeat's sake.
        self._flush_kept()

    def _flush_kept(self) -> None:
        try:
            self.flush()
        except Exception:  # the beats stay pending for the next write
            log.exception("writing session heartbeats failed")

    def flush(self) -> None:
        """Write the pending beats now (one transaction)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return
        try:
            self._write(pending)
        except BaseException:
            with self._lock:  # keep them, unless a newer beat came meanwhile
                for session, at in pending.items():
                    if session not in self._pending or self._pending[session] < at:
                        self._pending[session] = at
            raise

    def _write(self, beats: dict[str, datetime]) -> None:
        # Rows are written in one order in every process, so two writes wait for each
        # other instead of each locking a row the other needs next (a deadlock).
        beats = dict(sorted(beats.items()))
        table = session_heartbeats_table
        update = (
            sa.update(table)
            .where(table.c.session == sa.bindparam("b_session"))
            .values(at=sa.bindparam("b_at"))
        )
        for attempt in range(3):
            try:
                with self._engine.begin() as connection:
                    existing = set(
                        connection.execute(
                            sa.select(table.c.session).where(table.c.session.in_(list(beats)))
                        ).scalars()
                    )
                    known = [
                        {"b_session": s, "b_at": naive_utc(at)}
                        for s, at in beats.items()
                        if s in existing
                    ]
                    new = [
                        {"session": s, "at": naive_utc(at)}
                        for s, at in beats.items()
                        if s not in existing
                    ]
                    if known:
                        connection.execute(update, known)
                    if new:
                        connection.execute(sa.insert(table), new)
                return
            except IntegrityError:  # another process inserted a first beat: again
                if attempt == 2:
                    raise

    def close(self) -> None:
        """Write what is pending; later beats are written at once."""
        with self._lock:
            self._closed = True
        self.flush()

    def all(self) -> dict[str, datetime]:
        table = session_heartbeats_table
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(table.c.session, table.c.at)).all()
        beats = {session: _aware(at) for session, at in rows}
        with self._lock:
            latest = dict(self._latest)
        for session, at in latest.items():
            if session not in beats or beats[session] < at:
                beats[session] = at
        return beats
