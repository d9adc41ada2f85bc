"""The alerts suite's `Alerting` (its fixture in tests/integration/alerts/conftest.py): an
`AlertService` on a fake clock with chats `all` (every alert) and `oncall` (critical only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from smsfleet.alerts.models import Alert, Severity
from smsfleet.alerts.service import AlertService, ChatRoute
from smsfleet.alerts.store import AlertStore
from smsfleet.stores import ConfigStore
from tests.support.fakes import FakeClock

ROUTES = (ChatRoute("all"), ChatRoute("oncall", Severity.critical))


@dataclass
class Alerting:
    service: AlertService
    store: AlertStore
    config_store: ConfigStore
    clock: FakeClock
    engine: Engine
    changed: list[Alert] = field(default_factory=list)
    wakes: int = 0

    def texts(self, chat: str) -> list[str]:
        return [n.text for n in self.store.pending(limit=1000) if n.chat_id == chat]
