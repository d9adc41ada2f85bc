"""Time buckets: whole minutes and hours, in Python and in SQL, and which source
(raw attempts, minute or hour rollups) answers which part of a range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from smsfleet.core.sql import aware_utc

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)

Source = Literal["raw", "minute", "hour", "hour_country"]


class epoch_floor(sa.sql.functions.FunctionElement[int]):  # noqa: N801 (SQL function style)
    """Seconds since the epoch of a naive-UTC datetime column, floored to a step."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "epoch_floor"


def time_bucket(column: ColumnElement[Any], step: timedelta) -> epoch_floor:
    # The step is part of the statement's text (not a bound value), so statement
    # caching keeps one compiled form per step.
    return epoch_floor(column, sa.literal_column(str(int(step.total_seconds()))))


def _epoch_floor_parts(element: epoch_floor, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, step = list(element.clauses)
    return compiler.process(column, **kw), compiler.process(step, **kw)


@compiles(epoch_floor, "sqlite")
def _epoch_floor_sqlite(element: epoch_floor, compiler: SQLCompiler, **kw: Any) -> str:
    column, step = _epoch_floor_parts(element, compiler, **kw)
    # Whole seconds first: strftime rounds 14:34:59.999995 up to 14:35:00, which would
    # put the row in a bucket its chunk's range (compared as text) does not cover.
    return f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) / {step} * {step})"


@compiles(epoch_floor, "mysql")
@compiles(epoch_floor, "mariadb")
def _epoch_floor_mysql(element: epoch_floor, compiler: SQLCompiler, **kw: Any) -> str:
    # Not UNIX_TIMESTAMP: it reads the column in the session's time zone.
    column, step = _epoch_floor_parts(element, compiler, **kw)
    return f"(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {column}) DIV {step} * {step})"


def epoch(value: int | datetime) -> int:
    if isinstance(value, datetime):
        return int(aware_utc(value).timestamp())
    return int(value)


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def floor_to(value: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return value - (value - epoch) % step


def ceil_to(value: datetime, step: timedelta) -> datetime:
    floored = floor_to(value, step)
    return floored if floored == value else floored + step


def plan(
    start: datetime, end: datetime, rolled_until: datetime | None, *, hours: bool
) -> list[tuple[Source, datetime, datetime]]:
    """Which source answers which part of [start, end): rollups where complete, else raw."""
    if rolled_until is None:
        return [("raw", start, end)] if start < end else []
    first, last = ceil_to(start, MINUTE), min(floor_to(end, MINUTE), rolled_until)
    if first >= last:
        return [("raw", start, end)] if start < end else []
    pieces: list[tuple[Source, datetime, datetime]] = [("raw", start, first)]
    hour_first, hour_last = ceil_to(first, HOUR), floor_to(last, HOUR)
    if hours and hour_first < hour_last:
        pieces += [
            ("minute", first, hour_first),
            ("hour", hour_first, hour_last),
            ("minute", hour_last, last),
        ]
    else:
        pieces.append(("minute", first, last))
    pieces.append(("raw", last, end))
    return [piece for piece in pieces if piece[1] < piece[2]]
