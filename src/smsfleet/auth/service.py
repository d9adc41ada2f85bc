"""Users, logins and tokens. Keyword-only functions taking their store; no HTTP here."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction, AuditEvent, UserChange
from smsfleet.auth.models import (
    Login,
    LoginTokens,
    RevokedSession,
    Role,
    TokenPair,
    TokensRevoked,
    User,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from smsfleet.auth.throttle import LoginThrottle
from smsfleet.core.clock import Clock
from smsfleet.core.errors import (
    Conflict,
    NotFound,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from smsfleet.core.records import EventLog, RecordStore, change_record
from smsfleet.core.security import (
    DeviceHolder,
    PasswordChecks,
    TokenClaims,
    TokenKind,
    decode_token,
    device_of,
    encode_device_token,
    encode_token,
    hash_password,
    needs_rehash,
    new_session_id,
    new_token_id,
    verify_password,
)
from smsfleet.core.settings import (
    DEVICE_TOKEN_DAYS,
    MAX_OPEN_LOGINS_PER_USER,
    REFRESH_GRACE_SECONDS,
    weak_password_reason,
)

__all__ = [
    "ADMIN_USERNAME",
    "LoginEnded",
    "TokenPolicy",
    "UserUpdate",
    "UserUpdated",
    "create_user",
    "get_user",
    "login",
    "logout",
    "public_user",
    "refresh",
    "revoke_all_tokens",
    "set_password",
    "start_login",
    "update_user",
]

ADMIN_USERNAME = "admin"

# A user's own logouts everywhere audited an hour, at most: each takes only a login, so a
# loop of them would fill the log (kept a year). Past it they still log out, unaudited.
SELF_LOGOUTS_AUDITED_PER_HOUR = 5
_HOUR = timedelta(hours=1)
# Held from counting a user's audited logouts to auditing one: those made at once in this
# process are counted one after the other.
_AUDITING_LOGOUT = threading.Lock()


@dataclass(frozen=True)
class TokenPolicy:
    secret: str
    access_ttl: timedelta
    refresh_ttl: timedelta
    # Logins one user holds at once: a further one ends their oldest.
    max_logins_per_user: int = MAX_OPEN_LOGINS_PER_USER
    # How long a refresh token just replaced still refreshes, to the one that replaced it.
    refresh_grace: timedelta = timedelta(seconds=REFRESH_GRACE_SECONDS)
    device_ttl: timedelta = timedelta(days=DEVICE_TOKEN_DAYS)


def _check_password_strength(password: str, *, username: str) -> None:
    reason = weak_password_reason(password, username=username)
    if reason:
        refused = f"password refused: {reason}"
        raise ValidationFailed.for_field("password", refused, message=refused)


class LoginEnded(Unauthorized):
    """A refresh token presented after it was used: someone else may hold a copy, so the
    login is ended for every holder, and `revoked` says which to tell."""

    def __init__(self, revoked: TokensRevoked) -> None:
        super().__init__("refresh token already used: this login is ended, log in again")
        self.revoked = revoked


def login(
    *,
    users: RecordStore[User],
    logins: RecordStore[Login],
    throttle: LoginThrottle,
    checks: PasswordChecks,
    policy: TokenPolicy,
    clock: Clock,
    username: str,
    password: str,
    address: str,
    device_token: str | None = None,
) -> LoginTokens:
    """Tokens for the right password, and a new device token; the attempt is counted
    before the password is checked, on the budget of the user's device token if given."""
    now = clock.now()
    user = users.get(username)
    device = (
        device_of(device_token, secret=policy.secret, holder=_holder(user), now=now)
        if device_token and user is not None
        else None
    )
    attempt = throttle.begin(username=username, address=address, device=device)
    try:
        valid = checks.verify(password, user.password_hash if user else None)
    except Unavailable:
        throttle.not_checked(attempt)
        raise
    if user is None or not valid or user.disabled:
        raise Unauthorized("invalid username or password")
    throttle.succeeded(attempt)
    if needs_rehash(user.password_hash):
        user = _rehashed(users=users, checks=checks, user=user, password=password)
    tokens = start_login(logins=logins, user=user, policy=policy, clock=clock)
    device_token = encode_device_token(
        secret=policy.secret,
        holder=_holder(user),
        now=now,
        ttl=policy.device_ttl,
        device=new_token_id(),
    )
    return LoginTokens(**tokens.model_dump(), device_token=device_token)


def _holder(user: User) -> DeviceHolder:
    return DeviceHolder(username=user.username, token_version=user.token_version)


def start_login(
    *, logins: RecordStore[Login], user: User, policy: TokenPolicy, clock: Clock
) -> TokenPair:
    """A new login of `user` (whose password was checked) and its first tokens.

    Logins that ended are removed, and so are the user's oldest beyond the policy's
    `max_logins_per_user` (their refresh tokens refused from now): indexed deletes and
    a read of at most that many of the user's logins, never of everyone's, so a login
    costs the same however many others there are.
    """
    logins.delete_up_to("expires_at", clock.now())
    _make_room(logins, user.username, policy.max_logins_per_user)
    issued = issue_tokens(user=user, policy=policy, clock=clock)
    logins.add(
        Login(
            session=issued.session,
            username=user.username,
            refresh_id=issued.refresh_id,
            expires_at=issued.expires_at,
        )
    )
    return issued.tokens


def _make_room(logins: RecordStore[Login], username: str, most: int) -> None:
    """Room for a new login of `username` within `most`: if they hold `most` already,
    all but their newest `most - 1` are ended, in one write, and their refresh tokens are
    refused from now. Newest by when they end, so by when they began while the refresh
    lifetime is unchanged. Two logins made at once may each find room for theirs: the
    user's next login brings them back within `most`."""
    newest = logins.first(
        most, order_by="expires_at", descending=True, where={"username": username}
    )
    if len(newest) < most:
        return
    newest_ended = newest[-1]
    logins.delete_up_to(
        "expires_at",
        newest_ended.expires_at,
        last_key=newest_ended.session,
        where={"username": username},
    )


def _rehashed(
    *, users: RecordStore[User], checks: PasswordChecks, user: User, password: str
) -> User:
    """The user with the password hashed anew with today's parameters (same password)."""
    try:
        new_hash = checks.hash(password)
    except Unavailable:  # busy: the next login will do it
        return user
    # Only the hash, only while it is the one just verified: a password changed meanwhile
    # is kept, and so is anything else changed meanwhile (a token version raised).
    if not users.update(
        user.username, {"password_hash": new_hash}, where={"password_hash": user.password_hash}
    ):
        return user
    return user.model_copy(update={"password_hash": new_hash})


@dataclass(frozen=True)
class IssuedTokens:
    tokens: TokenPair
    session: str
    refresh_id: str  # the refresh token's id, which its login takes next
    expires_at: datetime  # the login's end


def issue_tokens(
    *,
    user: User,
    policy: TokenPolicy,
    clock: Clock,
    session: str | None = None,
    session_expires_at: datetime | None = None,
    refresh_id: str | None = None,
) -> IssuedTokens:
    """Tokens for a new login, or (with `session`) new tokens for the same login, with a
    new refresh token or (with `refresh_id`) the one of that id again.

    A login lasts the refresh lifetime from when it began: refreshing never extends it.
    """
    now = clock.now()
    session = session or new_session_id()
    refresh_ttl = policy.refresh_ttl
    if session_expires_at is not None:
        refresh_ttl = min(refresh_ttl, session_expires_at - now)
    refresh_id = refresh_id or new_token_id()

    def token(kind: TokenKind, ttl: timedelta, token_id: str) -> str:
        return encode_token(
            secret=policy.secret,
            subject=user.username,
            role=user.role,
            kind=kind,
            now=now,
            ttl=ttl,
            version=user.token_version,
            session=session,
            token_id=token_id,
        )

    access_ttl = min(policy.access_ttl, refresh_ttl)
    return IssuedTokens(
        tokens=TokenPair(
            access_token=token("access", access_ttl, new_token_id()),
            refresh_token=token("refresh", refresh_ttl, refresh_id),
            expires_in=int(access_ttl.total_seconds()),
        ),
        session=session,
        refresh_id=refresh_id,
        expires_at=now + refresh_ttl,
    )


def _active_user(users: RecordStore[User], username: str) -> User:
    user = users.get(username)
    if user is None or user.disabled:
        raise Unauthorized("user is unknown or disabled")
    return user


def check_claims(
    *, users: RecordStore[User], revoked: RecordStore[RevokedSession], claims: TokenClaims
) -> User:
    """The user whose token these claims are, while the token stands: the user active,
    their tokens not revoked since it was issued, its login not ended."""
    user = _active_user(users, claims.subject)
    if claims.version != user.token_version:
        raise Unauthorized("token revoked: log in again")
    if revoked.get(claims.session) is not None:
        raise Unauthorized("logged out: log in again")
    return user


def refresh(
    *,
    users: RecordStore[User],
    revoked: RecordStore[RevokedSession],
    logins: RecordStore[Login],
    policy: TokenPolicy,
    clock: Clock,
    refresh_token: str,
) -> TokenPair:
    """New tokens for the login of `refresh_token`, which is good once: the new refresh
    token replaces it. For the policy's `refresh_grace` after, it still refreshes, to the
    token that replaced it (a page reloaded while its refresh was on the way kept it, and
    two requests may refresh with it at once). Presented again later, or once its
    successor was replaced in turn, it ends the login (`LoginEnded`), since a copy of it
    may be in other hands, and whoever refreshes first must not keep the login."""
    now = clock.now()
    claims = decode_token(refresh_token, secret=policy.secret, kind="refresh", now=now)
    user = check_claims(users=users, revoked=revoked, claims=claims)
    login = logins.get(claims.session)
    if (
        login is not None
        and login.username == user.username
        and login.refresh_id == claims.token_id
    ):
        issued = issue_tokens(
            user=user,
            policy=policy,
            clock=clock,
            session=claims.session,
            session_expires_at=claims.expires_at,
        )
        # Only while it takes this token: of two refreshes with one token, one replaces it.
        replaced = {"refresh_id": issued.refresh_id, "replaced_id": claims.token_id}
        if logins.update(
            claims.session, {**replaced, "replaced_at": now}, where={"refresh_id": claims.token_id}
        ):
            return issued.tokens
        login = logins.get(claims.session)  # as the other refresh left it
    if login is None or login.username != user.username:
        raise Unauthorized("login ended: log in again")
    # The successor is handed out a second time: marked shared, only while it is still
    # the login's (else the token presented is two refreshes back).
    if not _in_grace(login, claims.token_id, policy, now) or not logins.update(
        claims.session,
        {"shared_id": login.refresh_id},
        where={"refresh_id": login.refresh_id, "replaced_id": claims.token_id},
    ):
        raise LoginEnded(
            _end_login(revoked=revoked, logins=logins, claims=claims, policy=policy, clock=clock)
        )
    return issue_tokens(
        user=user,
        policy=policy,
        clock=clock,
        session=claims.session,
        session_expires_at=claims.expires_at,
        refresh_id=login.refresh_id,
    ).tokens


def _in_grace(login: Login, token_id: str, policy: TokenPolicy, now: datetime) -> bool:
    """Whether the refresh token `token_id` is the one `login` replaced last, less than the
    refresh grace ago, and was not itself handed out by the grace: it then refreshes to
    the token that replaced it, not a new one, so the login keeps one refresh token to
    take next. A token the grace handed out has two holders; once one of them replaces
    it, the other's copy is a copy in other hands, as after the grace."""
    return (
        login.replaced_id == token_id
        and login.shared_id != token_id
        and login.replaced_at is not None
        and now - login.replaced_at < policy.refresh_grace
    )


def authenticate(
    *,
    users: RecordStore[User],
    revoked: RecordStore[RevokedSession],
    policy: TokenPolicy,
    clock: Clock,
    token: str,
) -> tuple[User, TokenClaims]:
    """The user a bearer token stands for, read fresh so role changes apply at once."""
    claims = decode_token(token, secret=policy.secret, kind="access", now=clock.now())
    return check_claims(users=users, revoked=revoked, claims=claims), claims


def user_for_access_token(
    *,
    users: RecordStore[User],
    revoked: RecordStore[RevokedSession],
    policy: TokenPolicy,
    clock: Clock,
    token: str,
) -> User:
    user, _ = authenticate(users=users, revoked=revoked, policy=policy, clock=clock, token=token)
    return user


def logout(
    *,
    revoked: RecordStore[RevokedSession],
    logins: RecordStore[Login],
    policy: TokenPolicy,
    clock: Clock,
    refresh_token: str,
) -> TokensRevoked | None:
    """End the login of `refresh_token`: its refresh and access tokens are refused from now.

    An expired token has nothing left to end (None).
    """
    now = clock.now()
    try:
        claims = decode_token(refresh_token, secret=policy.secret, kind="refresh", now=now)
    except Unauthorized as exc:
        if exc.message == "token expired":
            return None
        raise
    revoked.delete_up_to("expires_at", now)  # those whose tokens expired: one indexed delete
    return _end_login(revoked=revoked, logins=logins, claims=claims, policy=policy, clock=clock)


def _end_login(
    *,
    revoked: RecordStore[RevokedSession],
    logins: RecordStore[Login],
    claims: TokenClaims,
    policy: TokenPolicy,
    clock: Clock,
) -> TokensRevoked:
    """The login's tokens refused from now: its refresh tokens by its login's removal, its
    access tokens still live by a deny-list entry kept only while they may be, so a loop of
    logins and logouts leaves minutes of entries, not the days a login lasts."""
    last_access_expiry = min(claims.expires_at, clock.now() + policy.access_ttl)
    with contextlib.suppress(Conflict):  # ended already
        revoked.add(
            RevokedSession(
                session=claims.session, username=claims.subject, expires_at=last_access_expiry
            )
        )
    logins.delete(claims.session)
    return TokensRevoked(username=claims.subject, session=claims.session)


def revoke_all_tokens(
    *,
    users: RecordStore[User],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    username: str,
) -> TokensRevoked:
    """Log `username` out everywhere: every token issued so far is refused. Never refused
    itself (it is how one ends a stolen login); audited always when someone else does it,
    and up to `SELF_LOGOUTS_AUDITED_PER_HOUR` an hour when a user does it themselves."""
    _change_user(
        users,
        username,
        lambda user: {"token_version": user.token_version + 1, "updated_at": clock.now()},
    )
    with _AUDITING_LOGOUT:
        if actor.username != username or _may_audit_self_logout(audit, clock, username):
            audit_service.record(
                audit, clock, actor, AuditAction.user_logged_out, username, before=None, after=None
            )
    return TokensRevoked(username=username)


def _may_audit_self_logout(audit: EventLog[AuditEvent], clock: Clock, username: str) -> bool:
    """`username` has had fewer than the most of their own logouts audited in the last
    hour: counted on the audit log, as API keys made are."""
    audited = audit_service.audited_times(
        audit,
        action=AuditAction.user_logged_out,
        actor=username,
        window=_HOUR,
        now=clock.now(),
        most=SELF_LOGOUTS_AUDITED_PER_HOUR,
        target=username,
    )
    return len(audited) < SELF_LOGOUTS_AUDITED_PER_HOUR


def first_token_version() -> int:
    """A new user's: random, so tokens of a deleted user of the same name never fit."""
    return secrets.randbelow(1 << 30)


# What the demo seeds and starts is its own doing, not the admin's who runs it.
DEMO_USERNAME = "demo"
# Names the system itself acts under in audit trails (a pair paused by "policy").
RESERVED_USERNAMES = frozenset({"policy", "supervisor", "system", DEMO_USERNAME})


def public_user(user: User) -> UserPublic:
    """A user as HTTP and the audit log see them: no password hash, no token version."""
    return UserPublic.model_validate(user.model_dump())


def create_user(
    *,
    users: RecordStore[User],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    data: UserCreate,
) -> User:
    if data.username in RESERVED_USERNAMES:
        raise ValidationFailed.for_field(
            "username",
            "reserved name",
            message=f"{data.username!r} is reserved: smsfleet acts under that name",
        )
    _check_password_strength(data.password, username=data.username)
    now = clock.now()
    user = User(
        username=data.username,
        role=data.role,
        password_hash=hash_password(data.password),
        created_at=now,
        updated_at=now,
        token_version=first_token_version(),
    )
    users.add(user)
    audit_service.record(
        audit,
        clock,
        actor,
        AuditAction.user_created,
        user.username,
        before=None,
        after=public_user(user),
    )
    return user


def get_user(*, users: RecordStore[User], username: str) -> User:
    user = users.get(username)
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


# What a change to a user is decided on: it is written only while these are as read.
_DECIDED_ON = {"role", "disabled", "password_hash", "token_version"}


def _change_user(
    users: RecordStore[User], username: str, change: Callable[[User], dict[str, object]]
) -> tuple[User, User]:
    """The user before and after the fields `change` gives for them, written only while
    the user is as read (`change_record`): a parallel logout everywhere is neither
    overwritten nor undone. `Conflict` when they changed under every try; `NotFound`
    when they are gone."""
    return change_record(
        users,
        username,
        change,
        read=lambda: get_user(users=users, username=username),
        decided_on=_DECIDED_ON,
        what=f"user {username!r}",
    )


@dataclass(frozen=True)
class UserUpdated:
    user: User
    tokens_revoked: bool  # its sessions and sockets are to be ended


def update_user(
    *,
    users: RecordStore[User],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    username: str,
    data: UserUpdate,
) -> UserUpdated:
    """Change a user; a new password, role or disabled flag ends the user's tokens."""
    password_hash: str | None = None
    if data.password is not None:
        _check_password_strength(data.password, username=username)
        # Before the user is read: the hash takes long enough for others to change them.
        password_hash = hash_password(data.password)
    if username == actor.username and (data.disabled or data.role not in (None, Role.admin)):
        raise Conflict("you cannot disable yourself or drop your own admin role")

    def change(user: User) -> dict[str, object]:
        changes: dict[str, object] = {"updated_at": clock.now()}
        if password_hash is not None:
            changes["password_hash"] = password_hash
        if data.role is not None:
            changes["role"] = data.role
        if data.disabled is not None:
            changes["disabled"] = data.disabled
        if data.disabled or data.role not in (None, Role.admin):
            _keep_an_admin(users, user)
        if (
            password_hash is not None
            or (data.role is not None and data.role != user.role)
            or (data.disabled is not None and data.disabled != user.disabled)
        ):
            changes["token_version"] = user.token_version + 1
        return changes

    user, updated = _change_user(users, username, change)
    if _active_admin(user) and not _active_admin(updated):
        before = user.model_dump(include=_DECIDED_ON | {"updated_at"})
        written = updated.model_dump(include=_DECIDED_ON)
        _undone_if_no_admin_left(users, user, lambda: users.update(username, before, where=written))
    # The password itself, and its hash, never reach the log: only that it was changed
    # (both sides of one shape, so an unchanged password is no change).
    audit_service.record(
        audit,
        clock,
        actor,
        AuditAction.user_updated,
        username,
        before=UserChange(**public_user(user).model_dump(), password_changed=False),
        after=UserChange(
            **public_user(updated).model_dump(), password_changed=data.password is not None
        ),
    )
    return UserUpdated(user=updated, tokens_revoked=updated.token_version != user.token_version)


def delete_user(
    *,
    users: RecordStore[User],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    username: str,
) -> None:
    if username == actor.username:
        raise Conflict("you cannot delete yourself")
    user = users.get(username)
    if user is not None:
        _keep_an_admin(users, user)
    if user is None or not users.delete(username):
        raise NotFound(f"user {username!r} does not exist")
    if _active_admin(user):
        _undone_if_no_admin_left(users, user, lambda: users.add(user))
    audit_service.record(
        audit,
        clock,
        actor,
        AuditAction.user_deleted,
        username,
        before=public_user(user),
        after=None,
    )


def _active_admin(user: User) -> bool:
    return user.role is Role.admin and not user.disabled


def _keep_an_admin(users: RecordStore[User], leaving: User) -> None:
    """Refuse to take away the last active admin: no one could manage users after."""
    if not _active_admin(leaving):
        return
    others = [u for u in users.list() if _active_admin(u)]
    if all(u.username == leaving.username for u in others):
        raise Conflict(
            f"{leaving.username} is the last active admin: make another user admin first"
        )


def _undone_if_no_admin_left(
    users: RecordStore[User], left: User, undo: Callable[[], object]
) -> None:
    """Looked at again once an active admin was taken away: another admin may have been
    taken away at the same time (two admins disabling each other, on two replicas), each
    change allowed on what it read. With no active admin left the change is undone and
    refused; of two such changes at least one stands down, and none may leave none."""
    if any(_active_admin(u) for u in users.list()):
        return
    undo()
    raise Conflict(
        f"{left.username} was the last active admin: another admin was taken away at the"
        " same time; make another user admin first"
    )


def set_password(
    *, users: RecordStore[User], clock: Clock, username: str, password: str, role: Role
) -> User:
    """Create the user or reset its password and role (start-up and CLI use)."""
    now = clock.now()
    existing = users.get(username)
    if existing is None:
        user = User(
            username=username,
            role=role,
            password_hash=hash_password(password),
            created_at=now,
            updated_at=now,
            token_version=first_token_version(),
        )
        users.add(user)
        return user
    same = (
        existing.role == role
        and not existing.disabled
        and verify_password(password, existing.password_hash)
    )
    if same:
        return existing  # as it was: its tokens stand
    password_hash = hash_password(password)
    _, user = _change_user(
        users,
        username,
        lambda current: {
            "password_hash": password_hash,
            "role": role,
            "disabled": False,
            "updated_at": now,
            "token_version": current.token_version + 1,
        },
    )
    return user
