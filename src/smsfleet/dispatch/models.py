"""Dispatch: what a worker asks (lease, report, heartbeat) and what it is told."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from smsfleet.attempts.models import CONTROL_PLANE_CODES, Outcome
from smsfleet.core.records import Timestamp
from smsfleet.core.text import OneLine
from smsfleet.sessions.names import SESSION_NAME_PATTERN

TRIGGER_ID_PATTERN = r"^[0-9a-f]{32}$"

SessionName = Annotated[str, Field(pattern=SESSION_NAME_PATTERN, max_length=80)]


class WorkerBody(BaseModel):
    """A worker request's body: it names the session whose worker token it carries."""

    model_config = ConfigDict(extra="forbid")

    session: SessionName


class LeaseRequest(WorkerBody):
    in_flight: list[Annotated[str, Field(pattern=TRIGGER_ID_PATTERN)]] | None = Field(
        default=None,
        max_length=1024,
        description="Trigger ids the program carries or has yet to report; "
        "the session's other open attempts are closed as lost",
    )


class _NamesProvider(BaseModel):
    """Says which provider sent an SMS, if it knows."""

    provider: OneLine | None = Field(default=None, max_length=64)

    @field_validator("provider")
    @classmethod
    def _no_blank_provider(cls, provider: str | None) -> str | None:
        # Kept without spaces around it; blank, none is named (as each ledger stores it).
        return (provider.strip() or None) if provider is not None else None


class SentNow(_NamesProvider):
    """One SMS its program sent and has yet to report."""

    model_config = ConfigDict(extra="forbid")

    trigger_id: str = Field(pattern=TRIGGER_ID_PATTERN)
    sent_at: Timestamp


# A program sends at most a few a minute: a beat tells those sent since the last one.
MAX_SENT_PER_HEARTBEAT = 64


class HeartbeatRequest(WorkerBody):
    """From a session's program: it is alive."""

    sent: list[SentNow] = Field(
        default_factory=list,
        max_length=MAX_SENT_PER_HEARTBEAT,
        description="SMS it sent since its last beat, before their reports: an attempt"
        " closed without its report (its program killed for good, its lease expired) is"
        " still known to have left, and counted as sent",
    )


class EndedRequest(WorkerBody):
    """From a session's runner, the moment its program ended."""

    pid: StrictInt | None = Field(
        default=None, gt=0, description="The program's pid: which run of the session ended"
    )


class ReportRequest(WorkerBody, _NamesProvider):
    trigger_id: str = Field(pattern=TRIGGER_ID_PATTERN)
    outcome: Outcome
    error_code: OneLine | None = Field(default=None, max_length=64)
    sent_at: Timestamp | None = None
    delivered_at: Timestamp | None = None

    @field_validator("error_code")
    @classmethod
    def _not_the_control_planes(cls, code: str | None) -> str | None:
        # A program's own failure told as a lease broken off would leave the success
        # rates as if it never happened (`interrupted`, its harness's, stays allowed).
        # Kept without the spaces around it: MySQL's `utf8mb4_bin` compares without
        # trailing ones.
        code = code.strip() if code is not None else None
        if code in CONTROL_PLANE_CODES:
            raise ValueError(f"{code} is the control plane's own code, not a program's")
        return code or None

    @field_validator("delivered_at")
    @classmethod
    def _delivered_after_sent(
        cls, delivered_at: datetime | None, info: ValidationInfo
    ) -> datetime | None:
        # Validated after `sent_at` (declared before it); refused, it is named.
        sent_at = info.data.get("sent_at")
        if sent_at and delivered_at and delivered_at < sent_at:
            raise ValueError("earlier than sent_at")
        return delivered_at


class SendAction(BaseModel):
    action: Literal["send"] = "send"
    trigger_id: str
    phone: str
    message: str
    pair: str
    program: str
    expires_at: datetime
    max_in_flight: int = Field(
        default=1, description="Attempts the session may have leased and not yet reported"
    )
    send_within: float | None = Field(
        default=None,
        description="Seconds from the grant within which the SMS must leave, or not at all"
        " (report it as an error `grant_stale`): the country's cap counts grants, and a"
        " send later than this could make one more than the cap in the gateway's minute."
        " A program counts them from when it asked for the lease, less `waited`",
    )
    waited: float = Field(
        default=0.0,
        ge=0,
        description="Seconds the request waited in the control plane before its grant was"
        " decided (never more): a program counting `send_within` from when it asked takes"
        " them off, so a control plane busy at a start does not make its grants stale",
    )


class WaitAction(BaseModel):
    action: Literal["wait"] = "wait"
    retry_after: float = Field(description="Seconds until asking again is worth it")
    max_in_flight: int = Field(
        default=1, description="Attempts the session may have leased and not yet reported"
    )
    reason: str | None = Field(
        default=None,
        description="Why nothing is sent for now, when it is more than the country's pace"
        " (its pair paused by the policy while the session's attempts in flight finish);"
        " left out when it is only the pace",
        # Most answers are paced waits: no `null` on each of them.
        exclude_if=lambda reason: reason is None,
    )


class StopAction(BaseModel):
    action: Literal["stop"] = "stop"
    reason: str


LeaseAction = Annotated[SendAction | WaitAction | StopAction, Field(discriminator="action")]


class ReportStatus(StrEnum):
    recorded = "recorded"
    duplicate = "duplicate"


class ReportResponse(BaseModel):
    status: ReportStatus
