"""Builds the request log and the usage analytics on the metrics store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from smsfleet.core.clock import Clock
from smsfleet.core.settings import Settings
from smsfleet.core.sql import create_sql_engine
from smsfleet.developer.log import RequestLog
from smsfleet.developer.service import UsageService
from smsfleet.developer.store import UsageStore

__all__ = ["Usage", "build_usage"]


@dataclass(frozen=True)
class Usage:
    log: RequestLog
    service: UsageService
    engine: Engine

    def start(self) -> None:
        self.log.start()

    def close(self) -> None:
        self.log.close()
        self.engine.dispose()


def build_usage(*, settings: Settings, clock: Clock) -> Usage:
    """The metrics store must be at head already (the dispatcher migrates it first)."""
    engine = create_sql_engine(settings.resolved_metrics_url)
    store = UsageStore(engine)
    retention = timedelta(days=settings.request_log_retention_days)
    return Usage(
        log=RequestLog(store, clock, retention=retention),
        service=UsageService(store=store, clock=clock),
        engine=engine,
    )
