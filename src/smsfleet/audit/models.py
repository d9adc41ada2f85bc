"""The audit log: who changed what runs, and who forced a high-priority change."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsfleet.auth.models import Role
from smsfleet.core.records import Timestamp


class AuditAction(StrEnum):
    program_created = "program.created"
    program_updated = "program.updated"
    program_deleted = "program.deleted"
    pair_updated = "pair.updated"
    pair_deleted = "pair.deleted"
    session_stopped = "session.stopped"


class Actor(BaseModel):
    """Who acts: a signed-in user, or a user's API key (`api_key_id`)."""

    model_config = ConfigDict(frozen=True)

    username: str
    role: Role
    api_key_id: str | None = None

    @property
    def via_api_key(self) -> bool:
        return self.api_key_id is not None


class AuditEvent(BaseModel):
    """One change, with the record as it was (`before`) and as it became (`after`)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    at: Timestamp
    actor: str = Field(description="Username of who acted")
    actor_role: Role
    api_key_id: str | None = Field(default=None, description="Set when an API key acted")
    action: AuditAction
    target_kind: str = Field(description="program, pair or session")
    target: str = Field(description="The program's name, the pair's key or the session's name")
    forced: bool = Field(default=False, description="A high-priority pair's protection, waived")
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
