"""Pure pieces of the metrics logic: percentiles, ranges, which source answers what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsfleet.core.errors import ValidationFailed
from smsfleet.core.quantiles import count_bins
from smsfleet.dispatch.goals import GOAL_WINDOW
from smsfleet.metrics.buckets import plan
from smsfleet.metrics.service import TimeRange, percentile, resolve_range

NOW = datetime(2026, 1, 5, 12, 4, 30, tzinfo=UTC)


def test_percentile_is_within_two_percent_of_the_sample() -> None:
    assert percentile({}, 0.5) is None
    bins = count_bins([400, 2_000])
    assert abs(percentile(bins, 0.5) - 400) <= 8  # type: ignore[operator]
    assert abs(percentile(bins, 0.95) - 2_000) <= 40  # type: ignore[operator]
    assert abs(percentile(count_bins([2_000] * 3), 0.99) - 2_000) <= 40  # type: ignore[operator]
    assert percentile(count_bins([5_000_000]), 0.95) == percentile(count_bins([600_000]), 0.5)


def test_resolve_range() -> None:
    assert resolve_range(now=NOW, window="5m") == TimeRange(NOW - timedelta(minutes=5), NOW)
    assert resolve_range(now=NOW) == TimeRange(NOW - timedelta(hours=24), NOW)
    # The dashboard reads "sent per minute" at 2m and the goals' grants per minute side by
    # side: one window for both.
    assert resolve_range(now=NOW, window="2m") == TimeRange(NOW - GOAL_WINDOW, NOW)
    # No offset means UTC; an offset is converted.
    explicit = resolve_range(now=NOW, start="2026-01-05T10:00:00", end="2026-01-05T12:00:00+01:00")
    assert explicit == TimeRange(
        datetime(2026, 1, 5, 10, tzinfo=UTC), datetime(2026, 1, 5, 11, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"window": "3m"}, "window"),
        ({"start": "2026-01-05T13:00:00Z"}, "start"),
        ({"start": "2020-01-01T00:00:00Z"}, "start"),
        ({"start": "not a date"}, "start"),
        ({"end": "2026-13-01"}, "end"),
    ],
)
def test_resolve_range_refuses(arguments: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        resolve_range(now=NOW, **arguments)  # type: ignore[arg-type]
    assert caught.value.details[0]["field"] == field


def t(hour: int, minute: int) -> datetime:
    return datetime(2026, 1, 5, hour, minute, tzinfo=UTC)


def test_plan_reads_rollups_only_where_complete() -> None:
    start = datetime(2026, 1, 5, 9, 59, 30, tzinfo=UTC)
    end = datetime(2026, 1, 5, 12, 30, 10, tzinfo=UTC)
    rolled = datetime(2026, 1, 5, 12, 20, tzinfo=UTC)
    assert plan(start, end, None, hours=True) == [("raw", start, end)]
    assert plan(start, end, rolled, hours=True) == [
        ("raw", start, t(10, 0)),
        ("hour", t(10, 0), t(12, 0)),
        ("minute", t(12, 0), rolled),
        ("raw", rolled, end),
    ]
    assert plan(start, end, rolled, hours=False) == [
        ("raw", start, t(10, 0)),
        ("minute", t(10, 0), rolled),
        ("raw", rolled, end),
    ]
