"""Injected time, so limiter, policy, supervisor and rules can run hours in seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "SystemClock", "human_span", "human_time", "utcnow"]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def human_time(moment: datetime, *, now: datetime | None = None) -> str:
    """A moment as a person reads it in a sentence (an alert, an event's reason): to the
    second, in UTC, `19:06:18 UTC`, with its date (`2026-12-04 19:06:18 UTC`) unless it
    falls on the same day as `now`. Machine fields keep their ISO 8601 timestamps."""
    moment = _utc(moment)
    if now is not None and _utc(now).date() == moment.date():
        return f"{moment:%H:%M:%S} UTC"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def human_span(span: timedelta) -> str:
    """A length of time as a sentence says it: `2 min` when whole minutes, else `90 s`."""
    seconds = span.total_seconds()
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


def _utc(moment: datetime) -> datetime:
    # A naive moment is UTC, as every stored timestamp of the control plane is.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
