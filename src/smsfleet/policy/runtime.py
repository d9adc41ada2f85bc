"""Builds the policy on the metrics store, and the job that evaluates it periodically."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from smsfleet.core.clock import Clock
from smsfleet.core.settings import Settings
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.policy.models import PolicyDecision
from smsfleet.policy.service import PolicyConfig, PolicyService
from smsfleet.policy.store import PolicyStore
from smsfleet.stores import ConfigStore

__all__ = ["Policy", "PolicyJob", "build_policy"]

log = logging.getLogger("smsfleet.policy")


class PolicyJob:
    """Runs `evaluate` every `interval` seconds in a daemon thread until closed.

    `should_run` gates each round: with replicas only the supervising leader
    decides, so two replicas never pause the same pair twice.
    """

    def __init__(self, evaluate: Callable[[], object], should_run: Callable[[], bool]) -> None:
        self._evaluate = evaluate
        self._should_run = should_run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start_loop(self, interval: float) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="smsfleet-policy", daemon=True
        )
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            if not self._should_run():
                continue
            try:
                self._evaluate()
            except Exception:  # a database hiccup must not end the loop
                log.exception("policy evaluation failed; retrying in %.0f s", interval)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


@dataclass(frozen=True)
class Policy:
    service: PolicyService
    job: PolicyJob
    engine: Engine

    def start(self) -> None:
        self.job.start_loop(self.service.config.evaluation_interval.total_seconds())

    def close(self) -> None:
        self.job.close()
        self.engine.dispose()


def build_policy(
    *,
    settings: Settings,
    config_store: ConfigStore,
    clock: Clock,
    on_decision: Callable[[PolicyDecision], None] | None = None,
    on_state_change: Callable[[], None] | None = None,
    should_run: Callable[[], bool] = lambda: True,
) -> Policy:
    """Open the metrics store (migrated to head); the caller starts and closes it."""
    config = PolicyConfig.from_settings(settings)
    engine = create_sql_engine(settings.resolved_metrics_url)
    try:
        upgrade_metrics_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    service = PolicyService(
        store=PolicyStore(engine),
        config_store=config_store,
        clock=clock,
        config=config,
        on_decision=on_decision,
        on_state_change=on_state_change,
    )
    return Policy(service=service, job=PolicyJob(service.evaluate, should_run), engine=engine)
