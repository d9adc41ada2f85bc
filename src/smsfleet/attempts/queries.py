"""The ledger's columns and conditions, for reads that fold raw attempts with rollups.

The metrics store reads the minutes not rolled up yet straight from the ledger, in the
same query shapes as its rollup tables: these are the only parts of the ledger's
schema it sees.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from smsfleet.attempts.models import Outcome
from smsfleet.attempts.store import attempts_table, broken_off, earliest

__all__ = [
    "broken_off",
    "column",
    "completed",
    "completed_at",
    "earliest",
    "error_code",
    "failed_with_code",
    "latency_ms",
    "leased_at",
    "outcome",
    "sent",
    "timed",
]

_c = attempts_table.c

completed_at: ColumnElement[Any] = _c.completed_at
leased_at: ColumnElement[Any] = _c.leased_at
outcome: ColumnElement[Any] = _c.outcome
latency_ms: ColumnElement[Any] = _c.latency_ms
error_code: ColumnElement[Any] = _c.error_code
completed: ColumnElement[bool] = _c.outcome.is_not(None)
# A delivered attempt with its delivery time: what latencies are computed from.
timed: ColumnElement[bool] = (_c.outcome == Outcome.delivered.value) & _c.latency_ms.is_not(None)
# The attempt's SMS reached the gateway (its program reported when).
sent: ColumnElement[bool] = _c.sent_at.is_not(None)
failed_with_code: ColumnElement[bool] = _c.outcome.is_not(None) & _c.error_code.is_not(None)


def column(name: str) -> ColumnElement[Any]:
    """A column an attempt is grouped by: pair, program, country or operator."""
    if name not in ("pair", "program", "country", "operator"):
        raise ValueError(f"attempts are not grouped by {name!r}")
    return _c[name]
