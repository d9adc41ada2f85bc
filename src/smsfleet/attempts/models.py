"""An SMS attempt: from its lease to its outcome."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel

from smsfleet.core.records import Timestamp

__all__ = [
    "BROKEN_OFF_CODES",
    "CONTROL_PLANE_CODES",
    "Attempt",
    "Completion",
    "Outcome",
    "counts_as_sent",
    "is_broken_off",
]


class Outcome(StrEnum):
    delivered = "delivered"
    not_delivered = "not_delivered"
    send_failed = "send_failed"
    error = "error"


# The errors the control plane closes attempts with itself; a program's report may not
# claim them (its own failure would drop out of the success rates).
CONTROL_PLANE_CODES: frozenset[str] = frozenset({"lease_lost", "lease_expired"})
# A grant its program could not use in time (`send_within`): its SMS never left.
GRANT_STALE = "grant_stale"
# Errors that say nothing of the route: an attempt given up because its program was
# stopped before the gateway could tell (`interrupted`), was killed while the attempt
# was in flight (`lease_lost`), never reported (`lease_expired`), or not sent because
# its grant came too long before its program could send (`grant_stale`). They took a slot
# of the country's cap, but they are neither a success nor a failure of the route, so
# success rates, failures and the policy's evidence leave them out.
BROKEN_OFF_CODES: frozenset[str] = frozenset({"interrupted", GRANT_STALE}) | CONTROL_PLANE_CODES
# Broken off with no `sent_at`, not known to have never left (as `lease_lost`, a grant its
# program never had, and `grant_stale` are): its program killed during the send
# (`interrupted`), or never reporting (`lease_expired`). Its SMS may have gone out.
NOT_KNOWN_IF_SENT_CODES: frozenset[str] = frozenset({"interrupted", "lease_expired"})
# How long past its lease an unreported attempt is waited for before it is given up
# (the leader's sweep, an on-demand send's try): a report a program spooled while the
# control plane was away comes in first.
REPORT_GRACE = timedelta(minutes=1)


def is_broken_off(outcome: Outcome | str | None, error_code: str | None) -> bool:
    return outcome == Outcome.error and error_code in BROKEN_OFF_CODES


def counts_as_sent(attempt: Attempt) -> bool:
    """Its SMS was triggered at the provider: delivered, not delivered, or broken off after
    it reached the gateway (`sent_at` known): what `sent` counts."""
    if attempt.outcome in (Outcome.delivered, Outcome.not_delivered):
        return True
    return attempt.sent_at is not None and is_broken_off(attempt.outcome, attempt.error_code)


class Completion(BaseModel):
    """What a report (or the ledger giving a lease up) sets on an open attempt."""

    outcome: Outcome
    completed_at: Timestamp
    sent_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    error_code: str | None = None
    latency_ms: int | None = None
    provider: str | None = None

    @property
    def keeps_told(self) -> bool:
        """Whether what its program told of the send before (`sent_at`, `provider`) stays
        where this leaves them out: not when it says its SMS never left (refused by the
        provider, or its grant given up unused)."""
        return self.outcome is not Outcome.send_failed and self.error_code != GRANT_STALE


class Attempt(BaseModel):
    """One SMS, from lease to outcome; `id` is the trigger id (the idempotency key)."""

    id: str
    session: str
    pair: str
    country: str
    operator: str
    program: str
    phone: str
    leased_at: Timestamp
    sent_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    outcome: Outcome | None = None
    error_code: str | None = None
    latency_ms: int | None = None
    provider: str | None = None
