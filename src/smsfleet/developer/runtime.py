"""Builds the request log and the usage analytics on the metrics store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from smsfleet.core.clock import Clock
from smsfleet.core.settings import Settings
from smsfleet.developer.log import RequestLog
from smsfleet.developer.service import UsageService
from smsfleet.developer.store import UsageStore

__all__ = ["Usage", "build_usage"]


@dataclass(frozen=True)
class Usage:
    log: RequestLog
    service: UsageService

    def start(self) -> None:
        self.log.start()

    def close(self) -> None:
        self.log.close()


def build_usage(*, settings: Settings, engine: Engine, clock: Clock) -> Usage:
    """The request log and usage analytics on the metrics store; the caller starts and
    closes them."""
    store = UsageStore(engine)
    retention = timedelta(days=settings.request_log_retention_days)
    return Usage(
        log=RequestLog(store, clock, retention=retention),
        service=UsageService(store=store, clock=clock),
    )
