"""API keys as stored (prefix and hash, never the secret) and as served."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from smsfleet.auth.models import Role
from smsfleet.core.records import Timestamp
from smsfleet.core.text import OneLine

KEY_PREFIX = "sfk"  # every key starts `sfk_`, so it can be told from a JWT at a glance


class Scope(StrEnum):
    read = "read"
    control = "control"

    @property
    def role(self) -> Role:
        """The most a key with this scope may do; never more than its owner."""
        return Role.operator if self is Scope.control else Role.viewer


class ApiKey(BaseModel):
    """Stored key: `id` is the public prefix; `secret_hash` never leaves the service."""

    id: str
    owner: str
    name: str
    scopes: list[Scope]
    secret_hash: str
    daily_quota: int | None = None
    monthly_quota: int | None = None
    created_at: Timestamp
    last_used_at: Timestamp | None = None
    revoked_at: Timestamp | None = None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OneLine = Field(min_length=1, max_length=64)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.read], min_length=1, max_length=2)
    daily_quota: StrictInt | None = Field(default=None, ge=1, le=100_000_000)
    monthly_quota: StrictInt | None = Field(default=None, ge=1, le=1_000_000_000)


class QuotaStatus(BaseModel):
    limit: int
    used: int
    remaining: int
    resets_at: Timestamp


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    owner: str
    name: str
    scopes: list[Scope]
    prefix: str = Field(description="How the key starts, to recognise it: `sfk_<id>_…`")
    daily_quota: int | None
    monthly_quota: int | None
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    active: bool
    daily: QuotaStatus | None = None
    monthly: QuotaStatus | None = None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The whole key: shown this once, never again")
