"""Moments in sentences people read: to the second, in UTC, dated unless on the same day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from smsfleet.core.clock import human_time

MOMENT = datetime(2026, 12, 4, 19, 6, 18, 317234, tzinfo=UTC)


def test_a_moment_of_the_same_day_is_its_time_to_the_second_in_utc() -> None:
    assert human_time(MOMENT, now=MOMENT.replace(hour=23, minute=59)) == "19:06:18 UTC"
    # Another zone's moment is told in UTC, and a naive one is taken as UTC.
    tashkent = MOMENT.astimezone(timezone(timedelta(hours=5)))
    assert human_time(tashkent, now=MOMENT) == "19:06:18 UTC"
    assert human_time(MOMENT.replace(tzinfo=None), now=MOMENT) == "19:06:18 UTC"


def test_a_moment_of_another_day_or_with_no_day_to_compare_has_its_date() -> None:
    assert human_time(MOMENT, now=MOMENT + timedelta(hours=5)) == "2026-12-04 19:06:18 UTC"
    assert human_time(MOMENT, now=MOMENT - timedelta(days=1)) == "2026-12-04 19:06:18 UTC"
    assert human_time(MOMENT) == "2026-12-04 19:06:18 UTC"
