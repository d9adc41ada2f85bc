"""The retention: records past it are deleted a batch at a time, on the leader only."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from smsfleet.core.retention import FORGET_BATCH, build_retention, forget_old
from tests.support.fakes import FakeClock


class Held:
    """A store of `held` records older than any retention asked about."""

    def __init__(self, held: int) -> None:
        self.held = held
        self.asked: list[tuple[datetime, int]] = []

    def forget_before(self, at: datetime, *, limit: int) -> int:
        self.asked.append((at, limit))
        removed = min(limit, self.held)
        self.held -= removed
        return removed


def test_records_go_a_batch_at_a_time_until_a_batch_is_short() -> None:
    clock = FakeClock()
    store = Held(held=25)
    retention = timedelta(days=365)
    removed = forget_old(store.forget_before, clock=clock, retention=retention, batch=10)
    assert removed == 25 and store.held == 0
    assert store.asked == [(clock.now() - retention, 10)] * 3


def test_a_full_last_batch_is_followed_by_one_that_finds_none() -> None:
    store = Held(held=20)
    forget_old(store.forget_before, clock=FakeClock(), retention=timedelta(days=1), batch=10)
    assert [limit for _, limit in store.asked] == [10, 10, 10]


def test_the_job_keeps_its_days_and_runs_on_the_leader_only() -> None:
    clock = FakeClock()
    store = Held(held=3)
    asked = threading.Event()

    def leading() -> bool:
        asked.set()
        return False

    retention = build_retention(
        "audit", store.forget_before, days=30, clock=clock, should_run=leading
    )
    assert retention.interval_seconds == 3600 and retention.job.name == "audit-retention"
    retention.start()
    try:
        assert asked.wait(5)
    finally:
        retention.close()
    assert store.asked == [] and store.held == 3
    assert retention.job.run_once() == 3
    assert store.asked == [(clock.now() - timedelta(days=30), FORGET_BATCH)]


def test_the_job_empties_each_store_of_its_kind_in_turn() -> None:
    clock = FakeClock()
    first, second = Held(held=FORGET_BATCH + 1), Held(held=2)
    retention = build_retention(
        "messages", first.forget_before, second.forget_before, days=7, clock=clock
    )
    assert retention.job.run_once() == FORGET_BATCH + 3
    assert (first.held, second.held) == (0, 0)
    assert [limit for _, limit in second.asked] == [FORGET_BATCH]
