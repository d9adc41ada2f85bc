"""The audit log's retention: entries past it are deleted a batch at a time, on the
leader only."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

from smsfleet.audit import service
from smsfleet.audit.models import AuditEvent
from smsfleet.audit.runtime import FORGET_BATCH, build_audit_retention
from smsfleet.core.records import EventKey
from smsfleet.core.settings import Settings
from tests.support.fakes import FakeClock


class HeldLog:
    """An audit log of `held` entries older than any retention asked about."""

    def __init__(self, held: int) -> None:
        self.held = held
        self.asked: list[tuple[datetime, int]] = []

    def append(self, event: AuditEvent) -> None:
        raise AssertionError("the retention writes no entry")

    def recent(
        self, *, limit: int, older_than: EventKey | None = None, **equals: str
    ) -> list[AuditEvent]:
        raise AssertionError("the retention reads no entry")

    def forget_before(self, at: datetime, *, limit: int) -> int:
        self.asked.append((at, limit))
        removed = min(limit, self.held)
        self.held -= removed
        return removed


def test_entries_go_a_batch_at_a_time_until_a_batch_is_short() -> None:
    clock = FakeClock()
    log = HeldLog(held=25)
    retention = timedelta(days=365)
    removed = service.forget_old(audit=log, clock=clock, retention=retention, batch=10)
    assert removed == 25 and log.held == 0
    assert log.asked == [(clock.now() - retention, 10)] * 3


def test_a_full_last_batch_is_followed_by_one_that_finds_none() -> None:
    log = HeldLog(held=20)
    service.forget_old(audit=log, clock=FakeClock(), retention=timedelta(days=1), batch=10)
    assert [limit for _, limit in log.asked] == [10, 10, 10]


def test_the_job_keeps_the_setting_and_runs_on_the_leader_only(tmp_path: Path) -> None:
    clock = FakeClock()
    log = HeldLog(held=3)
    asked = threading.Event()

    def leading() -> bool:
        asked.set()
        return False

    settings = Settings(data_dir=tmp_path, audit_retention_days=30)
    retention = build_audit_retention(settings=settings, audit=log, clock=clock, should_run=leading)
    assert retention.interval_seconds == 3600
    retention.start()
    try:
        assert asked.wait(5)
    finally:
        retention.close()
    assert log.asked == [] and log.held == 3
    retention.job.run_once()
    assert log.asked == [(clock.now() - timedelta(days=30), FORGET_BATCH)]
