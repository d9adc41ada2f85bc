"""Session heartbeats on a real MariaDB: processes writing the same sessions at once, and
a store that goes away between writes.

Each `HeartbeatStore` stands for one control-plane process (its own engine and pool).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.dispatch.store import HeartbeatStore
from tests.support.chaos import CuttableProxy

SESSIONS = [f"program1_{country}_load" for country in ("UZ", "KZ", "TJ", "KG", "AZ", "GE")]
ROUNDS = 150
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_processes_writing_the_same_sessions_at_once_never_fail(migrated_mariadb_url: str) -> None:
    # Each round's beats are written together, and the two processes see the sessions
    # in opposite orders: rows locked in different orders would deadlock.
    engines = [create_sql_engine(migrated_mariadb_url) for _ in range(2)]
    stores = [HeartbeatStore(engine, flush_interval=3600) for engine in engines]
    orders = [SESSIONS, SESSIONS[::-1]]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(store: HeartbeatStore, order: list[str]) -> None:
        start.wait()
        try:
            for round_ in range(ROUNDS):
                for session in order:
                    store.beat(session, T0 + timedelta(milliseconds=round_))
                store.flush()
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=write, args=(store, order))
        for store, order in zip(stores, orders, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors, errors[0]
        latest = T0 + timedelta(milliseconds=ROUNDS - 1)
        for store in stores:
            assert store.all() == dict.fromkeys(SESSIONS, latest)
    finally:
        for store, engine in zip(stores, engines, strict=True):
            store.close()
            engine.dispose()


def test_a_beat_while_the_store_is_away_is_kept_and_written_later(
    metrics_through_proxy: tuple[str, CuttableProxy],
) -> None:
    url, proxy = metrics_through_proxy
    engine = create_sql_engine(url)
    upgrade_metrics_schema(engine)
    store = HeartbeatStore(engine, flush_interval=0)
    try:
        store.beat(SESSIONS[0], T0)
        proxy.cut()
        # The lease or report that beats must not fail for the heartbeat's sake.
        store.beat(SESSIONS[1], T0 + timedelta(seconds=1))
        proxy.restore()
        store.flush()
    finally:
        store.close()
        engine.dispose()
    reader_engine = create_sql_engine(url)
    reader = HeartbeatStore(reader_engine)
    try:
        assert reader.all() == {SESSIONS[0]: T0, SESSIONS[1]: T0 + timedelta(seconds=1)}
    finally:
        reader.close()
        reader_engine.dispose()


class _FirstWriteHeldThenFailed:
    """The engine's first heartbeat write waits to be let go, then fails (the store away
    just then); the later ones go through. Writes are counted."""

    def __init__(self, engine: Engine) -> None:
        self.writing = threading.Event()
        self.let_go = threading.Event()
        self.writes = 0
        sa.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, *args: Any) -> None:
        statement: str = args[2]
        if "session_heartbeats" not in statement or statement.startswith("SELECT"):
            return
        self.writes += 1
        if self.writes == 1:
            self.writing.set()
            self.let_go.wait(timeout=30)
            raise OperationalError(statement, {}, Exception("the store is away"))


def test_a_close_during_a_failing_timed_write_still_writes_its_beats(
    migrated_mariadb_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Shutting down while the timer's write is in flight: close waits for it, and the
    beats it gives back are written, not dropped with the process."""
    engine = create_sql_engine(migrated_mariadb_url)
    faults = _FirstWriteHeldThenFailed(engine)
    store = HeartbeatStore(engine, flush_interval=0)
    try:
        store.beat(SESSIONS[0], T0)  # the timer's write starts at once
        assert faults.writing.wait(timeout=30)
        closing = threading.Thread(target=store.close)
        closing.start()
        closing.join(timeout=0.2)
        assert closing.is_alive()  # waiting for the write in flight
        with caplog.at_level(logging.ERROR, logger="smsfleet.dispatch"):
            faults.let_go.set()
            closing.join(timeout=30)
        assert not closing.is_alive()
        assert faults.writes == 2
        assert HeartbeatStore(engine).all() == {SESSIONS[0]: T0}
    finally:
        faults.let_go.set()
        engine.dispose()


def test_a_stop_told_reads_the_same_in_every_process_and_never_goes_back(
    migrated_mariadb_url: str,
) -> None:
    engines = [create_sql_engine(migrated_mariadb_url) for _ in range(2)]
    first, second = (HeartbeatStore(engine, flush_interval=3600) for engine in engines)
    try:
        session, other = SESSIONS[:2]
        first.beat(session, T0 + timedelta(seconds=2), stop_told=True)
        first.beat(other, T0 + timedelta(seconds=2))
        first.flush()
        assert second.stop_told_at(session) == T0 + timedelta(seconds=2)
        assert second.stop_told_at(other) is None
        # An older stop flushed later by the other process leaves the newer one.
        second.beat(session, T0 + timedelta(seconds=1), stop_told=True)
        second.flush()
        assert first.stop_told_at(session) == T0 + timedelta(seconds=2)
    finally:
        for store, engine in zip((first, second), engines, strict=True):
            store.close()
            engine.dispose()
