"""Circuit breakers around every call to an outside HTTP service (pybreaker).

After `fail_max` failures in a row a breaker opens: calls fail at once, without
waiting on a service that is down, until `reset_timeout` has passed; then one call
is let through, and its success closes the breaker again. States show in `/metrics`
(`smsfleet_circuit_breaker_state`: 0 closed, 1 half-open, 2 open) and in the UI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime

import pybreaker
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry
from pydantic import BaseModel

__all__ = ["BreakerState", "Breakers"]

_STATE_VALUE = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}


class BreakerState(BaseModel):
    name: str
    state: str
    failures: int
    opened_at: datetime | None
    reset_seconds: float


class _Opened(pybreaker.CircuitBreakerListener):
    def __init__(self) -> None:
        self.at: dict[str, datetime] = {}

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self.at[cb.name or ""] = datetime.now(UTC)


class Breakers:
    """The process's breakers by name, and their collector on the caller's registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}
        self._lock = threading.Lock()
        self._opened = _Opened()
        if registry is not None:
            registry.register(self)

    def get(
        self, name: str, *, fail_max: int = 3, reset_timeout: float = 10.0
    ) -> pybreaker.CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = pybreaker.CircuitBreaker(
                    fail_max=fail_max,
                    reset_timeout=reset_timeout,
                    name=name,
                    listeners=[self._opened],
                )
                self._breakers[name] = breaker
            return breaker

    def states(self) -> list[BreakerState]:
        with self._lock:
            breakers = sorted(self._breakers.items())
        return [
            BreakerState(
                name=name,
                state=breaker.current_state,
                failures=breaker.fail_counter,
                opened_at=self._opened.at.get(name)
                if breaker.current_state != pybreaker.STATE_CLOSED
                else None,
                reset_seconds=breaker.reset_timeout,
            )
            for name, breaker in breakers
        ]

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "smsfleet_circuit_breaker_state",
            "Circuit breaker of an outside service: 0 closed, 1 half-open, 2 open",
            labels=("name",),
        )
        for state in self.states():
            gauge.add_metric((state.name,), _STATE_VALUE.get(state.state, 2))
        yield gauge
