"""Request and response bodies of the simulator's HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsfleet.simulator.config import (
    Phone,
    ProviderConfig,
    RouteKey,
    RouteOverlay,
    RouteSettings,
)

TRIGGER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
TriggerId = Annotated[str, Field(pattern=TRIGGER_ID_PATTERN)]
Outcome = Literal["delivered", "not_delivered", "send_error"]
MessageState = Literal["pending", "delivered", "not_delivered"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SendRequest(_Body):
    phone: Phone
    route: RouteKey
    trigger_id: TriggerId | None = Field(
        default=None, description="Client idempotency id; a retry with it returns the first answer."
    )


class SendResponse(BaseModel):
    status: Literal["sent successfully"] = "sent successfully"
    trigger_id: str


class SubmitRequest(_Body):
    trigger_id: TriggerId
    code: Annotated[str, Field(min_length=1, max_length=32)]


class SubmitResponse(BaseModel):
    status: Literal["submitted successfully"] = "submitted successfully"
    trigger_id: str


class MessageStatus(BaseModel):
    trigger_id: str
    status: MessageState
    code: str | None = None
    delivered_at: datetime | None = None


class InboxMessage(BaseModel):
    trigger_id: str
    provider: str
    route: str
    code: str
    text: str
    delivered_at: datetime


class Inbox(BaseModel):
    phone: str
    messages: list[InboxMessage]


class RouteNumbers(BaseModel):
    route: str
    phones: list[str]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class RouteView(BaseModel):
    route: str
    overrides: RouteOverlay
    effective: RouteSettings


class ProviderView(BaseModel):
    provider: str
    settings: ProviderConfig


class OptionsView(BaseModel):
    code_length: int
    strict: bool
    truth_log: str | None
    admin_token_set: bool


class ConfigView(BaseModel):
    simulator: OptionsView
    defaults: RouteSettings
    routes: dict[str, RouteView]
    providers: dict[str, ProviderView]


class ResetRequest(_Body):
    config: bool = Field(default=True, description="Restore routes and providers as loaded.")
    truth: bool = Field(default=True, description="Forget triggers, messages and the log.")


class ResetResponse(BaseModel):
    status: Literal["reset"] = "reset"
    config: bool
    truth: bool


class TruthRecord(BaseModel):
    seq: int
    trigger_id: str | None
    provider: str
    route: str
    phone: str
    triggered_at: datetime
    outcome: Outcome
    error_code: str | None = None
    http_status: int
    code: str | None = None
    latency_seconds: float | None = None
    delivered_at: datetime | None = Field(
        default=None, description="When the message arrives (or arrived); set for delivered only."
    )
    give_up_at: datetime | None = None
    status: MessageState | None = Field(
        default=None, description="What the gateway reports now; none for send errors."
    )
    submitted: bool = False
    submitted_at: datetime | None = None
    wrong_codes: int = 0


class RouteCounts(BaseModel):
    triggered: int = 0
    delivered: int = 0
    not_delivered: int = 0
    send_errors: int = 0
    pending: int = 0
    submitted: int = 0


class TruthReport(BaseModel):
    records: list[TruthRecord]
    counts: dict[str, RouteCounts]
    total: RouteCounts
