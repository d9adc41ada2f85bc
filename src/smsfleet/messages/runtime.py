"""Builds the messages feature on the metrics store, and its retry job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import Clock
from smsfleet.core.jobs import PeriodicJob
from smsfleet.core.settings import Settings
from smsfleet.messages.inbound import Inbound
from smsfleet.messages.models import Message, Send
from smsfleet.messages.sends import PendingLimits, Sends
from smsfleet.messages.store import MessageStore
from smsfleet.stores import ConfigStore

__all__ = ["Messages", "build_messages"]


@dataclass(frozen=True)
class Messages:
    sends: Sends
    inbound: Inbound
    job: PeriodicJob
    interval_seconds: float = 10.0

    def start(self) -> None:
        self.job.start_loop(self.interval_seconds)

    def close(self) -> None:
        self.job.close()


def build_messages(
    *,
    settings: Settings,
    engine: Engine,
    config_store: ConfigStore,
    clock: Clock,
    on_change: Callable[[Send], None] | None = None,
    on_message: Callable[[Message], None] | None = None,
    should_run: Callable[[], bool] = lambda: True,
) -> Messages:
    """The messages feature on the metrics store; the caller starts and closes it."""
    store = MessageStore(engine)
    attempts = AttemptStore(engine)
    inbound = Inbound(
        store=store,
        attempts=attempts,
        clock=clock,
        seed_messages_per_hour=settings.seed_messages_per_hour,
        on_message=on_message,
        phone_region=settings.phone_region,
    )
    sends = Sends(
        store=store,
        attempts=attempts,
        config_store=config_store,
        clock=clock,
        claim_timeout=timedelta(seconds=settings.send.claim_timeout_seconds),
        lease_ttl=timedelta(seconds=settings.lease_ttl_seconds),
        limits=PendingLimits(
            per_actor=settings.send.max_pending_per_actor,
            per_pair=settings.send.max_pending_per_pair,
        ),
        on_change=on_change,
        phone_region=settings.phone_region,
        record_sent=inbound.record_sent,
    )
    job = PeriodicJob("message-sends", sends.run_jobs, should_run=should_run)
    return Messages(
        sends=sends,
        inbound=inbound,
        job=job,
        interval_seconds=settings.send.retry_interval_seconds,
    )
