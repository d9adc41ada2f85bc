"""Countries under their goal in `/metrics`, with the kind of reason the control plane names.

Labels stay bounded: the country, the reason's kind and that kind in words (one fixed text
per kind); a country's own figures stay in `GET /api/v1/dispatch/goals`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from smsfleet.dispatch.goals import CountryGoal, ReasonKind

__all__ = ["GoalCollector"]

_KINDS = ", ".join(f"{kind.value} ({kind.words})" for kind in ReasonKind)


class GoalCollector:
    """Registers itself on `registry`; `goals` is asked at every scrape."""

    def __init__(
        self, *, goals: Callable[[], Sequence[CountryGoal]], registry: CollectorRegistry
    ) -> None:
        self._goals = goals
        registry.register(self)

    def collect(self) -> Iterable[Metric]:
        short = GaugeMetricFamily(
            "smsfleet_country_goal_short",
            "1 for a country granted under its goal in the last minutes, by the first reason "
            f"the control plane names: {_KINDS}",
            labels=("country", "reason_kind", "reason"),
        )
        for goal in self._goals():
            if goal.reason_kind is not None:
                short.add_metric([goal.country, goal.reason_kind, goal.reason_kind.words], 1.0)
        yield short
