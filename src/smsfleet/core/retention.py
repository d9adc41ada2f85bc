"""Retention: records of a kind past its retention are deleted hourly, on the leader only,
a batch at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from smsfleet.core.clock import Clock
from smsfleet.core.jobs import PeriodicJob

__all__ = ["FORGET_BATCH", "ForgetBefore", "Retention", "build_retention", "forget_old"]

# Records deleted in one write: a year of a scripted loop's records goes in many short
# writes, none holding the store for long.
FORGET_BATCH = 1000


class ForgetBefore(Protocol):
    def __call__(self, at: datetime, *, limit: int) -> int:
        """Remove, in one write, at most `limit` of the oldest records a retention may
        delete from before `at`: how many, fewer than `limit` when no such one is left."""
        ...


def forget_old(forget: ForgetBefore, *, clock: Clock, retention: timedelta, batch: int) -> int:
    """Remove the records older than `retention`, oldest first, `batch` at a time (one
    write each): how many were removed."""
    cutoff = clock.now() - retention
    removed = 0
    while True:
        done = forget(cutoff, limit=batch)
        removed += done
        if done < batch:
            return removed


@dataclass(frozen=True)
class Retention:
    job: PeriodicJob
    interval_seconds: float = 3600.0

    def start(self) -> None:
        self.job.start_loop(self.interval_seconds)

    def close(self) -> None:
        self.job.close()


def build_retention(
    kind: str,
    *forgets: ForgetBefore,
    days: int,
    clock: Clock,
    should_run: Callable[[], bool] = lambda: True,
) -> Retention:
    """The job deleting a kind's records older than `days` with each of `forgets` in turn,
    on the leader only (`should_run`); the caller starts and closes it."""

    def forget_all() -> int:
        retention = timedelta(days=days)
        return sum(
            forget_old(forget, clock=clock, retention=retention, batch=FORGET_BATCH)
            for forget in forgets
        )

    return Retention(job=PeriodicJob(f"{kind}-retention", forget_all, should_run=should_run))
