"""Usage analytics as served."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from smsfleet.core.bounds import QueryDate

# Latency buckets (upper bounds, ms) of the daily histogram `latency_histogram`; the
# percentiles are read off finer bins (`smsfleet.core.quantiles`).
LATENCY_BOUNDS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: QueryDate | None = Field(default=None, description="First day (UTC); 30 days back")
    end_date: QueryDate | None = Field(default=None, description="Last day (UTC), included; today")
    api_key_id: str | None = Field(default=None, max_length=16)


class UsageFigures(BaseModel):
    requests: int
    client_errors: int = Field(description="4xx answers")
    server_errors: int = Field(description="5xx answers")
    error_rate: float | None = Field(description="(4xx + 5xx) / requests")
    latency_avg_ms: float | None
    latency_p95_ms: float | None = Field(description="Within 2 % of the exact percentile")
    latency_p99_ms: float | None


class UsageSummary(UsageFigures):
    start_date: date
    end_date: date
    latency_histogram: list[int] = Field(
        description=f"Counts per bucket: ≤ {LATENCY_BOUNDS_MS} ms, more"
    )
    latency_histogram_bounds_ms: list[int] = Field(
        description="Upper bound (ms) of each bucket of `latency_histogram` but the last, "
        "which holds everything above",
    )


class UsageDay(UsageFigures):
    day: date


class UsageEndpoint(UsageFigures):
    method: str
    route: str = Field(description="The route template, e.g. /api/v1/pairs/{key}")


class UsageKey(UsageFigures):
    api_key_id: str = Field(description="'' for requests signed in with a token")
    owner: str
