"""Bounds of what a request may ask for: times, days and offsets a store can hold.

Query and path parameters are checked against these at the edge, so an answer is a
422 that names the parameter, never a server error from a database or from date
arithmetic (SQLite integers end at 2**63 - 1; a date near year 1 or 9999 overflows
once a window is added to it or taken from it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator

from smsfleet.core.records import Timestamp

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_OFFSET",
    "QueryDate",
    "QueryTime",
    "check_moment",
]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
MAX_OFFSET = 1_000_000
_RANGE = f"between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}"


def check_moment(value: datetime) -> datetime:
    """`value` (aware) when inside [EARLIEST, LATEST); ValueError otherwise."""
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"the time must be {_RANGE}")
    return value


def _check_day(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"the day must be {_RANGE}")
    return value


QueryTime = Annotated[Timestamp, AfterValidator(check_moment)]
QueryDate = Annotated[date, AfterValidator(_check_day)]
