"""Users, roles and tokens: the record kept in the store and the schemas HTTP sees."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from smsfleet.core.records import Timestamp
from smsfleet.core.settings import MIN_PASSWORD_LENGTH

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,31}$"
# Where revocations (`TokensRevoked`) are published: those users' live sockets close.
AUTH_TOPIC = "auth"


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


class User(BaseModel):
    """Stored user; `password_hash` never leaves the service layer."""

    username: str
    role: Role
    password_hash: str
    disabled: bool = False
    created_at: Timestamp
    updated_at: Timestamp
    # In every token issued; raised by a password, role or disabled change and by
    # logging out everywhere, so every token issued before is refused.
    token_version: int = 0


class Login(BaseModel):
    """A login, until it ends: its tokens carry its `session`, and its refresh token is
    good for one refresh, the one whose id is `refresh_id`. The one it replaced last
    (`replaced_id`, at `replaced_at`) still refreshes for the refresh grace after that,
    to `refresh_id` again: a page reloaded while its refresh was on the way holds it."""

    session: str
    username: str
    refresh_id: str
    expires_at: Timestamp
    replaced_id: str | None = None
    replaced_at: Timestamp | None = None
    # A refresh token the grace handed out again (two holders): once replaced, never in
    # the grace.
    shared_id: str | None = None


class RevokedSession(BaseModel):
    """A login ended by logging out: its tokens are refused until they would expire."""

    session: str
    username: str
    expires_at: Timestamp


class TokensRevoked(BaseModel):
    """Tokens of `username` were revoked: all of them, or those of one `session`."""

    username: str
    session: str | None = None


class UserPublic(BaseModel):
    username: str
    role: Role
    disabled: bool
    created_at: Timestamp


# Checked by the service (`weak_password_reason`), which says why a password is refused.
PASSWORD_RULE = (
    f"At least {MIN_PASSWORD_LENGTH} characters, not a well-known or trivially guessable one"
)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=256, description=PASSWORD_RULE)
    role: Role = Role.viewer


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    password: str | None = Field(
        default=None, min_length=1, max_length=256, description=PASSWORD_RULE
    )
    disabled: StrictBool | None = None


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    device_token: str | None = Field(
        default=None,
        max_length=4096,
        description="The device token an earlier login of this user returned here: failed"
        " logins of others from the same address do not lock this one out",
    )


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=4096)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (OAuth2 token type)
    expires_in: int = Field(description="Seconds until the access token expires")


class LoginTokens(TokenPair):
    device_token: str = Field(
        description="Send it with this user's next login from this browser or client"
    )


class AccessToken(BaseModel):
    """The seed documents' `POST /login` answer."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (OAuth2 token type)
