"""Alerts in `/metrics`: what is firing, and how the Telegram outbox is doing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from smsfleet.alerts.models import AlertRule, Severity
from smsfleet.alerts.store import AlertStore

__all__ = ["AlertCollector"]

RESULTS = ("sent", "retried", "failed")


class AlertCollector:
    def __init__(self, *, store: AlertStore, registry: CollectorRegistry) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._results: Counter[str] = Counter()
        registry.register(self)

    def count(self, result: str) -> None:
        with self._lock:
            self._results[result] += 1

    def collect(self) -> Iterable[Metric]:
        firing = GaugeMetricFamily(
            "smsfleet_alerts_firing", "Open alerts", labels=("rule", "severity")
        )
        open_by = Counter((a.rule, a.severity) for a in self._store.firing())
        for rule in AlertRule:
            for severity in Severity:
                firing.add_metric((rule.value, severity.value), open_by[(rule, severity)])
        yield firing
        sent = CounterMetricFamily(
            "smsfleet_alert_notifications",
            "Telegram sends by result (since this process started)",
            labels=("result",),
        )
        with self._lock:
            for result in RESULTS:
                sent.add_metric((result,), self._results[result])
        yield sent
        pending, failed, _oldest = self._store.outbox_counts()
        yield GaugeMetricFamily(
            "smsfleet_alert_outbox_pending", "Telegram messages waiting to go out", pending
        )
        yield GaugeMetricFamily(
            "smsfleet_alert_outbox_failed", "Telegram messages given up on", failed
        )
