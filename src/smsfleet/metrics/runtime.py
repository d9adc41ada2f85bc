"""Builds the metrics feature on the metrics store: service, Prometheus collector, job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client.registry import CollectorRegistry
from sqlalchemy.engine import Engine

from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import Clock
from smsfleet.core.jobs import PeriodicJob
from smsfleet.core.settings import Settings
from smsfleet.metrics.models import AttemptSummary
from smsfleet.metrics.prometheus import Exposition, FleetCollector
from smsfleet.metrics.rollups import Rollups
from smsfleet.metrics.service import MetricsService
from smsfleet.metrics.store import MetricsStore
from smsfleet.stores import ConfigStore

__all__ = ["DEFAULT_RETENTION_DAYS", "DEFAULT_ROLLUP_INTERVAL_SECONDS", "Metrics", "build_metrics"]

DEFAULT_RETENTION_DAYS = 14
DEFAULT_ROLLUP_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class Metrics:
    service: MetricsService
    registry: CollectorRegistry
    collector: FleetCollector
    exposition: Exposition
    job: PeriodicJob
    rollup_interval_seconds: float = DEFAULT_ROLLUP_INTERVAL_SECONDS

    def start(self) -> None:
        self.job.start_loop(self.rollup_interval_seconds)

    def close(self) -> None:
        self.job.close()


def build_metrics(
    *,
    settings: Settings,
    engine: Engine,
    config_store: ConfigStore,
    clock: Clock,
    registry: CollectorRegistry | None = None,
    on_attempt: Callable[[AttemptSummary], None] | None = None,
) -> Metrics:
    """The metrics feature on the metrics store; the caller starts and closes it.

    Reads `metrics_retention_days` and `metrics_rollup_interval_seconds` from the
    settings when they exist, else the defaults here.
    """
    days = settings.metrics.retention_days
    interval = settings.metrics.rollup_interval_seconds
    service = MetricsService(
        store=MetricsStore(engine),
        rollups=Rollups(engine),
        attempts=AttemptStore(engine),
        config_store=config_store,
        clock=clock,
        on_attempt=on_attempt,
        retention=timedelta(days=days),
    )
    registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
    collector = FleetCollector(metrics=service, registry=registry)
    return Metrics(
        service=service,
        registry=registry,
        collector=collector,
        exposition=Exposition(registry),
        # Every run is idempotent (it recomputes minutes from raw attempts), so
        # several replicas running it at once only repeat work.
        job=PeriodicJob("metrics-rollup", service.run_jobs),
        rollup_interval_seconds=float(interval),
    )
