"""API keys: issue, list, revoke, and authenticate a request with scopes and quotas.

A key is `sfk_<id>_<secret>`: the id is its public prefix (the record's key), the
secret is 256 random bits. Only a SHA-256 of the whole key is kept: keys are
high-entropy, so a fast hash is as safe as a slow one and keeps each request cheap.
A key acts as its owner, capped by its scopes (read: viewer, control: operator;
never admin), and stops at its daily and monthly quotas (calendar periods, UTC).

What keys leave behind is bounded: an owner has at most `max_active_per_user` keys that
are not revoked (counted in the store, never from a listing of every key), and keeps at
most `kept_revoked_per_user` revoked ones: a revoke past it deletes their oldest revoked
keys, in one write.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smsfleet.apikeys.models import (
    KEY_PREFIX,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    QuotaStatus,
)
from smsfleet.apikeys.store import QuotaStore
from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, ApiKeyAudited, AuditAction, AuditEvent
from smsfleet.auth.models import Role, User
from smsfleet.core.clock import Clock, human_time
from smsfleet.core.errors import Conflict, Forbidden, NotFound, Throttled, Unauthorized
from smsfleet.core.records import EventLog, RecordStore

__all__ = [
    "ApiKeyAccess",
    "ApiKeyService",
    "QuotaUsedUp",
    "looks_like_api_key",
    "rate_limit_headers",
]

LAST_USED_EVERY = timedelta(minutes=1)  # a write per key per minute, not per request
_HOUR = timedelta(hours=1)


def looks_like_api_key(value: str) -> bool:
    return value.startswith(f"{KEY_PREFIX}_")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _owned_by(key: ApiKey, user: User) -> bool:
    """The key is this user's: made by this name since this account was made (an account
    deleted and made again under its name does not take up the old one's keys)."""
    return key.owner == user.username and key.created_at >= user.created_at


def _periods(now: datetime) -> tuple[tuple[str, datetime], tuple[str, datetime]]:
    """The day and the month `now` falls in (UTC), each with when it ends."""
    now = now.astimezone(UTC)
    day_end = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    month_end = (now.replace(day=28) + timedelta(days=4)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    return (f"d{now:%Y-%m-%d}", day_end), (f"m{now:%Y-%m}", month_end)


def rate_limit_headers(quota: QuotaStatus) -> dict[str, str]:
    """Where a key's tighter quota stands, as its every answer says."""
    return {
        "X-RateLimit-Limit": str(quota.limit),
        "X-RateLimit-Remaining": str(quota.remaining),
        "X-RateLimit-Reset": str(int(quota.resets_at.timestamp())),
    }


class QuotaUsedUp(Throttled):
    """A key's request refused by its used-up quota; the key and its owner's account say
    whose use it counts in."""

    def __init__(
        self, message: str, *, retry_after: int, key: ApiKey, owner: User, quota: QuotaStatus
    ) -> None:
        super().__init__(message, retry_after=retry_after, headers=rate_limit_headers(quota))
        self.key = key
        self.owner = owner


@dataclass(frozen=True)
class ApiKeyAccess:
    """Who a request with a key acts as, and where its quota stands."""

    user: User
    key: ApiKey
    quota: QuotaStatus | None

    def headers(self) -> dict[str, str]:
        return {} if self.quota is None else rate_limit_headers(self.quota)


class ApiKeyService:
    def __init__(
        self,
        *,
        keys: RecordStore[ApiKey],
        users: RecordStore[User],
        quotas: QuotaStore,
        audit: EventLog[AuditEvent],
        clock: Clock,
        max_active_per_user: int,
        kept_revoked_per_user: int = 50,
        made_per_hour: int = 20,
    ) -> None:
        self._keys = keys
        self._max_active = max_active_per_user
        self._kept_revoked = kept_revoked_per_user
        self._made_per_hour = made_per_hour
        self._users = users
        self._audit = audit
        self._quotas = quotas
        self._clock = clock
        self._last_written: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._creating = threading.Lock()

    # --- management: each change audited, as the user who made it ----------------------

    def create(self, *, owner: User, data: ApiKeyCreate) -> ApiKeyCreated:
        """A new key, shown this once; a scope its owner's role does not reach is refused
        (a viewer's `control` key could never control anything), and so is a key beyond
        the most an owner may have that are not revoked."""
        beyond = sorted(scope.value for scope in data.scopes if not owner.role.allows(scope.role))
        if beyond:
            raise Forbidden(
                f"a {owner.role.value}'s key can only read: "
                f"{', '.join(beyond)} needs the {Role.operator.value} role"
            )
        key_id = secrets.token_hex(4)
        key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(
            id=key_id,
            owner=owner.username,
            name=data.name,
            scopes=sorted(set(data.scopes)),
            secret_hash=_hash(key),
            daily_quota=data.daily_quota,
            monthly_quota=data.monthly_quota,
            created_at=self._clock.now(),
        )
        # Counted and added together: keys made at once in this process cannot all slip
        # under the cap. Counted again once added: keys made at once on other replicas,
        # each under the cap on what it read, are taken back past it.
        with self._creating:
            self._check_pace(owner)
            active = self._active_of(owner)
            if active >= self._max_active:
                raise self._past_cap(active)
            self._keys.add(record)
            active = self._active_of(owner)
            if active > self._max_active:
                self._keys.delete(record.id)
                raise self._past_cap(active - 1)
            # Recorded before the next key is counted: the hour's count reads these.
            self._record(owner, AuditAction.api_key_created, before=None, after=record)
        return ApiKeyCreated(**self.public(record).model_dump(), key=key)

    def _active_of(self, owner: User) -> int:
        """How many of `owner`'s keys are not revoked, up to one past the cap: the newest
        of them read from the store in one bounded query, not every key of every user."""
        newest = self._keys.first(
            self._max_active + 1,
            order_by="created_at",
            descending=True,
            where={"owner": owner.username, "revoked_at": None},
        )
        return sum(1 for k in newest if _owned_by(k, owner))

    def _check_pace(self, owner: User) -> None:
        """Refuse a key past the most one user may make an hour (429): made and revoked in
        a loop, each would be two audit entries kept a year. Counted on the audit log, which
        keeps every key made, revoked and deleted ones too."""
        now = self._clock.now()
        audit_service.check_audited_pace(
            self._audit,
            action=AuditAction.api_key_created,
            actor=owner.username,
            most=self._made_per_hour,
            window=_HOUR,
            now=now,
            said="you made {count} API keys in the last {minutes} min, the most one user may",
        )

    def _past_cap(self, active: int) -> Conflict:
        return Conflict(
            f"a user may have at most {self._max_active} active API keys and you"
            f" have {active}: revoke keys you no longer use before making another",
            details={"active": active, "max_active": self._max_active},
        )

    def find(self, *, actor: User, limit: int) -> list[ApiKeyPublic]:
        """The actor's keys; every key for an admin. The newest `limit`, newest first."""
        keys = [k for k in self._keys.list() if actor.role is Role.admin or _owned_by(k, actor)]
        keys.sort(key=lambda k: (k.created_at, k.id), reverse=True)
        return [self.public(k) for k in keys[:limit]]

    def get(self, *, actor: User, key_id: str) -> ApiKey:
        key = self._keys.get(key_id)
        # Someone else's key is as unknown as a missing one: its id says nothing.
        if key is None or (actor.role is not Role.admin and not _owned_by(key, actor)):
            raise NotFound(f"no API key {key_id!r}")
        return key

    def revoke(self, *, actor: User, key_id: str) -> ApiKeyPublic:
        return self.public(self._revoked(self.get(actor=actor, key_id=key_id), actor))

    def revoke_owned(self, owner: str, *, actor: Actor) -> int:
        """Revoke every key `owner` made (their account is deleted); returns how many."""
        owned = [k for k in self._keys.list() if k.owner == owner and k.revoked_at is None]
        for key in owned:
            self._revoked(key, actor)
        return len(owned)

    def _revoked(self, key: ApiKey, actor: User | Actor) -> ApiKey:
        if key.revoked_at is not None:  # revoking a revoked key changes nothing
            return key
        now = self._clock.now()
        # Only `revoked_at`, only while unset: a revocation meanwhile stands as it was
        # (audited by whoever made it), and nothing else of the key is written back.
        if not self._keys.update(key.id, {"revoked_at": now}, where={"revoked_at": None}):
            return self._keys.get(key.id) or key
        revoked = key.model_copy(update={"revoked_at": now})
        self._record(actor, AuditAction.api_key_revoked, before=key, after=revoked)
        self._drop_revoked(key.owner)
        return revoked

    def _drop_revoked(self, owner: str) -> None:
        """`owner`'s revoked keys but the `kept_revoked_per_user` revoked last are deleted,
        in one write. Read newest revoked first: keys not revoked (no `revoked_at`) come
        after every revoked one on every backend, and are never deleted."""
        newest = self._keys.first(
            self._kept_revoked + 1, order_by="revoked_at", descending=True, where={"owner": owner}
        )
        if len(newest) <= self._kept_revoked:
            return
        first_dropped = newest[-1]
        if first_dropped.revoked_at is None:
            return
        self._keys.delete_up_to(
            "revoked_at",
            first_dropped.revoked_at,
            last_key=first_dropped.id,
            where={"owner": owner},
        )

    def _record(
        self,
        actor: User | Actor,
        action: AuditAction,
        *,
        before: ApiKey | None,
        after: ApiKey,
    ) -> None:
        """Its id, name, owner, scopes and quotas: never the key, nor its hash."""

        def audited(key: ApiKey | None) -> ApiKeyAudited | None:
            if key is None:
                return None
            fields = set(ApiKeyAudited.model_fields)
            return ApiKeyAudited.model_validate(key.model_dump(include=fields))

        audit_service.record(
            audit=self._audit,
            clock=self._clock,
            actor=audit_service.actor_of(actor),
            action=action,
            target=after.id,
            before=audited(before),
            after=audited(after),
        )

    def public(self, key: ApiKey) -> ApiKeyPublic:
        daily, monthly = self._quota_status(key)
        return ApiKeyPublic(
            id=key.id,
            owner=key.owner,
            name=key.name,
            scopes=key.scopes,
            prefix=f"{KEY_PREFIX}_{key.id}_",
            daily_quota=key.daily_quota,
            monthly_quota=key.monthly_quota,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            active=key.revoked_at is None,
            daily=daily,
            monthly=monthly,
        )

    def _quota_status(self, key: ApiKey) -> tuple[QuotaStatus | None, QuotaStatus | None]:
        if key.daily_quota is None and key.monthly_quota is None:
            return None, None
        (day, day_end), (month, month_end) = _periods(self._clock.now())
        used = self._quotas.used(key.id, [day, month])
        return (
            _status(key.daily_quota, used.get(day, 0), day_end),
            _status(key.monthly_quota, used.get(month, 0), month_end),
        )

    # --- requests ----------------------------------------------------------------------

    def authenticate(self, presented: str) -> ApiKeyAccess:
        """The access a presented key gives, counted against its quotas."""
        parts = presented.split("_", 2)
        key = self._keys.get(parts[1]) if len(parts) == 3 else None
        if key is None or not hmac.compare_digest(key.secret_hash, _hash(presented)):
            raise Unauthorized("unknown API key")
        if key.revoked_at is not None:
            raise Unauthorized("this API key was revoked")
        owner = self._users.get(key.owner)
        if owner is None or owner.disabled or not _owned_by(key, owner):
            raise Unauthorized("the owner of this API key is unknown or disabled")
        quota = self._count(key, owner)
        self._touch(key)
        granted = max((scope.role for scope in key.scopes), key=lambda role: role.rank)
        role = min(owner.role, granted, key=lambda r: r.rank)
        return ApiKeyAccess(user=owner.model_copy(update={"role": role}), key=key, quota=quota)

    def _count(self, key: ApiKey, owner: User) -> QuotaStatus | None:
        if key.daily_quota is None and key.monthly_quota is None:
            return None
        now = self._clock.now()
        (day, day_end), (month, month_end) = _periods(now)
        limits = {day: key.daily_quota, month: key.monthly_quota}
        counts, refused = self._quotas.take(key.id, limits, now=now)
        if refused is not None:
            resets_at = day_end if refused == day else month_end
            which = "daily" if refused == day else "monthly"
            resets = human_time(resets_at, now=now)
            used_up = _status(limits[refused], counts[refused], resets_at)
            assert used_up is not None  # only a period with a limit refuses
            raise QuotaUsedUp(
                f"this API key used its {which} quota; it resets at {resets}",
                retry_after=max(1, int((resets_at - now).total_seconds())),
                key=key,
                owner=owner,
                quota=used_up,
            )
        # The tighter of the two is what the caller should watch.
        statuses = [
            s
            for s in (
                _status(key.daily_quota, counts[day], day_end),
                _status(key.monthly_quota, counts[month], month_end),
            )
            if s is not None
        ]
        return min(statuses, key=lambda s: s.remaining)

    def _touch(self, key: ApiKey) -> None:
        now = self._clock.now()
        with self._lock:
            last = self._last_written.get(key.id)
            if last is not None and now - last < LAST_USED_EVERY:
                return
            self._last_written[key.id] = now
        # Only while not revoked: a revocation since the key was read is never undone.
        self._keys.update(key.id, {"last_used_at": now}, where={"revoked_at": None})


def _status(limit: int | None, used: int, resets_at: datetime) -> QuotaStatus | None:
    if limit is None:
        return None
    return QuotaStatus(limit=limit, used=used, remaining=max(0, limit - used), resets_at=resets_at)
