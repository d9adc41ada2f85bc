"""Password hashing (argon2) and signed tokens (JWT, HS256 only)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from smsfleet.core.errors import Unauthorized

TokenKind = Literal["access", "refresh"]
ALGORITHM = "HS256"

_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("smsfleet-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: str
    kind: TokenKind
    expires_at: datetime


def encode_token(
    *, secret: str, subject: str, role: str, kind: TokenKind, now: datetime, ttl: timedelta
) -> str:
    payload = {
        "sub": subject,
        "role": role,
        "typ": kind,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str, kind: TokenKind, now: datetime) -> TokenClaims:
    """Claims of a valid token of `kind`; anything else raises `Unauthorized`."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Expiry is checked below against the injected clock, not the wall clock.
            options={"require": ["sub", "exp", "typ"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token") from exc
    expires_at = datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo)
    if expires_at <= now:
        raise Unauthorized("token expired")
    if payload.get("typ") != kind:
        raise Unauthorized(f"not an {kind} token")
    return TokenClaims(
        subject=str(payload["sub"]),
        role=str(payload.get("role", "")),
        kind=kind,
        expires_at=expires_at,
    )


def worker_token(*, secret: str, session: str) -> str:
    """The token a session's program presents: bound to that session, derived, not stored."""
    return hmac.new(secret.encode(), f"worker:{session}".encode(), hashlib.sha256).hexdigest()


def verify_worker_token(*, secret: str, session: str, token: str) -> bool:
    return hmac.compare_digest(worker_token(secret=secret, session=session), token)
