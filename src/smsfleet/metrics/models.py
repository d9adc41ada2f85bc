"""Metrics: what the API answers and what the event bus carries.

Definitions (one set, used by the API, the rollups, `sms_metrics` and Prometheus):

- An attempt's outcome counts once it is *completed* (has an outcome), in the window
  that holds its `completed_at`; its grant counts in the window that holds its
  `leased_at` (`granted`, below).
- `completed` = delivered + not_delivered + send_failed + error: the attempts that
  judge the route. An attempt *broken off* (an error coded `interrupted`, `lease_lost`,
  `lease_expired` or `grant_stale`: its program was stopped or killed, never reported,
  or was not ready to send in time after its grant) says
  nothing of the route; it is counted in `broken_off`, not in `completed`, `error`,
  `failed` or the success rate, and its code still shows in `errors_by_code`.
- `sent` = delivered + not_delivered + the attempts broken off after their SMS reached
  the gateway (`sent_at` set: a pair paused or stopped breaks off its programs' attempts
  in flight, whose SMS may be delivered all the same): every SMS triggered at the
  provider, whether or not its attempt judges the route.
- `failed` = send_failed + error: the SMS was never triggered; `errors` = error alone.
  So sent + failed = completed + the attempts broken off after sending (`sent` may
  exceed `completed`), and sent - delivered - not_delivered <= broken_off.
- `success_rate` = delivered / completed (DESIGN.md: delivered / completed attempts in a
  window), a fraction in [0, 1]; null when nothing completed.
- `errors_by_code`: completed attempts that carry an error code, by code.
- Latency: `latency_ms` of delivered attempts (delivered_at - sent_at). Percentiles are
  read off fine log-spaced bins (`smsfleet.core.quantiles`), within 2 % of the exact
  percentile, the same way from raw attempts and from rollups, so both give the same
  figure. `LATENCY_BUCKETS_MS` are the coarse histogram's (rollup columns, Prometheus).
- `granted`: attempts leased (sends the limiter granted) in the window, counted by
  lease time, reported or not: what each country's per-minute cap counts, so a
  country's `granted` in a minute never exceeds its cap. Outcomes come later (an SMS
  awaits its code for up to minutes), so a minute's `sent` may exceed the cap while its
  `granted` does not.
- `achieved_per_minute` = granted / window minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from smsfleet.core.records import Timestamp

__all__ = [
    "LATENCY_BUCKETS_MS",
    "AttemptSummary",
    "Counters",
    "ExportFormat",
    "GroupBy",
    "Heatmap",
    "HeatmapRow",
    "Point",
    "Series",
    "Step",
    "Summary",
    "SummaryGroup",
    "Timeseries",
    "Window",
]

# Upper bounds (inclusive) of the coarse delivery latency histogram (Prometheus and the
# rollups' histogram columns), in milliseconds; the last bucket is everything above.
# Changing them needs a migration of the rollup tables.
LATENCY_BUCKETS_MS: tuple[int, ...] = (
    250,
    500,
    1_000,
    2_000,
    3_000,
    5_000,
    7_500,
    10_000,
    15_000,
    20_000,
    30_000,
    45_000,
    60_000,
    90_000,
    120_000,
    180_000,
    300_000,
)


class Window(StrEnum):
    # The dashboard's "now": the dispatcher's goal window (`dispatch.goals.GOAL_WINDOW`).
    m2 = "2m"
    m5 = "5m"
    m15 = "15m"
    h1 = "1h"
    h6 = "6h"
    h24 = "24h"
    d7 = "7d"
    d30 = "30d"


class Step(StrEnum):
    m1 = "1m"
    m5 = "5m"
    h1 = "1h"


class GroupBy(StrEnum):
    country = "country"
    pair = "pair"
    program = "program"


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


class AttemptSummary(BaseModel):
    """A newly completed attempt, as published on the event bus topic `attempts`."""

    id: str
    pair: str
    program: str
    country: str
    outcome: str
    error_code: str | None = None
    broken_off: bool = Field(
        default=False, description="an error that says nothing of the route (not counted)"
    )
    sent: bool = Field(
        default=False,
        description="its SMS was triggered at the provider (counted in `sent`): delivered,"
        " not delivered, or broken off after reaching it",
    )
    latency_ms: int | None = None
    completed_at: Timestamp


class Counters(BaseModel):
    sent: int = Field(
        default=0,
        description="SMS triggered at the provider: delivered + not_delivered + attempts "
        "broken off after their SMS reached the gateway",
    )
    delivered: int = 0
    not_delivered: int = 0
    send_failed: int = 0
    failed: int = Field(default=0, description="send_failed + error")
    errors: int = 0
    completed: int = Field(
        default=0,
        description="attempts completed, delivered or failed, sent or not: what success_rate is"
        " over (attempts broken off are not: broken_off)",
    )
    broken_off: int = Field(
        default=0,
        description="attempts broken off by a stop, a kill or a lost lease, or given up unsent"
        " too late after their grant: not in completed",
    )
    success_rate: float | None = Field(default=None, description="delivered / completed")
    errors_by_code: dict[str, int] = Field(default_factory=dict)
    latency_p50_ms: int | None = None
    latency_p95_ms: int | None = None
    granted: int = Field(
        default=0,
        description="attempts leased in the window (by lease time, reported or not): "
        "what each country's per-minute cap counts",
    )
    achieved_per_minute: float = Field(default=0.0, description="granted / window minutes")


class SummaryGroup(Counters):
    key: str
    country: str | None = None
    pair: str | None = None
    program: str | None = None
    cap_per_minute: int | None = Field(default=None, description="country groups only")


class Summary(BaseModel):
    start: datetime
    end: datetime
    group_by: GroupBy
    groups: list[SummaryGroup]
    totals: Counters


# A plain dataclass, not a model: a 30-day trend by pair has 144,000 points, and a
# model's validation would cost more than reading them. The API shows it the same way.
@dataclass(slots=True)
class Point:
    t: datetime
    sent: int
    delivered: int
    failed: int
    completed: int
    # Leased in the step, by lease time: what the cap counts (the others: by completion).
    granted: int
    success_rate: float | None
    latency_p95_ms: int | None


class Series(BaseModel):
    key: str
    points: list[Point]


class Timeseries(BaseModel):
    start: datetime
    end: datetime
    step: Step
    group_by: GroupBy | None
    series: list[Series]


class HeatmapCell(BaseModel):
    t: datetime
    completed: int
    delivered: int
    success_rate: float | None


class HeatmapRow(BaseModel):
    country: str
    cells: list[HeatmapCell]


class Heatmap(BaseModel):
    start: datetime
    end: datetime
    hours: list[datetime]
    rows: list[HeatmapRow]
