"""Builds the alerts feature on the metrics store: engine, periodic rules, Telegram sender."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from prometheus_client.registry import CollectorRegistry
from sqlalchemy.engine import Engine

from smsfleet.alerts.models import Alert
from smsfleet.alerts.prometheus import AlertCollector
from smsfleet.alerts.service import AlertConfig, AlertService
from smsfleet.alerts.store import AlertStore
from smsfleet.alerts.telegram import OutboxSender, TelegramBot
from smsfleet.core.breakers import Breakers
from smsfleet.core.clock import Clock
from smsfleet.core.jobs import PeriodicJob
from smsfleet.core.settings import Settings
from smsfleet.metrics.service import MetricsService
from smsfleet.policy.service import PolicyService
from smsfleet.stores import ConfigStore

__all__ = ["Alerts", "build_alerts"]

TELEGRAM_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Alerts:
    service: AlertService
    job: PeriodicJob
    recoveries: PeriodicJob
    sender: OutboxSender | None
    http: httpx.Client

    def start(self) -> None:
        config = self.service.config
        self.job.start_loop(config.evaluation_interval.total_seconds())
        self.recoveries.start_loop(config.recovery_check_interval.total_seconds())
        if self.sender is not None:
            self.sender.start()

    def close(self) -> None:
        self.job.close()
        self.recoveries.close()
        if self.sender is not None:
            self.sender.close()
        self.http.close()


def build_alerts(
    *,
    settings: Settings,
    engine: Engine,
    config_store: ConfigStore,
    clock: Clock,
    registry: CollectorRegistry,
    breakers: Breakers,
    metrics: MetricsService,
    policy: PolicyService,
    on_change: Callable[[Alert], None] | None = None,
    should_run: Callable[[], bool] = lambda: True,
    transport: httpx.BaseTransport | None = None,
    country_reasons: Callable[[], Mapping[str, str]] | None = None,
) -> Alerts:
    """The alerts feature on the metrics store; the caller starts and closes it.

    `should_run` gates the periodic rules and the sender: with replicas, only the
    supervising leader evaluates and sends, so nothing goes out twice. The Telegram
    breaker is made only with a bot token: without one nothing is sent, and no breaker
    says Telegram works.
    """
    store = AlertStore(engine)
    collector = AlertCollector(store=store, registry=registry)
    http = httpx.Client(timeout=TELEGRAM_TIMEOUT, transport=transport)
    sender = None
    if settings.telegram.bot_token is not None:
        bot = TelegramBot(
            api_url=settings.telegram.api_url,
            token=settings.telegram.bot_token.get_secret_value(),
            client=http,
            breaker=breakers.get("telegram", fail_max=5, reset_timeout=30),
        )
        sender = OutboxSender(
            store=store, bot=bot, clock=clock, should_run=should_run, on_result=collector.count
        )
    service = AlertService(
        store=store,
        metrics=metrics,
        policy=policy,
        config_store=config_store,
        clock=clock,
        config=AlertConfig.from_settings(settings),
        on_change=on_change,
        on_queued=sender.wake if sender is not None else None,
        country_reasons=country_reasons,
    )
    job = PeriodicJob("alert-rules", service.evaluate, should_run=should_run, run_at_start=False)
    recoveries = PeriodicJob("alert-recoveries", service.check_recoveries, should_run=should_run)
    return Alerts(
        service=service,
        job=job,
        recoveries=recoveries,
        sender=sender,
        http=http,
    )
