"""Builds the policy on the metrics store, and the job that evaluates it periodically."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import Clock
from smsfleet.core.jobs import PeriodicJob
from smsfleet.core.settings import Settings
from smsfleet.policy.models import PolicyDecision
from smsfleet.policy.service import PolicyConfig, PolicyService
from smsfleet.policy.store import PolicyStore
from smsfleet.stores import ConfigStore

__all__ = ["LookSchedule", "Policy", "build_policy"]


class LookSchedule:
    """When the loop's next evaluation is due, on the policy's clock: the loop tells it
    each time it starts waiting, and that it stopped. A round `should_run` declines (this
    replica does not lead) is no look: then none is due here."""

    def __init__(self, clock: Clock, should_run: Callable[[], bool]) -> None:
        self._clock = clock
        self._should_run = should_run
        self._due: datetime | None = None

    def waits(self, seconds: float | None) -> None:
        self._due = None if seconds is None else self._clock.now() + timedelta(seconds=seconds)

    def next_look(self) -> datetime | None:
        due = self._due
        return due if due is not None and self._should_run() else None


@dataclass(frozen=True)
class Policy:
    service: PolicyService
    job: PeriodicJob

    def start(self) -> None:
        self.job.start_loop(self.service.config.evaluation_interval.total_seconds())

    def close(self) -> None:
        self.job.close()


def build_policy(
    *,
    settings: Settings,
    engine: Engine,
    config_store: ConfigStore,
    clock: Clock,
    on_decision: Callable[[PolicyDecision], None] | None = None,
    on_state_change: Callable[[Collection[str]], None] | None = None,
    should_run: Callable[[], bool] = lambda: True,
) -> Policy:
    """The policy on the metrics store; the caller starts and closes it."""
    config = PolicyConfig.from_settings(settings.policy)
    schedule = LookSchedule(clock, should_run)
    service = PolicyService(
        store=PolicyStore(engine),
        attempts=AttemptStore(engine),
        config_store=config_store,
        clock=clock,
        config=config,
        on_decision=on_decision,
        on_state_change=on_state_change,
        next_look=schedule.next_look,
    )
    job = PeriodicJob(
        "policy",
        service.evaluate,
        should_run=should_run,
        run_at_start=False,
        on_wait=schedule.waits,
    )
    return Policy(service=service, job=job)
