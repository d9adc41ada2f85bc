"""A ledger's attempts as SQL holds them, whatever the profile."""

from __future__ import annotations

from smsfleet.attempts import RedisLedger
from smsfleet.attempts.ledger import Ledger

__all__ = ["settle"]


def settle(ledger: Ledger) -> None:
    """What `ledger` holds reaches SQL (at once in SQL; drained from Redis)."""
    if isinstance(ledger, RedisLedger):
        while ledger.drain():
            pass
