"""Usage analytics over the daily rollup of the request log.

People see their own use (with their tokens and their keys), their account's only (an
account deleted and made again under its name sees none of the old one's); an admin sees
everyone's. Percentiles are read off the rollups' fine latency bins
(`smsfleet.core.quantiles`), within 2 % of the exact percentile of the requests;
`latency_histogram` is the coarse histogram of `LATENCY_BOUNDS_MS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from smsfleet.auth.models import Role, User
from smsfleet.core.clock import Clock
from smsfleet.core.errors import ValidationFailed
from smsfleet.core.quantiles import quantile
from smsfleet.developer.models import (
    LATENCY_BOUNDS_MS,
    UsageDay,
    UsageEndpoint,
    UsageKey,
    UsageQuery,
    UsageSummary,
)
from smsfleet.developer.store import BUCKETS, UsageOwner, UsageRow, UsageStore

__all__ = ["UsageService"]

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _figures(counters: dict[str, float], bins: Mapping[int, int]) -> dict[str, Any]:
    """The fields of `UsageFigures` from summed counters and latency bins."""
    requests = int(counters.get("requests", 0))
    client, server = int(counters.get("client_errors", 0)), int(counters.get("server_errors", 0))
    return {
        "requests": requests,
        "client_errors": client,
        "server_errors": server,
        "error_rate": (client + server) / requests if requests else None,
        "latency_avg_ms": counters.get("latency_sum_ms", 0.0) / requests if requests else None,
        "latency_p95_ms": quantile(bins, 0.95),
        "latency_p99_ms": quantile(bins, 0.99),
    }


class UsageService:
    def __init__(self, *, store: UsageStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def _range(self, query: UsageQuery) -> tuple[date, date]:
        end = query.end_date or self._clock.now().date()
        start = query.start_date or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise ValidationFailed("start_date is after end_date")
        if (end - start).days >= MAX_DAYS:
            raise ValidationFailed(f"ask for at most {MAX_DAYS} days at a time")
        return start, end

    def _rows(self, query: UsageQuery, actor: User, by: Sequence[str]) -> list[UsageRow]:
        start, end = self._range(query)
        # Their own account's, not an earlier one's of their name; everyone's for an admin.
        owner = None if actor.role is Role.admin else UsageOwner(actor.username, actor.created_at)
        return self._store.summed(start=start, end=end, by=by, owner=owner, key_id=query.api_key_id)

    def summary(self, query: UsageQuery, *, actor: User) -> UsageSummary:
        start, end = self._range(query)
        rows = self._rows(query, actor, ())
        counters = rows[0].counters if rows else {}
        return UsageSummary(
            start_date=start,
            end_date=end,
            latency_histogram=[int(counters.get(name, 0)) for name in BUCKETS],
            latency_histogram_bounds_ms=list(LATENCY_BOUNDS_MS),
            **_figures(counters, rows[0].bins if rows else {}),
        )

    def daily(self, query: UsageQuery, *, actor: User) -> list[UsageDay]:
        rows = sorted(self._rows(query, actor, ("day",)), key=lambda row: row.group)
        return [UsageDay(day=row.group[0], **_figures(row.counters, row.bins)) for row in rows]

    def endpoints(self, query: UsageQuery, *, actor: User) -> list[UsageEndpoint]:
        rows = self._rows(query, actor, ("method", "route"))
        found = [
            UsageEndpoint(
                method=row.group[0], route=row.group[1], **_figures(row.counters, row.bins)
            )
            for row in rows
        ]
        return sorted(found, key=lambda e: (-e.requests, e.route, e.method))

    def keys(self, query: UsageQuery, *, actor: User) -> list[UsageKey]:
        rows = self._rows(query, actor, ("key_id", "owner"))
        found = [
            UsageKey(
                api_key_id=row.group[0], owner=row.group[1], **_figures(row.counters, row.bins)
            )
            for row in rows
        ]
        return sorted(found, key=lambda k: (-k.requests, k.api_key_id))
