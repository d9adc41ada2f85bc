"""Alerts and their notifications, as stored and as served."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsfleet.core.bounds import QueryTime
from smsfleet.core.records import Timestamp
from smsfleet.core.text import NonBlankProse
from smsfleet.pairs.models import COUNTRY_CODE_PATTERN


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class AlertRule(StrEnum):
    success_rate_low = "success_rate_low"
    success_rate_drop = "success_rate_drop"
    session_crashed = "session_crashed"
    session_fatal = "session_fatal"
    session_hung = "session_hung"
    country_under_target = "country_under_target"
    gateway_errors = "gateway_errors"
    pair_paused = "pair_paused"
    priority_pair_failing = "priority_pair_failing"
    manual = "manual"


class SubjectKind(StrEnum):
    pair = "pair"
    session = "session"
    country = "country"
    gateway = "gateway"
    fleet = "fleet"


class AlertState(StrEnum):
    firing = "firing"
    resolved = "resolved"


class NotificationKind(StrEnum):
    firing = "firing"
    repeat = "repeat"
    resolved = "resolved"
    message = "message"


class Signal(BaseModel):
    """A condition a rule sees now; the engine turns it into an alert or keeps one open."""

    rule: AlertRule
    severity: Severity
    subject_kind: SubjectKind
    subject: str
    country: str | None = None
    summary: str = Field(description="One line: what is wrong, with its figures")
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        # Warning and critical of one rule on one subject are one alert that changes severity.
        return f"{self.rule}:{self.subject_kind}:{self.subject}"


class Alert(BaseModel):
    """One alert: opened by a signal, kept open while it lasts, resolved when it clears."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    fingerprint: str
    rule: AlertRule
    severity: Severity
    state: AlertState
    subject_kind: SubjectKind
    subject: str
    country: str | None
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
    started_at: Timestamp
    last_seen_at: Timestamp
    resolved_at: Timestamp | None = None
    acknowledged_at: Timestamp | None = None
    acknowledged_by: str | None = None
    milder_acknowledged_at: Timestamp | None = Field(
        default=None,
        description="When it was last acknowledged before it got worse: that acknowledgement"
        " no longer holds (whoever gave it has not seen it worse)",
    )
    milder_acknowledged_by: str | None = None
    milder_acknowledged_severity: Severity | None = Field(
        default=None, description="Its severity when that acknowledgement was given"
    )
    last_notified_at: Timestamp | None = None
    notifications: int = Field(default=0, description="Telegram messages queued for it")


class AlertQuery(BaseModel):
    """Filters of `GET /api/v1/alerts`."""

    model_config = ConfigDict(extra="forbid")

    state: AlertState | None = None
    severity: Severity | None = None
    rule: AlertRule | None = None
    country: str | None = Field(default=None, pattern=COUNTRY_CODE_PATTERN)
    subject: str | None = Field(default=None, max_length=80)
    acknowledged: bool | None = None
    since: QueryTime | None = Field(default=None, description="Started at or after (ISO 8601)")
    limit: int = Field(default=100, ge=1, le=1000)


class AlertCounts(BaseModel):
    firing: int
    critical: int
    unacknowledged: int


class Notification(BaseModel):
    """One Telegram message in the outbox: kept until sent, sent in order per chat."""

    id: int
    chat_id: str
    kind: NotificationKind
    alert_id: str | None
    text: str
    created_at: Timestamp
    attempts: int = 0
    next_attempt_at: Timestamp
    sent_at: Timestamp | None = None
    failed_at: Timestamp | None = None
    last_error: str | None = None
    silent: bool = Field(
        default=False,
        description="Sent without a sound: another alert of its pair had already paged the chat",
    )
    sending_at: Timestamp | None = Field(
        default=None,
        description="When a try to send it began that has not ended: the control plane"
        " stopped while sending it",
    )


class NotificationStatus(BaseModel):
    """Outbox figures for the UI and `/metrics`."""

    configured: bool = Field(description="A bot token and at least one chat are set")
    pending: int
    failed: int
    oldest_pending_at: Timestamp | None
    not_taken: str | None = Field(
        default=None,
        description="Why the oldest message waiting was not sent yet: what Telegram (or the"
        " way to it) answered at its last try; null while none was tried and not taken",
    )
    next_try_at: Timestamp | None = Field(
        default=None, description="When that message is tried again (null: at once)"
    )
    last_sent_at: Timestamp | None = Field(
        default=None,
        description="When Telegram last took a message (null: none kept, sent or since"
        " deleted with its alert)",
    )


class MessageRequest(BaseModel):
    """`POST /api/v1/alerts/test`: a message to every chat, to try the channel."""

    model_config = ConfigDict(extra="forbid")

    message: NonBlankProse = Field(min_length=1, max_length=3500)


class AlertRequest(BaseModel):
    """The seed route `POST /alert`: a person's alert, kept and sent where channels are."""

    model_config = ConfigDict(extra="forbid")

    message: NonBlankProse = Field(min_length=1, max_length=3500)
    severity: Severity = Field(
        default=Severity.critical, description="critical reaches every configured chat"
    )


class AlertRaised(BaseModel):
    status: str = "accepted"
    alert_id: str
    state: AlertState
    channels: list[str] = Field(
        description="Where it was sent (`telegram:<chat id>`); empty when no channel took it"
    )
    message: str = Field(description="What happened, for a person")


class MessageQueued(BaseModel):
    status: str = "queued"
    message: str = Field(description="What happened, for a person")
    notifications: list[int] = Field(description="Outbox ids, one per chat")
