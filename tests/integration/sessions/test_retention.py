"""Session events past the retention deleted in batches, on every config store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsfleet.core.retention import build_retention
from smsfleet.sessions.models import EventKind, SessionEvent
from smsfleet.stores import ConfigStore
from tests.support.fakes import FakeClock
from tests.support.retention import batches

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def add_events(store: ConfigStore, days: list[int]) -> list[str]:
    """An event that many days ago for each of `days`: their ids."""
    ids = []
    for number, ago in enumerate(days):
        event = SessionEvent(
            id=f"event-{number:03d}",
            at=NOW - timedelta(days=ago),
            session="UZ_uzmobile-pgood",
            kind=EventKind.running,
            actor="supervisor",
        )
        store.session_events.append(event)
        ids.append(event.id)
    return ids


def kept(store: ConfigStore) -> set[str]:
    return {event.id for event in store.session_events.recent(limit=100)}


def test_session_events_past_the_retention_go_newer_ones_stay(config_store: ConfigStore) -> None:
    ids = add_events(config_store, [402, 401, 400, 364, 10])
    retention = build_retention(
        "session_events",
        config_store.session_events.forget_before,
        days=365,
        clock=FakeClock(NOW),
    )
    assert retention.job.run_once() == 3
    assert kept(config_store) == set(ids[3:])


def test_session_events_go_oldest_first_a_batch_at_a_time(config_store: ConfigStore) -> None:
    ids = add_events(config_store, [402, 401, 400, 10])
    cutoff = NOW - timedelta(days=365)
    assert batches(
        config_store.session_events.forget_before, cutoff, limit=2, kept=lambda: kept(config_store)
    ) == [
        (2, set(ids[2:])),
        (1, set(ids[3:])),
        (0, set(ids[3:])),
    ]
