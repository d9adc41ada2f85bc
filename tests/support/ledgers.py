"""The dispatcher's attempts as SQL holds them, whatever its profile."""

from __future__ import annotations

from smsfleet.attempts import RedisLedger
from smsfleet.dispatch.service import Dispatcher

__all__ = ["settle"]


def settle(dispatcher: Dispatcher) -> None:
    """What the dispatcher's ledger holds reaches SQL (at once in SQL; drained from Redis)."""
    if isinstance(ledger := dispatcher.ledger, RedisLedger):
        while ledger.drain():
            pass
