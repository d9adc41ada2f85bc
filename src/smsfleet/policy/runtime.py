"""Builds the policy on the metrics store, and the job that evaluates it periodically."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis
from sqlalchemy.engine import Engine

from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import Clock
from smsfleet.core.jobs import PeriodicJob
from smsfleet.core.settings import Settings
from smsfleet.policy.models import PolicyDecision
from smsfleet.policy.service import PolicyConfig, PolicyService
from smsfleet.policy.store import PolicyStore
from smsfleet.stores import ConfigStore

__all__ = ["LookSchedule", "Policy", "RedisSharedLooks", "build_policy"]

log = logging.getLogger(__name__)


class SharedLooks(Protocol):
    """Where the leading replica's next look is kept for the others to read."""

    def publish(self, due: datetime | None, *, now: datetime) -> None: ...

    def read(self) -> datetime | None: ...


class RedisSharedLooks:
    """The leader's next look in one Redis key, kept a while past it: a leader gone stops
    being read as looking soon after the look it did not make."""

    def __init__(self, client: redis.Redis, *, key: str, kept_past: float = 30.0) -> None:
        self._client = client
        self._key = key
        self._kept_past = kept_past

    @classmethod
    def from_url(cls, url: str, *, key: str, kept_past: float = 30.0) -> RedisSharedLooks:
        # A standing is read per request: a Redis that does not answer costs it a second.
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        return cls(client, key=key, kept_past=kept_past)

    def close(self) -> None:
        self._client.close()

    def publish(self, due: datetime | None, *, now: datetime) -> None:
        try:
            if due is None:
                self._client.delete(self._key)
                return
            kept = (due - now).total_seconds() + self._kept_past
            self._client.set(self._key, due.isoformat(), px=max(1, round(kept * 1000)))
        except redis.RedisError as error:  # a standing without the time, no more
            log.warning("the policy's next look is not shared: %s", error)

    def read(self) -> datetime | None:
        try:
            value = self._client.get(self._key)
        except redis.RedisError:
            return None
        if not isinstance(value, bytes):
            return None
        return datetime.fromisoformat(value.decode())


class LookSchedule:
    """When the loop's next evaluation is due, on the policy's clock: the loop tells it
    each time it starts waiting, and that it stopped. A round `should_run` declines (this
    replica does not lead) is no look: then the leader's, from `shared`, is the one due
    (none without it)."""

    def __init__(
        self, clock: Clock, should_run: Callable[[], bool], shared: SharedLooks | None = None
    ) -> None:
        self._clock = clock
        self._should_run = should_run
        self._shared = shared
        self._due: datetime | None = None

    def waits(self, seconds: float | None) -> None:
        now = self._clock.now()
        self._due = None if seconds is None else now + timedelta(seconds=seconds)
        if self._shared is not None and self._should_run():
            self._shared.publish(self._due, now=now)

    def next_look(self) -> datetime | None:
        if self._should_run():
            return self._due
        return self._shared.read() if self._shared is not None else None


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
    shared_looks: SharedLooks | None = None,
) -> Policy:
    """The policy on the metrics store; the caller starts and closes it. `shared_looks`:
    where replicas keep the leader's next look (the Redis profile)."""
    config = PolicyConfig.from_settings(settings.policy)
    schedule = LookSchedule(clock, should_run, shared_looks)
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
