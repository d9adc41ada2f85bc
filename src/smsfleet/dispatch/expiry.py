"""Attempts no run came back for: given up a while past their lease, whichever session
leased them.

A session's own unreported attempts are closed as `lease_expired` by its next lease. A
session that never leases again (its pair deleted or held stopped, its program killed
for good) would leave them open for ever, counted in no figure. The leader looks for
them every `EVERY_SECONDS` and closes those leased over the lease's time and
`REPORT_GRACE` ago: a report in a program's spool while the control plane was away has
that long to come in first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from smsfleet.attempts.ledger import Ledger
from smsfleet.attempts.models import REPORT_GRACE, Attempt
from smsfleet.core.clock import Clock
from smsfleet.core.jobs import PeriodicJob

__all__ = ["BATCH", "EVERY_SECONDS", "UnreportedExpiry"]

log = logging.getLogger("smsfleet.dispatch")

EVERY_SECONDS = 60.0
# Closed in one go of each store, so a backlog goes in short writes.
BATCH = 500


class UnreportedExpiry:
    """Closes the attempts left unreported past their lease, on the leader only
    (`should_run`), and tells `closed` of each, as of a report; the caller starts and
    closes it."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        clock: Clock,
        lease_ttl: timedelta,
        closed: Callable[[Attempt], None],
        should_run: Callable[[], bool] = lambda: True,
        batch: int = BATCH,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._lease_ttl = lease_ttl
        self._closed = closed
        self._should_run = should_run
        self._batch = batch
        # The first look a whole interval after the start: programs' spooled reports first.
        self._job = PeriodicJob(
            "attempts-expiry", self.expire, should_run=should_run, run_at_start=False
        )

    def expire(self) -> int:
        """Close every attempt due now, a batch at a time, while this process leads and
        runs; how many."""
        count = 0
        while not self._job.stopping and self._should_run():
            now = self._clock.now()
            given_up = self._ledger.expire_unreported(
                leased_before=now - self._lease_ttl - REPORT_GRACE, now=now, limit=self._batch
            )
            if not given_up:
                break
            for attempt in given_up:
                self._closed(attempt)
            count += len(given_up)
        if count:
            log.info(
                "%d attempt(s) left unreported past their lease closed as lease_expired", count
            )
        return count

    def start(self) -> None:
        self._job.start_loop(EVERY_SECONDS)

    def close(self) -> None:
        self._job.close()
