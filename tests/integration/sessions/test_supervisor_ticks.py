"""The supervisor records that it carries out the desired state: its leader's name and its
last completed tick, in the metrics database, written at most once every few seconds."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.sessions.ticks import RECORD_EVERY_SECONDS, LastTick, SupervisorTicks
from tests.support.metrics_stores import migrate_metrics
from tests.support.sessions import Fleet

T0 = datetime(2026, 12, 4, 7, 30, tzinfo=UTC)


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def writes_to(engine: Engine) -> list[str]:
    """The statements that change the ticks' table, as they run."""
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(*args: object) -> None:
        statement = str(args[2])
        if "supervisor_ticks" in statement and not statement.lstrip().startswith("SELECT"):
            seen.append(statement.split()[0])

    return seen


def test_ticks_are_written_at_most_every_few_seconds_and_read_back(
    metrics_engine: Engine,
) -> None:
    ticks = SupervisorTicks(metrics_engine)
    assert ticks.last() is None  # no supervisor ever ran
    writes = writes_to(metrics_engine)
    assert ticks.ticked("web1", T0)
    assert ticks.last() == LastTick(holder="web1", at=T0)
    written = len(writes)
    # Ticks of one second: none written until the record's pace has passed.
    assert not any(ticks.ticked("web1", seconds(n)) for n in range(1, int(RECORD_EVERY_SECONDS)))
    assert len(writes) == written
    assert ticks.last() == LastTick(holder="web1", at=T0)
    assert ticks.ticked("web1", seconds(RECORD_EVERY_SECONDS))
    assert ticks.last() == LastTick(holder="web1", at=seconds(RECORD_EVERY_SECONDS))
    # Another process (a replica that took over, or the next start) reads the same.
    assert SupervisorTicks(metrics_engine).last() == ticks.last()


def test_the_latest_leader_is_read_and_long_gone_ones_dropped(metrics_engine: Engine) -> None:
    first, second = SupervisorTicks(metrics_engine), SupervisorTicks(metrics_engine)
    assert first.ticked("web1:aa", T0)
    assert second.ticked("web2:bb", seconds(1))  # another leader: its own row, at once
    assert first.last() == LastTick(holder="web2:bb", at=seconds(1))
    a_day_later = T0 + timedelta(days=1, seconds=2)
    assert second.ticked("web2:bb", a_day_later)
    with metrics_engine.connect() as connection:
        holders = connection.execute(sa.text("SELECT holder FROM supervisor_ticks")).scalars()
        assert list(holders) == ["web2:bb"]


def test_each_completed_tick_is_recorded_with_the_leaders_name(
    fleet: Fleet, sqlite_metrics_engine: Engine
) -> None:
    ticks = SupervisorTicks(sqlite_metrics_engine)
    supervisor = fleet.supervisor(on_tick=ticks.ticked)
    supervisor.reconcile_once()
    first = fleet.clock.now()
    assert ticks.last() == LastTick(holder=supervisor.leadership.name, at=first)
    fleet.clock.advance(1)
    supervisor.reconcile_once()
    assert ticks.last() == LastTick(holder=supervisor.leadership.name, at=first)
    fleet.clock.advance(RECORD_EVERY_SECONDS)
    supervisor.reconcile_once()
    assert ticks.last() == LastTick(holder=supervisor.leadership.name, at=fleet.clock.now())


def test_a_tick_that_cannot_be_recorded_leaves_supervising_alone(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    told: list[tuple[str, datetime]] = []

    def unreachable(holder: str, at: datetime, *, stopped: bool = False) -> None:
        told.append((holder, at))
        raise sa.exc.OperationalError("INSERT", {}, ConnectionError("gone"))

    supervisor = fleet.supervisor(on_tick=unreachable)
    with caplog.at_level(logging.WARNING, logger="smsfleet.sessions.supervisor"):
        for _ in range(3):
            supervisor.reconcile_once()
            fleet.clock.advance(1)
    assert len(told) == 3  # each tick completed, and said so
    said = [r.message for r in caplog.records if "could not record" in r.message]
    assert len(said) == 1, said  # once per outage


def test_migration_0019_adds_the_ticks_to_a_0018_store_and_takes_them_back(
    metrics_engine: Engine,
) -> None:
    def tables() -> set[str]:
        return set(sa.inspect(metrics_engine).get_table_names())

    migrate_metrics(metrics_engine, "0018", down=True)
    assert "supervisor_ticks" not in tables()
    migrate_metrics(metrics_engine, "head")
    assert "supervisor_ticks" in tables()
    ticks = SupervisorTicks(metrics_engine)
    assert ticks.ticked("web1", T0)
    assert ticks.last() == LastTick(holder="web1", at=T0)


def test_a_leader_that_stops_records_it_at_once(
    fleet: Fleet, sqlite_metrics_engine: Engine
) -> None:
    ticks = SupervisorTicks(sqlite_metrics_engine)
    assert ticks.ticked("web1", T0)
    assert ticks.ticked("web1", seconds(1), stopped=True)  # within `every`: written all the same
    assert ticks.last() == LastTick(holder="web1", at=seconds(1), stopped=True)
    assert ticks.ticked("web1", seconds(10))  # it leads again
    assert ticks.last() == LastTick(holder="web1", at=seconds(10))
