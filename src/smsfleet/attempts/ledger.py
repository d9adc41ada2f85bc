"""The attempts' hot path: what a lease and a report change, as one interface.

Two ledgers keep it: `AttemptStore` in SQL (the SQL-only profile), and `RedisLedger`,
which keeps the open attempts in Redis, decides each change in one script, and moves
every change to SQL in batches through a Redis stream (the Redis profile). Reads over
time (metrics, the policy's windows, goals) stay with `AttemptStore` either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from smsfleet.attempts.models import Attempt, Completion

__all__ = ["Ledger", "OpenLease", "ReportBeforeLease", "SentNotice", "next_phone"]


class ReportBeforeLease(Exception):
    """A report of an attempt leased after the latest its times allow: refused, the
    attempt left open."""

    def __init__(self, attempt: Attempt) -> None:
        super().__init__(f"attempt {attempt.id} was leased after the times reported")
        self.attempt = attempt


@dataclass(frozen=True)
class OpenLease:
    """An attempt leased and not yet reported: its number awaits its code."""

    id: str
    phone: str
    leased_at: datetime


@dataclass(frozen=True)
class SentNotice:
    """A program's word, before its report, that the SMS of `trigger_id` left at `sent_at`
    (through `provider`, when it names one); an attempt leased after `leased_by` (the
    latest lease that time allows, the clocks' difference given) is not its."""

    trigger_id: str
    sent_at: datetime
    leased_by: datetime
    provider: str | None = None


class Ledger(Protocol):
    def open_in_pair(self, pair: str, *, leased_since: datetime) -> list[tuple[str, str, str]]:
        """(id, session, phone) of the pair's attempts leased since then, not yet reported."""
        ...

    def open_leases(self, pair: str, *, leased_since: datetime) -> list[OpenLease]:
        """`open_in_pair` with each one's lease time, to say since when a number awaits."""
        ...

    def lease(
        self,
        attempt: Attempt,
        *,
        rotate: Sequence[str],
        expire_before: datetime | None,
        now: datetime,
        open_since: datetime,
    ) -> tuple[Attempt, list[Attempt]]:
        """Open `attempt`, and return it as opened with the session's expired leases.

        With `rotate`, the attempt goes to the number after the one the pair's latest
        attempt went to, skipping numbers awaiting a code (leased since `open_since`, not
        reported): see `next_phone`. Empty, it keeps its own phone. With
        `expire_before`, the session's open attempts leased before it are closed first as
        `lease_expired` and returned.
        """
        ...

    def report(
        self,
        trigger_id: str,
        *,
        session: str,
        completion: Completion,
        leased_by: datetime | None = None,
    ) -> tuple[Attempt | None, bool]:
        """Record the completion of the session's open attempt, once.

        Returns the attempt as it stands after the call (None when unknown) and whether
        this call closed it. An attempt of another session is left unchanged. With
        `leased_by`, the session's open attempt leased after it is refused
        (`ReportBeforeLease`) and left open.
        """
        ...

    def mark_sent(self, notices: Sequence[SentNotice], *, session: str) -> list[str]:
        """Record when each SMS left on the session's open attempt with no `sent_at` yet,
        leased by its notice's `leased_by`: whichever way it is closed later, it is known
        to have left. The ids it marked; the rest (not open, another session's, marked
        already, leased later) are left unchanged."""
        ...

    def last_leased(self, pair: str) -> datetime | None:
        """When the pair's latest attempt was leased."""
        ...

    def expire_unreported(
        self, *, leased_before: datetime, now: datetime, limit: int
    ) -> list[Attempt]:
        """Close, as `lease_expired`, open attempts leased before `leased_before` whichever
        session leased them, at most `limit` from each store, and return those this call
        closed: what no run came back for, when its session never leases again."""
        ...


def next_phone(
    numbers: Sequence[str], last: str | None, *, busy: frozenset[str] = frozenset()
) -> str:
    """Round-robin from the number after the last one used, skipping numbers awaiting a code.

    When every number awaits one (two sessions raced for the last), the rotation's next.
    """
    start = (list(numbers).index(last) + 1) % len(numbers) if last and last in numbers else 0
    order = [*numbers[start:], *numbers[:start]]
    return next((phone for phone in order if phone not in busy), order[0])
