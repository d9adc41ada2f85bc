"""Builds the audit log's retention job: entries past the retention are deleted hourly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from smsfleet.audit import service
from smsfleet.audit.models import AuditEvent
from smsfleet.core.clock import Clock
from smsfleet.core.jobs import PeriodicJob
from smsfleet.core.records import EventLog
from smsfleet.core.settings import Settings

__all__ = ["AuditRetention", "build_audit_retention"]

# Entries deleted in one write: a year of a scripted loop's entries goes in many short
# writes, none holding the store for long.
FORGET_BATCH = 1000


@dataclass(frozen=True)
class AuditRetention:
    job: PeriodicJob
    interval_seconds: float = 3600.0

    def start(self) -> None:
        self.job.start_loop(self.interval_seconds)

    def close(self) -> None:
        self.job.close()


def build_audit_retention(
    *,
    settings: Settings,
    audit: EventLog[AuditEvent],
    clock: Clock,
    should_run: Callable[[], bool] = lambda: True,
) -> AuditRetention:
    """The job deleting entries older than `SMSFLEET_AUDIT_RETENTION_DAYS`, on the leader
    only (`should_run`); the caller starts and closes it."""
    forget = partial(
        service.forget_old,
        audit=audit,
        clock=clock,
        retention=timedelta(days=settings.audit_retention_days),
        batch=FORGET_BATCH,
    )
    return AuditRetention(job=PeriodicJob("audit-retention", forget, should_run=should_run))
