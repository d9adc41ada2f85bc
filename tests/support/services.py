"""Features built on one metrics engine as the composition root builds them, for tests
that drive a service directly."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from smsfleet.alerts.service import AlertService
from smsfleet.alerts.store import AlertStore
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import Clock
from smsfleet.core.settings import Settings
from smsfleet.metrics.rollups import Rollups
from smsfleet.metrics.service import MetricsService
from smsfleet.metrics.store import MetricsStore
from smsfleet.policy.service import PolicyConfig, PolicyService
from smsfleet.policy.store import PolicyStore
from smsfleet.stores import ConfigStore


def metrics_service(engine: Engine, config_store: ConfigStore, clock: Clock) -> MetricsService:
    return MetricsService(
        store=MetricsStore(engine),
        rollups=Rollups(engine),
        attempts=AttemptStore(engine),
        config_store=config_store,
        clock=clock,
    )


def policy_service(
    engine: Engine,
    config_store: ConfigStore,
    clock: Clock,
    config: PolicyConfig | None = None,
    **callbacks: Any,
) -> PolicyService:
    return PolicyService(
        store=PolicyStore(engine),
        attempts=AttemptStore(engine),
        config_store=config_store,
        clock=clock,
        config=config or PolicyConfig.from_settings(Settings().policy),
        **callbacks,
    )


def alert_service(
    engine: Engine,
    config_store: ConfigStore,
    clock: Clock,
    store: AlertStore | None = None,
    **options: Any,
) -> AlertService:
    """An alert service on `engine`, reading through the metrics and policy services."""
    return AlertService(
        store=store or AlertStore(engine),
        metrics=metrics_service(engine, config_store, clock),
        policy=policy_service(engine, config_store, clock),
        config_store=config_store,
        clock=clock,
        **options,
    )
