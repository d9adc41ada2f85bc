"""Metrics logic: ingest, summaries, time series, heatmap, export, rollup and purge.

The definitions of every figure are in `smsfleet.metrics.models`.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from smsfleet.attempts.models import Attempt, counts_as_sent, is_broken_off
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.bounds import check_moment
from smsfleet.core.clock import Clock
from smsfleet.core.errors import ValidationFailed
from smsfleet.core.quantiles import quantile
from smsfleet.metrics.buckets import HOUR, MINUTE, floor_to
from smsfleet.metrics.models import (
    AttemptSummary,
    Counters,
    ExportFormat,
    GroupBy,
    Heatmap,
    HeatmapCell,
    HeatmapRow,
    Point,
    Series,
    Step,
    Summary,
    SummaryGroup,
    Timeseries,
    Window,
)
from smsfleet.metrics.rollups import Rollups
from smsfleet.metrics.series import FLEET_KEY, NO_LATENCY, bucketed_percentile
from smsfleet.metrics.store import MetricsStore
from smsfleet.metrics.tally import Tally, merge
from smsfleet.stores import ConfigStore

__all__ = [
    "DEFAULT_STEPS",
    "MAX_POINTS",
    "Export",
    "JobReport",
    "MetricsService",
    "TimeRange",
    "percentile",
    "resolve_range",
]

log = logging.getLogger("smsfleet.metrics")

WINDOWS: dict[Window, timedelta] = {
    Window.m2: timedelta(minutes=2),
    Window.m5: timedelta(minutes=5),
    Window.m15: timedelta(minutes=15),
    Window.h1: timedelta(hours=1),
    Window.h6: timedelta(hours=6),
    Window.h24: timedelta(hours=24),
    Window.d7: timedelta(days=7),
    Window.d30: timedelta(days=30),
}
STEPS: dict[Step, timedelta] = {
    Step.m1: timedelta(minutes=1),
    Step.m5: timedelta(minutes=5),
    Step.h1: timedelta(hours=1),
}
MAX_POINTS = 2_000
# Points of all the series of one answer together (a heatmap's cells too): a trend by pair
# over a whole fleet (1,000 pairs) at hours for a week, but not at minutes for a day, which
# was 1.4 million points, 190 MB of JSON and 23 s of a thread.
MAX_ANSWER_POINTS = 200_000
# A trend asked for without a step takes the first of these that keeps it within
# MAX_POINTS: 5 min up to 6 days and a half, hours beyond (a 7- or 30-day window).
DEFAULT_STEPS = (Step.m5, Step.h1)
MAX_RANGE = timedelta(days=400)
ALL_KEY = FLEET_KEY
# Trends over longer than this take their points' p95 from the coarse histogram.
FINE_TREND_SPAN = timedelta(hours=24)
# Week series (`smsfleet.metrics.series`) of each grouping.
SERIES_KINDS: dict[GroupBy | None, str] = {
    GroupBy.country: "country",
    GroupBy.pair: "pair",
    GroupBy.program: "program",
    None: "fleet",
}
# Columns each grouping selects; the first one is the group's key.
GROUP_COLUMNS: dict[GroupBy | None, tuple[str, ...]] = {
    GroupBy.country: ("country",),
    GroupBy.pair: ("pair", "country"),
    GroupBy.program: ("program",),
    None: (),
}
CSV_FIELDS = (
    "start",
    "end",
    "key",
    "country",
    "pair",
    "program",
    "sent",
    "delivered",
    "not_delivered",
    "send_failed",
    "failed",
    "errors",
    "completed",
    "broken_off",
    "granted",
    "success_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "cap_per_minute",
    "achieved_per_minute",
    "errors_by_code",
)
# Minutes re-rolled on every run, so an outcome committed just after its minute was
# rolled up is still counted.
ROLLUP_LOOKBACK = timedelta(minutes=2)
ROLLUP_GRACE = timedelta(seconds=5)
PURGE_EVERY = timedelta(hours=1)


# --- input ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / MINUTE


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed.for_field(field, message)


_E = TypeVar("_E", Window, Step, GroupBy, ExportFormat)


def _choice(kind: type[_E], field: str, value: str | _E | None) -> _E | None:
    # An empty value (`window=`) is refused like any unknown one, not read as the default.
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise _invalid(field, f"unknown value {value!r}; use one of {allowed}") from None


def _moment(field: str, value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid(field, f"not an ISO 8601 date-time: {value!r}") from None
    try:
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return check_moment(moment)
    except (ValueError, OverflowError) as error:  # 0001-01-01T00:00+01:00 is before UTC's first
        raise _invalid(
            field, str(error) if isinstance(error, ValueError) else "out of range"
        ) from None


def resolve_range(
    *,
    now: datetime,
    window: str | Window | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    default: Window = Window.h24,
) -> TimeRange:
    """The [start, end) a request names: a window ending now, or explicit bounds."""
    chosen = _choice(Window, "window", window)
    first, last = _moment("start", start), _moment("end", end)
    if chosen is not None and first is not None:
        raise _invalid("window", "give either window or start/end, not both")
    if first is None:
        last = last or now
        return TimeRange(last - WINDOWS[chosen or default], last)
    last = last or now
    if first >= last:
        raise _invalid("start", "start must be before end")
    if last - first > MAX_RANGE:
        raise _invalid("start", f"the range may span at most {MAX_RANGE.days} days")
    return TimeRange(first, last)


def _step_count(span: TimeRange, step: timedelta) -> int:
    return math.ceil((span.end - floor_to(span.start, step)) / step)


def _stepped(span: TimeRange, step: timedelta, *, field: str = "step") -> tuple[TimeRange, int]:
    """The span from its start floored to the step, and its points; at most MAX_POINTS, or
    a 422 on `field` (what the asker can change: the step, or the window of a fixed one)."""
    points = _step_count(span, step)
    if points > MAX_POINTS:
        reach = MAX_POINTS * step
        covered = (
            f"{reach / timedelta(days=1):.0f} days"
            if reach >= timedelta(days=2)
            else (f"{reach / timedelta(hours=1):.0f} hours")
        )
        coarser = "a coarser step or " if field == "step" and step < max(STEPS.values()) else ""
        raise _invalid(
            field,
            f"{points} points is too many for this window (at most {MAX_POINTS}, which at "
            f"this step cover {covered}); use {coarser}a shorter window",
        )
    return TimeRange(floor_to(span.start, step), span.end), points


_TREND_REMEDY = "give a key, a coarser step or a shorter window"


def _trend_name(grouping: GroupBy | None) -> str:
    return f"a trend by {grouping.value}" if grouping else "the trend"


def _check_answer_size(
    series: int, points: int, *, of: str, field: str = "group_by", remedy: str = _TREND_REMEDY
) -> None:
    """Refuses an answer of more than MAX_ANSWER_POINTS points in all."""
    if series * points > MAX_ANSWER_POINTS:
        raise _invalid(
            field,
            f"{of} would be {series} series of {points} points, {series * points:,} in all"
            f" (at most {MAX_ANSWER_POINTS:,}); {remedy}",
        )


def _default_step(span: TimeRange) -> Step:
    """The finest default step that keeps the span within MAX_POINTS (else the coarsest,
    refused for the span's length)."""
    for step in DEFAULT_STEPS:
        if _step_count(span, STEPS[step]) <= MAX_POINTS:
            return step
    return DEFAULT_STEPS[-1]


# --- figures -------------------------------------------------------------------------


def percentile(bins: Mapping[int, int], q: float) -> int | None:
    """The q-quantile (ms) of latencies counted in fine bins, within 2 % of the exact
    one (`smsfleet.core.quantiles`)."""
    value = quantile(bins, q)
    return None if value is None else round(value)


def _rate(tally: Tally) -> float | None:
    return tally.delivered / tally.completed if tally.completed else None


def _counters(tally: Tally, codes: dict[str, int], minutes: float) -> Counters:
    return Counters(
        sent=tally.sent,
        delivered=tally.delivered,
        not_delivered=tally.not_delivered,
        send_failed=tally.send_failed,
        failed=tally.failed,
        errors=tally.error,
        completed=tally.completed,
        broken_off=tally.broken_off,
        granted=tally.granted,
        success_rate=_rate(tally),
        errors_by_code=dict(sorted(codes.items())),
        latency_p50_ms=percentile(tally.bins, 0.5),
        latency_p95_ms=percentile(tally.bins, 0.95),
        achieved_per_minute=round(tally.granted / minutes, 3) if minutes > 0 else 0.0,
    )


@dataclass(frozen=True)
class Export:
    content: bytes
    media_type: str
    filename: str


@dataclass(frozen=True)
class JobReport:
    rolled_from: datetime | None
    rolled_until: datetime | None
    minute_rows: int
    purged: int


class MetricsService:
    """Everything the metrics API, the jobs and the Prometheus collector ask for."""

    def __init__(
        self,
        *,
        store: MetricsStore,
        rollups: Rollups,
        attempts: AttemptStore,
        config_store: ConfigStore,
        clock: Clock,
        on_attempt: Callable[[AttemptSummary], None] | None = None,
        observers: Sequence[Callable[[Attempt], None]] = (),
        retention: timedelta = timedelta(days=14),
    ) -> None:
        self.store = store
        self.rollups = rollups
        self.attempts = attempts
        self.config_store = config_store
        self.clock = clock
        self.on_attempt = on_attempt
        self.retention = retention
        self._observers = list(observers)
        self._last_purge: datetime | None = None

    # --- ingest --------------------------------------------------------------------

    def add_observer(self, observer: Callable[[Attempt], None]) -> None:
        self._observers.append(observer)

    def record(self, attempt: Attempt) -> None:
        """A completed attempt was stored: feed live counters and the event bus."""
        if attempt.outcome is None or attempt.completed_at is None:
            return
        for observer in self._observers:
            observer(attempt)
        if self.on_attempt is not None:
            self.on_attempt(
                AttemptSummary(
                    id=attempt.id,
                    pair=attempt.pair,
                    program=attempt.program,
                    country=attempt.country,
                    outcome=attempt.outcome.value,
                    error_code=attempt.error_code,
                    broken_off=is_broken_off(attempt.outcome, attempt.error_code),
                    sent=counts_as_sent(attempt),
                    latency_ms=attempt.latency_ms,
                    completed_at=attempt.completed_at,
                )
            )

    def ingest(self, attempts: Sequence[Attempt]) -> int:
        """Store completed attempts in one batch (imports, replays), then record each."""
        for index, attempt in enumerate(attempts):
            if attempt.outcome is None or attempt.completed_at is None:
                raise _invalid(f"attempts.{index}", "only completed attempts can be ingested")
        self.attempts.add_many(attempts)
        for attempt in attempts:
            self.record(attempt)
        return len(attempts)

    # --- queries ---------------------------------------------------------------------

    def _known_keys(self, group_by: GroupBy | None) -> set[str]:
        """Keys shown even without data, so a quiet pair is listed with a null rate."""
        if group_by is GroupBy.pair:
            return {pair.key for pair in self.config_store.pairs.list()}
        if group_by is GroupBy.country:
            return {pair.country for pair in self.config_store.pairs.list()}
        if group_by is GroupBy.program:
            return {program.name for program in self.config_store.programs.list()}
        return {ALL_KEY}

    def summary(
        self,
        *,
        window: str | Window | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        group_by: str | GroupBy = GroupBy.pair,
        key: str | None = None,
    ) -> Summary:
        grouping = _choice(GroupBy, "group_by", group_by) or GroupBy.pair
        span = resolve_range(now=self.clock.now(), window=window, start=start, end=end)
        columns = GROUP_COLUMNS[grouping]
        tallies = self.store.tallies(start=span.start, end=span.end, group=columns, key=key)
        codes = self.store.error_codes(start=span.start, end=span.end, group=columns, key=key)
        by_key: dict[str, tuple[tuple[str, ...], Tally]] = {
            group[0]: (group, tally) for (_, group), tally in tallies.items()
        }
        keys = set(by_key) | ({key} if key else self._known_keys(grouping))
        caps = (
            {country.code: country.cap for country in self.config_store.countries.list()}
            if grouping is GroupBy.country
            else {}
        )
        groups: list[SummaryGroup] = []
        for name in sorted(keys):
            group, tally = by_key.get(name, ((name,), Tally()))
            country = group[1] if grouping is GroupBy.pair and len(group) > 1 else None
            if grouping is GroupBy.pair and country is None:
                country = name.split("_", 1)[0]
            groups.append(
                SummaryGroup(
                    key=name,
                    country=name if grouping is GroupBy.country else country,
                    pair=name if grouping is GroupBy.pair else None,
                    program=name if grouping is GroupBy.program else None,
                    cap_per_minute=caps.get(name) if grouping is GroupBy.country else None,
                    **_counters(tally, codes.get(group, {}), span.minutes).model_dump(),
                )
            )
        all_codes: dict[str, int] = {}
        for per_key in codes.values():
            for code, n in per_key.items():
                all_codes[code] = all_codes.get(code, 0) + n
        totals = _counters(merge(tallies.values()), all_codes, span.minutes)
        return Summary(
            start=span.start, end=span.end, group_by=grouping, groups=groups, totals=totals
        )

    def _series_range(
        self,
        *,
        window: str | Window | None,
        start: str | datetime | None,
        end: str | datetime | None,
        step: timedelta,
        default: Window,
    ) -> tuple[TimeRange, int]:
        span = resolve_range(
            now=self.clock.now(), window=window, start=start, end=end, default=default
        )
        return _stepped(span, step, field="start")

    def timeseries(
        self,
        *,
        window: str | Window | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        step: str | Step | None = None,
        group_by: str | GroupBy | None = None,
        key: str | None = None,
    ) -> Timeseries:
        """Points at each step start from the window's start, floored to the step.

        Without a step, the first of `DEFAULT_STEPS` that keeps the trend within
        `MAX_POINTS`; a step given that makes more points is refused."""
        asked = _choice(Step, "step", step)
        grouping = _choice(GroupBy, "group_by", group_by)
        if key and grouping is None:
            raise _invalid("key", "key needs group_by")
        wanted = resolve_range(
            now=self.clock.now(), window=window, start=start, end=end, default=Window.h1
        )
        chosen_step = asked or _default_step(wanted)
        size = STEPS[chosen_step]
        span, points = _stepped(wanted, size)
        columns = GROUP_COLUMNS[grouping]
        if size == HOUR and span.end - span.start > FINE_TREND_SPAN:
            return self._long_trend(span, points, chosen_step, grouping, key)
        # Fine latency bins over a day at most: a 30-day trend by pair would read tens of
        # millions of bin rows; its points take p95 from the coarse histogram instead.
        tallies = self.store.tallies(
            start=span.start,
            end=span.end,
            group=columns,
            step=size,
            key=key,
            fine_latencies=span.end - span.start <= FINE_TREND_SPAN,
        )
        per_key: dict[str, dict[int, Tally]] = {}
        for (bucket, group), tally in tallies.items():
            assert bucket is not None
            per_key.setdefault(group[0] if group else ALL_KEY, {})[bucket] = tally
        keys = set(per_key) | ({key} if key else set() if grouping else {ALL_KEY})
        _check_answer_size(len(keys), points, of=_trend_name(grouping))
        first = int(span.start.timestamp())
        step_seconds = int(size.total_seconds())
        series = []
        for name in sorted(keys):
            buckets = per_key.get(name, {})
            series.append(
                Series(
                    key=name,
                    points=[
                        _point(
                            first + index * step_seconds, buckets.get(first + index * step_seconds)
                        )
                        for index in range(points)
                    ],
                )
            )
        return Timeseries(
            start=span.start, end=span.end, step=chosen_step, group_by=grouping, series=series
        )

    def _long_trend(
        self, span: TimeRange, points: int, step: Step, grouping: GroupBy | None, key: str | None
    ) -> Timeseries:
        """An hourly trend over more than a day: whole hours from the week series, p95
        from the coarse histogram, the partial hours at its ends from tallies."""
        hourly = self.store.hourly_series(
            start=span.start,
            end=span.end,
            kind=SERIES_KINDS[grouping],
            group=GROUP_COLUMNS[grouping],
            key=key,
        )
        per_key: dict[str, dict[int, Tally]] = {}
        for (bucket, group), tally in hourly.tallies.items():
            assert bucket is not None
            per_key.setdefault(group[0] if group else ALL_KEY, {})[bucket] = tally
        keys = set(per_key) | set(hourly.values)
        keys |= {key} if key else set() if grouping else {ALL_KEY}
        _check_answer_size(len(keys), points, of=_trend_name(grouping))
        first = int(span.start.timestamp())
        size = int(HOUR.total_seconds())
        times = [datetime.fromtimestamp(first + index * size, tz=UTC) for index in range(points)]
        # Points [before, after) come from the week series, the others from tallies.
        before = min(max(0, (hourly.first - first) // size), points)
        after = min(before + hourly.hours, points)
        edges = [first + index * size for index in (*range(before), *range(after, points))]
        series = []
        with _collector_paused():
            for name in sorted(keys):
                buckets = per_key.get(name, {})
                edge = [_point(bucket, buckets.get(bucket)) for bucket in edges]
                values = hourly.values.get(name)
                middle = (
                    _points(times[before:after], values)
                    if values is not None
                    else [_point(first + index * size, None) for index in range(before, after)]
                )
                points_of = [*edge[:before], *middle, *edge[before:]]
                series.append(Series(key=name, points=points_of))
        return Timeseries(
            start=span.start, end=span.end, step=step, group_by=grouping, series=series
        )

    def heatmap(
        self,
        *,
        window: str | Window | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
    ) -> Heatmap:
        """Success rate per country and hour."""
        size = STEPS[Step.h1]
        span, points = self._series_range(
            window=window, start=start, end=end, step=size, default=Window.h24
        )
        # Success rates only: no latency is shown, so no bins are read.
        tallies = self.store.tallies(
            start=span.start, end=span.end, group=("country",), step=size, fine_latencies=False
        )
        per_country: dict[str, dict[int, Tally]] = {}
        for (bucket, group), tally in tallies.items():
            assert bucket is not None
            per_country.setdefault(group[0], {})[bucket] = tally
        hours = [span.start + index * size for index in range(points)]
        countries = sorted(set(per_country) | self._known_keys(GroupBy.country))
        _check_answer_size(
            len(countries), points, of="the heatmap", field="start", remedy="ask a shorter window"
        )
        rows = []
        for country in countries:
            cells = []
            for hour in hours:
                tally = per_country.get(country, {}).get(int(hour.timestamp()), Tally())
                cells.append(
                    HeatmapCell(
                        t=hour,
                        completed=tally.completed,
                        delivered=tally.delivered,
                        success_rate=_rate(tally),
                    )
                )
            rows.append(HeatmapRow(country=country, cells=cells))
        return Heatmap(start=span.start, end=span.end, hours=hours, rows=rows)

    def export(
        self,
        *,
        format: str | ExportFormat = ExportFormat.csv,
        window: str | Window | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        group_by: str | GroupBy = GroupBy.pair,
    ) -> Export:
        chosen = _choice(ExportFormat, "format", format) or ExportFormat.csv
        summary = self.summary(window=window, start=start, end=end, group_by=group_by)
        stamp = f"{summary.start:%Y%m%dT%H%M%SZ}-{summary.end:%Y%m%dT%H%M%SZ}"
        name = f"smsfleet-metrics-{summary.group_by.value}-{stamp}"
        if chosen is ExportFormat.json:
            return Export(
                summary.model_dump_json(indent=2).encode(), "application/json", f"{name}.json"
            )
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\r\n")
        writer.writeheader()
        for group in summary.groups:
            row = group.model_dump(mode="json")
            row["start"], row["end"] = summary.start.isoformat(), summary.end.isoformat()
            row["errors_by_code"] = json.dumps(group.errors_by_code, sort_keys=True)
            writer.writerow(
                {field: "" if row[field] is None else row[field] for field in CSV_FIELDS}
            )
        return Export(buffer.getvalue().encode(), "text/csv; charset=utf-8", f"{name}.csv")

    # --- live figures (Prometheus gauges) --------------------------------------------

    def recent_by(self, group_by: GroupBy, span: timedelta) -> dict[str, Tally]:
        """Tallies of the last `span`, by country, pair or program."""
        now = self.clock.now()
        return self.tallies_by(group_by, start=now - span, end=now)

    def tallies_by(
        self, group_by: GroupBy, *, start: datetime, end: datetime, fine_latencies: bool = True
    ) -> dict[str, Tally]:
        """Tallies of [start, end) by country, pair or program; without `fine_latencies`,
        outcomes and the coarse histogram only (cheaper over long spans)."""
        tallies = self.store.tallies(
            start=start, end=end, group=GROUP_COLUMNS[group_by], fine_latencies=fine_latencies
        )
        return {group[0]: tally for (_, group), tally in tallies.items()}

    def grants_by_country(self, *, since: datetime) -> dict[str, int]:
        """Per country: sends granted (attempts leased) since then, reported or not."""
        granted = self.attempts.granted_by_country(since=since)
        return {country: counts.grants for country, counts in granted.items()}

    # --- jobs ------------------------------------------------------------------------

    def run_jobs(self) -> JobReport:
        """Roll up the minutes completed since the last run (and a few before), purge
        raw attempts past retention at most hourly."""
        now = self.clock.now()
        target = floor_to(now - ROLLUP_GRACE, MINUTE)
        rolled = self.store.rolled_until()
        if rolled is not None:
            first: datetime | None = min(rolled - ROLLUP_LOOKBACK, target)
        else:
            earliest = self.attempts.earliest()
            first = floor_to(earliest, MINUTE) if earliest is not None else None
        rows = 0
        if first is not None and first < target:
            rows = self.rollups.rollup(start=first, end=target)
        purged = 0
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            purged = self._purge(before=now - self.retention)
            self._last_purge = now
        return JobReport(first, self.store.rolled_until(), rows, purged)

    def _purge(self, *, before: datetime) -> int:
        """Raw attempts past retention go, never ones not rolled up yet; rollups stay."""
        cutoff = self.rollups.purge_cutoff(before)
        if cutoff is None:
            return 0
        deleted = self.attempts.purge(before=cutoff)
        self.rollups.mark_purged(cutoff)
        return deleted


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a long trend's points are made: they
    hold no cycles, and 144,000 new objects would have it scan the whole heap several
    times (about 40 % of the trend's time). Left as it is if it was already off."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _points(times: Sequence[datetime], values: Sequence[int]) -> list[Point]:
    """Points of the week series' figures (`smsfleet.metrics.series`), an hour each."""
    numbers = iter(values)
    points = []
    for t, delivered, not_delivered, failed, granted, broken_off_sent, p95 in zip(
        times, numbers, numbers, numbers, numbers, numbers, numbers, strict=False
    ):
        completed = delivered + not_delivered + failed
        points.append(
            Point(
                t,
                delivered + not_delivered + broken_off_sent,
                delivered,
                failed,
                completed,
                granted,
                delivered / completed if completed else None,
                None if p95 == NO_LATENCY else p95,
            )
        )
    return points


def _point(epoch: int, tally: Tally | None) -> Point:
    tally = tally or Tally()
    return Point(
        t=datetime.fromtimestamp(epoch, tz=UTC),
        sent=tally.sent,
        delivered=tally.delivered,
        failed=tally.failed,
        completed=tally.completed,
        granted=tally.granted,
        success_rate=_rate(tally),
        latency_p95_ms=percentile(tally.bins, 0.95)
        if tally.bins
        else bucketed_percentile(tally.histogram, 0.95),
    )
