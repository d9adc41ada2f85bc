"""Password hashing (argon2) and signed tokens (JWT, HS256 only)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from smsfleet.core.errors import Unauthorized, Unavailable

TokenKind = Literal["access", "refresh"]
ALGORITHM = "HS256"

# OWASP's first argon2id choice: 19 MiB and two passes a hash (the library's default
# took 64 MiB, so a few parallel logins cost hundreds of MiB). Hashes made with other
# parameters still verify; a login rehashes them with these.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("smsfleet-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


class PasswordChecks:
    """At most `limit` password hashes computed at once, in threads of their own.

    A check waits up to `wait_seconds` for a free place, then `Unavailable` (503).
    Only these threads ever hash, so the memory a hash takes (kept by the allocator of
    the thread that made it) is bounded by `limit` hashes, not by the request threads.
    """

    def __init__(self, *, limit: int, wait_seconds: float) -> None:
        self._slots = threading.BoundedSemaphore(limit)
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="password")
        self._wait = wait_seconds
        self._lock = threading.Lock()
        self.limit = limit
        self.running = 0
        self.peak = 0

    def _run(self, password: str, password_hash: str | None) -> bool:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return verify_password(password, password_hash)
        finally:
            with self._lock:
                self.running -= 1

    def verify(self, password: str, password_hash: str | None) -> bool:
        if not self._slots.acquire(timeout=self._wait):
            raise Unavailable("too many logins at once; try again in a moment", retry_after=1)
        try:
            return self._pool.submit(self._run, password, password_hash).result()
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        if not self._slots.acquire(timeout=self._wait):
            raise Unavailable("too many logins at once; try again in a moment", retry_after=1)
        try:
            return self._pool.submit(hash_password, password).result()
        finally:
            self._slots.release()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: str
    kind: TokenKind
    expires_at: datetime
    version: int
    session: str
    token_id: str


def new_session_id() -> str:
    """One login's id: its access and refresh tokens carry it, and a logout revokes it."""
    return uuid.uuid4().hex


def new_token_id() -> str:
    """One token's own id (`jti`): a login takes the refresh token of one id only."""
    return uuid.uuid4().hex


def encode_token(
    *,
    secret: str,
    subject: str,
    role: str,
    kind: TokenKind,
    now: datetime,
    ttl: timedelta,
    version: int,
    session: str,
    token_id: str,
) -> str:
    payload = {
        "sub": subject,
        "role": role,
        "typ": kind,
        "iat": now,
        "exp": now + ttl,
        "jti": token_id,
        "ver": version,
        "sid": session,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def _signed_claims(token: str, secret: str, required: list[str]) -> dict[str, Any]:
    """The claims of a token signed with `secret` that holds every one of `required`;
    `jwt.PyJWTError` otherwise. Expiry is left to the caller, checked against the injected
    clock, not the wall clock."""
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        options={"require": required, "verify_exp": False, "verify_iat": False},
    )
    return claims


# The last second a `datetime` holds (9999-12-31 23:59:59 UTC): a later expiry is refused
# before it is read as a time, which would fail.
_LAST_SECOND = 253_402_300_799


def _expiry(value: object, now: datetime) -> datetime | None:
    """A token's `exp` as a time; None when it is not a whole number of seconds a time
    holds (signed, it still can be anything)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _LAST_SECOND:
        return None
    return datetime.fromtimestamp(value, tz=now.tzinfo)


def decode_token(token: str, *, secret: str, kind: TokenKind, now: datetime) -> TokenClaims:
    """Claims of a valid token of `kind`; anything else raises `Unauthorized`.

    Tokens without a version and a session (issued before tokens could be revoked)
    are refused: their holders log in again.
    """
    try:
        payload = _signed_claims(token, secret, ["sub", "exp", "typ", "ver", "sid", "jti"])
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token") from exc
    expires_at = _expiry(payload["exp"], now)
    if expires_at is None:
        raise Unauthorized("invalid token")
    if expires_at <= now:
        raise Unauthorized("token expired")
    if payload.get("typ") != kind:
        raise Unauthorized("not an access token" if kind == "access" else "not a refresh token")
    version, session, token_id = payload["ver"], payload["sid"], payload["jti"]
    if (
        not isinstance(version, int)
        or not isinstance(session, str)
        or not isinstance(token_id, str)
    ):
        raise Unauthorized("invalid token")
    return TokenClaims(
        subject=str(payload["sub"]),
        role=str(payload.get("role", "")),
        kind=kind,
        expires_at=expires_at,
        version=version,
        session=session,
        token_id=token_id,
    )


@dataclass(frozen=True)
class DeviceHolder:
    """Whose device token: the user and the version of their tokens, which a changed
    password or a logout everywhere moves on and an account made again under the name
    starts elsewhere (at random), leaving the old device tokens worth nothing."""

    username: str
    token_version: int


def encode_device_token(
    *, secret: str, holder: DeviceHolder, now: datetime, ttl: timedelta, device: str
) -> str:
    """A device token: `holder` logged in from the bearer's browser or client before.
    It grants nothing; a login presenting it is counted on the device's own budget."""
    payload = {
        "sub": holder.username,
        "typ": "device",
        "iat": now,
        "exp": now + ttl,
        "jti": device,
        "ver": holder.token_version,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def device_of(token: str, *, secret: str, holder: DeviceHolder, now: datetime) -> str | None:
    """The device id of a valid device token of `holder` as it is now; None for any other
    token, so a login cannot tell a forged, expired, outdated or another user's token from
    none."""
    try:
        payload = _signed_claims(token, secret, ["sub", "exp", "typ", "jti", "ver"])
    except jwt.PyJWTError:
        return None
    device, expires = payload["jti"], _expiry(payload["exp"], now)
    if (
        payload["typ"] != "device"
        or payload["sub"] != holder.username
        or payload["ver"] != holder.token_version
        or not isinstance(device, str)
        or expires is None
        or expires <= now
    ):
        return None
    return device


# A worker token: the creation time of the session it was issued for (milliseconds since
# the epoch, as a `Timestamp` keeps it), then an HMAC over that time and the session's
# name. A session removed and created again under its name has another creation time, so
# the tokens of its earlier runs (in their environment, their logs) are not its own.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The last millisecond a `datetime` holds (9999-12-31) has 15 digits: a longer stamp is
# refused before it is read as a number.
_STAMP_DIGITS_MAX = 15


def worker_token(*, secret: str, session: str, created_at: datetime) -> str:
    """The token a session's program presents: bound to that session as created at
    `created_at`, derived, not stored."""
    created_ms = (created_at - _EPOCH) // timedelta(milliseconds=1)
    # The stamp first: digits only, so the colon after it ends it, whatever the name holds.
    message = f"worker:{created_ms}:{session}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{created_ms}.{digest}"


def verify_worker_token(*, secret: str, session: str, token: str) -> datetime | None:
    """The creation time of the session `token` was issued for, or None when it is not a
    worker token of `session` (another secret's, forged, malformed)."""
    stamp, dot, _ = token.partition(".")
    if not dot or not (stamp.isascii() and stamp.isdigit()) or len(stamp) > _STAMP_DIGITS_MAX:
        return None
    try:
        created_at = _EPOCH + timedelta(milliseconds=int(stamp))
    except OverflowError:  # past the last day a datetime holds
        return None
    # As bytes: compare_digest refuses str with characters outside ASCII (a header's). The
    # whole token is compared, so a stamp written otherwise (leading zeros) is refused.
    expected = worker_token(secret=secret, session=session, created_at=created_at).encode()
    if not hmac.compare_digest(expected, token.encode("utf-8", "surrogateescape")):
        return None
    return created_at
