"""The audit log: who changed what runs, who forced a high-priority change (and who was
refused one), and who changed an account, an API key or a country's cap."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsfleet.apikeys.models import Scope
from smsfleet.auth.models import Role, UserPublic
from smsfleet.core.records import Timestamp


class AuditAction(StrEnum):
    program_created = "program.created"
    program_updated = "program.updated"
    program_deleted = "program.deleted"
    pair_created = "pair.created"
    pair_updated = "pair.updated"
    pair_deleted = "pair.deleted"
    # A change of a high-priority pair, or of one of its sessions, refused for the role
    # of who asked: the refusal is the entry's reason.
    pair_refused = "pair.refused"
    session_started = "session.started"
    session_stopped = "session.stopped"
    session_restarted = "session.restarted"
    session_refused = "session.refused"
    template_created = "template.created"
    template_updated = "template.updated"
    template_deleted = "template.deleted"
    user_created = "user.created"
    user_updated = "user.updated"
    user_deleted = "user.deleted"
    user_logged_out = "user.logged_out"
    api_key_created = "api_key.created"
    api_key_revoked = "api_key.revoked"
    country_updated = "country.updated"
    # An admin's search job run as another user (started or retried): the owner reads it.
    search_run_as = "search.run_as"
    # Someone is on it: its repeats stop (a person's alert is resolved).
    alert_acknowledged = "alert.acknowledged"
    # A person's own message to every Telegram chat: its text is the entry's reason.
    alert_message_sent = "alert.message_sent"
    # An SMS recorded by a person or a key through the seed routes (`/api/send-sms`,
    # `/api/receive-sms`): who put it in a number's conversation.
    message_recorded = "message.recorded"

    @property
    def target_kind(self) -> str:
        """What the action changes: the part of its name before the dot."""
        return self.value.partition(".")[0]


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
    target_kind: str = Field(
        description="program, pair, session, template, user, api_key, country, search (a job),"
        " alert or message"
    )
    target: str = Field(
        description="The program's name, the pair's key, the session's name, the template's"
        " id, the username, the API key's id, the country's code, the alert's id,"
        " `telegram` for a message to the chats, or an SMS's uuid"
    )
    forced: bool = Field(default=False, description="A high-priority pair's protection, waived")
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class UserChange(UserPublic):
    """A user as changed, for the audit log: whether the password changed, never to what.

    Like `UserPublic`, it has no password hash and no token version."""

    model_config = ConfigDict(extra="ignore")

    password_changed: bool = False


class ApiKeyAudited(BaseModel):
    """An API key as the audit log keeps it: never the key, nor its hash."""

    model_config = ConfigDict(extra="ignore")

    id: str
    owner: str
    name: str
    scopes: list[Scope]
    daily_quota: int | None = None
    monthly_quota: int | None = None
    created_at: Timestamp
    revoked_at: Timestamp | None = None


# Where each new entry is told (`AuditNotice`), to admins' live sockets only.
AUDIT_TOPIC = "audit"


class AuditNotice(BaseModel):
    """A new entry, told on the live socket so an open Audit page reloads: what it is
    about, without the records it holds (those are read from the log)."""

    id: str
    at: Timestamp
    action: AuditAction
    target_kind: str
    target: str
    actor: str
