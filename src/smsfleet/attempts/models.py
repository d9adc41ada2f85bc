"""An SMS attempt: from its lease to its outcome."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from smsfleet.core.records import Timestamp

__all__ = ["Attempt", "Completion", "Outcome"]


class Outcome(StrEnum):
    delivered = "delivered"
    not_delivered = "not_delivered"
    send_failed = "send_failed"
    error = "error"


class Completion(BaseModel):
    """What a report (or the ledger giving a lease up) sets on an open attempt."""

    outcome: Outcome
    completed_at: Timestamp
    sent_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    error_code: str | None = None
    latency_ms: int | None = None
    provider: str | None = None


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
