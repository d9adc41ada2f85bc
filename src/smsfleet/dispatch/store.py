"""The metrics store's dispatch tables: heartbeats and the SQL limiter's state."""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.sql import (
    DateTimeColumn,
    aware_utc,
    in_transaction_again_on_race,
    metrics_metadata,
    naive_utc,
)

log = logging.getLogger("smsfleet.dispatch")

__all__ = ["HeartbeatStore", "session_heartbeats_table"]

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

session_heartbeats_table = sa.Table(
    "session_heartbeats",
    metrics_metadata,
    sa.Column("session", sa.String(80), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False),
    # When a lease of the session was last answered `stop`: its program then ends as asked.
    sa.Column("stop_told_at", DateTimeColumn, nullable=True),
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


class HeartbeatStore:
    """The last sign of life of every session, and when its lease was last answered
    `stop`, written at most once a `flush_interval`.

    A beat is kept in memory and written with the others pending in one transaction
    by a timer, at most once a `flush_interval` (`close` writes the rest).
    `all` and `stop_told_at` merge what this process holds with what the table holds.
    """

    def __init__(self, engine: Engine, *, flush_interval: float = 1.0) -> None:
        self._engine = engine
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        # One write at a time: a flush waits for the timer's write in flight, so beats
        # that write gives back (it failed) are written by the flush, never left behind.
        self._writing = threading.Lock()
        self._pending: dict[str, datetime] = {}
        self._latest: dict[str, datetime] = {}
        self._pending_stops: dict[str, datetime] = {}
        self._latest_stops: dict[str, datetime] = {}
        self._last_flush = -math.inf
        self._timer: threading.Timer | None = None
        self._closed = False

    def beat(self, session: str, at: datetime, *, stop_told: bool = False) -> None:
        """A sign of life of `session` at `at`; `stop_told`: its lease was answered `stop`."""
        with self._lock:
            _keep_latest(self._latest, session, at)
            _keep_latest(self._pending, session, at)
            if stop_told:
                _keep_latest(self._latest_stops, session, at)
                _keep_latest(self._pending_stops, session, at)
            if not self._closed:
                # Written by a timer, never by the caller: a beat does no I/O of its own
                # (the heartbeat route runs on the event loop).
                if self._timer is None:
                    wait = self._last_flush + self._flush_interval - time.monotonic()
                    self._timer = threading.Timer(max(wait, 0.0), self._flush_kept)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self._flush_kept()

    def _flush_kept(self) -> None:
        try:
            self.flush()
        except Exception:  # the beats stay pending for the next write
            log.exception("writing session heartbeats failed")

    def flush(self) -> None:
        """Write the pending beats now (one transaction)."""
        with self._writing:
            with self._lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                pending, self._pending = self._pending, {}
                stops, self._pending_stops = self._pending_stops, {}
                self._last_flush = time.monotonic()
            if not pending:
                return
            try:
                self._write(pending, stops)
            except BaseException:
                with self._lock:  # keep them, unless a newer beat came meanwhile
                    for session, at in pending.items():
                        _keep_latest(self._pending, session, at)
                    for session, at in stops.items():
                        _keep_latest(self._pending_stops, session, at)
                raise

    def _write(self, beats: dict[str, datetime], stops: dict[str, datetime]) -> None:
        # Rows are written in one order in every process, so two writes wait for each
        # other instead of each locking a row the other needs next (a deadlock).
        beats = dict(sorted(beats.items()))
        table = session_heartbeats_table
        update = (
            sa.update(table)
            .where(table.c.session == sa.bindparam("b_session"))
            .values(at=sa.bindparam("b_at"))
        )
        told = (
            sa.update(table)
            .where(
                table.c.session == sa.bindparam("b_session"),
                # Never back: another process may write an older stop after a newer one.
                sa.or_(table.c.stop_told_at.is_(None), table.c.stop_told_at < sa.bindparam("b_at")),
            )
            .values(stop_told_at=sa.bindparam("b_at"))
        )

        def write(connection: sa.Connection) -> None:
            existing = set(
                connection.execute(
                    sa.select(table.c.session).where(table.c.session.in_(list(beats)))
                ).scalars()
            )
            known = [
                {"b_session": s, "b_at": naive_utc(at)} for s, at in beats.items() if s in existing
            ]
            new = [
                {"session": s, "at": naive_utc(at)} for s, at in beats.items() if s not in existing
            ]
            if known:
                connection.execute(update, known)
            if new:
                connection.execute(sa.insert(table), new)
            if stops:  # each told with a beat: its row is written above
                connection.execute(
                    told,
                    [{"b_session": s, "b_at": naive_utc(at)} for s, at in sorted(stops.items())],
                )

        # Another process may insert a session's first beat meanwhile, or deadlock with this
        # write (rows locked in one order make that rare, not impossible under load).
        in_transaction_again_on_race(self._engine, write)

    def close(self) -> None:
        """Write what is pending; later beats are written at once."""
        with self._lock:
            self._closed = True
        self.flush()

    def all(self) -> dict[str, datetime]:
        table = session_heartbeats_table
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(table.c.session, table.c.at)).all()
        beats = {session: aware_utc(at) for session, at in rows}
        with self._lock:
            latest = dict(self._latest)
        for session, at in latest.items():
            _keep_latest(beats, session, at)
        return beats

    def stop_told_at(self, session: str) -> datetime | None:
        """When a lease of `session` was last answered `stop`, by any process."""
        table = session_heartbeats_table
        with self._engine.connect() as connection:
            stored = connection.execute(
                sa.select(table.c.stop_told_at).where(table.c.session == session)
            ).scalar()
        with self._lock:
            held = self._latest_stops.get(session)
        told = [at for at in (aware_utc(stored) if stored else None, held) if at is not None]
        return max(told, default=None)


def _keep_latest(times: dict[str, datetime], session: str, at: datetime) -> None:
    if (known := times.get(session)) is None or at >= known:
        times[session] = at
