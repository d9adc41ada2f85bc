"""Two changes made at once never undo each other, on every config backend: a revoked API
key stays revoked, a disabled user stays disabled, and a password change or a logout
everywhere ends every token issued before it, whichever of the two requests writes last;
of two refreshes with one refresh token, both get new tokens with the one refresh token
the login takes next (the refresh grace), and neither ends the login.

Each race is made to happen every time, not by chance: the request under test reads
through a store that lets another request (on a store of its own, as on another replica)
complete its change after that read, just before the write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from smsfleet.apikeys.models import ApiKey, ApiKeyCreate
from smsfleet.apikeys.service import ApiKeyService
from smsfleet.apikeys.store import QuotaStore
from smsfleet.audit.models import Actor
from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Login, Role, TokenPair, User, UserUpdate
from smsfleet.auth.throttle import LoginThrottle
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Conflict, Unauthorized
from smsfleet.core.records import RecordStore
from smsfleet.core.security import PasswordChecks, decode_token, hash_password, needs_rehash
from smsfleet.stores import ConfigStore
from tests.support.fakes import NO_LOGIN, stored_account
from tests.support.interleaved import Interleaved

CLOCK = SystemClock()
ADMIN = Actor(username="admin", role=Role.admin)
PASSWORD = "alice-password-for-races"
NEW_PASSWORD = "another-alice-password-for-races"
POLICY = auth_service.TokenPolicy(
    secret="a-secret-of-the-tests-of-changes-made-at-once-0123456789abcdef",
    access_ttl=timedelta(minutes=15),
    refresh_ttl=timedelta(days=7),
)


@pytest.fixture
def quotas(sqlite_metrics_engine: Engine) -> QuotaStore:
    return QuotaStore(sqlite_metrics_engine)


def _alice(store: ConfigStore, *, password_hash: str = NO_LOGIN) -> User:
    return stored_account(store, "alice", Role.operator, password_hash=password_hash)


def _stored_alice(store: ConfigStore) -> User:
    alice = store.users.get("alice")
    assert alice is not None
    return alice


# --- API keys ----------------------------------------------------------------------------


def _keys(store: ConfigStore, keys: RecordStore[ApiKey], quotas: QuotaStore) -> ApiKeyService:
    return ApiKeyService(
        keys=keys,
        users=store.users,
        quotas=quotas,
        audit=store.audit,
        clock=CLOCK,
        max_active_per_user=5,
    )


def test_a_key_revoked_while_a_request_was_using_it_stays_revoked(
    config_store: ConfigStore, elsewhere: ConfigStore, quotas: QuotaStore
) -> None:
    """The request read the key active; its use is written once the revocation is."""
    alice = _alice(config_store)
    keys = Interleaved(config_store.api_keys)
    here = _keys(config_store, keys, quotas)
    there = _keys(elsewhere, elsewhere.api_keys, quotas)
    made = here.create(owner=alice, data=ApiKeyCreate(name="ci"))
    keys.before_next_writes(lambda: there.revoke(actor=alice, key_id=made.id))
    here.authenticate(made.key)
    assert keys.pending == 0
    stored = elsewhere.api_keys.get(made.id)
    assert stored is not None and stored.revoked_at is not None
    for service in (here, there):
        with pytest.raises(Unauthorized, match="this API key was revoked"):
            service.authenticate(made.key)


def test_a_key_used_while_it_was_being_revoked_is_revoked_with_its_use_kept(
    config_store: ConfigStore, elsewhere: ConfigStore, quotas: QuotaStore
) -> None:
    """The revocation read the key unused; its revocation is written once the use is."""
    alice = _alice(config_store)
    keys = Interleaved(config_store.api_keys)
    here = _keys(config_store, keys, quotas)
    there = _keys(elsewhere, elsewhere.api_keys, quotas)
    made = here.create(owner=alice, data=ApiKeyCreate(name="ci"))
    keys.before_next_writes(lambda: there.authenticate(made.key))
    assert here.revoke(actor=alice, key_id=made.id).active is False
    assert keys.pending == 0
    stored = elsewhere.api_keys.get(made.id)
    assert stored is not None
    assert stored.revoked_at is not None and stored.last_used_at is not None
    with pytest.raises(Unauthorized, match="this API key was revoked"):
        there.authenticate(made.key)


# --- users --------------------------------------------------------------------------------


def _log_out_everywhere(store: ConfigStore, users: RecordStore[User] | None = None) -> None:
    auth_service.revoke_all_tokens(
        users=users or store.users, audit=store.audit, clock=CLOCK, actor=ADMIN, username="alice"
    )


def _update(store: ConfigStore, data: UserUpdate, users: RecordStore[User] | None = None) -> User:
    return auth_service.update_user(
        users=users or store.users,
        audit=store.audit,
        clock=CLOCK,
        actor=ADMIN,
        username="alice",
        data=data,
    ).user


def _login(store: ConfigStore, password: str, users: RecordStore[User] | None = None) -> TokenPair:
    checks = PasswordChecks(limit=1, wait_seconds=5)
    try:
        return auth_service.login(
            users=users or store.users,
            logins=store.logins,
            throttle=LoginThrottle(per_user=100, per_address=100, window_seconds=60),
            checks=checks,
            policy=POLICY,
            clock=CLOCK,
            username="alice",
            password=password,
            address="127.0.0.1",
        )
    finally:
        checks.close()


def _refresh(
    store: ConfigStore, tokens: TokenPair, logins: RecordStore[Login] | None = None
) -> TokenPair:
    return auth_service.refresh(
        users=store.users,
        revoked=store.revoked_sessions,
        logins=logins or store.logins,
        policy=POLICY,
        clock=CLOCK,
        refresh_token=tokens.refresh_token,
    )


def test_a_user_disabled_while_logged_out_everywhere_stays_disabled(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The logout read the user enabled; it is written once the disabling is."""
    alice = _alice(config_store)
    users = Interleaved(config_store.users)
    users.before_next_writes(lambda: _update(elsewhere, UserUpdate(disabled=True)))
    _log_out_everywhere(config_store, users)
    assert users.pending == 0
    stored = _stored_alice(elsewhere)
    assert stored.disabled
    assert stored.token_version == alice.token_version + 2  # each ended every token


def test_tokens_issued_while_a_password_was_being_changed_end_with_the_change(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The change read the user; before it wrote, they were logged out everywhere and
    logged in again: the tokens of that login were issued before the change."""
    _alice(config_store, password_hash=hash_password(PASSWORD))
    users = Interleaved(config_store.users)
    issued: list[TokenPair] = []

    def out_everywhere_and_in_again() -> None:
        _log_out_everywhere(elsewhere)
        issued.append(_login(elsewhere, PASSWORD))

    users.before_next_writes(out_everywhere_and_in_again)
    _update(config_store, UserUpdate(password=NEW_PASSWORD), users)
    assert users.pending == 0
    [tokens] = issued
    with pytest.raises(Unauthorized, match="token revoked"):
        _refresh(elsewhere, tokens)
    _refresh(elsewhere, _login(elsewhere, NEW_PASSWORD))


def test_a_user_changed_under_every_try_is_a_conflict_and_keeps_the_other_changes(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """Read again and changed again after each lost race, a few times, then refused."""
    alice = _alice(config_store)
    users = Interleaved(config_store.users)
    offered = 10
    users.before_next_writes(*[lambda: _log_out_everywhere(elsewhere)] * offered)
    with pytest.raises(Conflict, match="was being changed by another request"):
        _update(config_store, UserUpdate(disabled=True), users)
    tries = offered - users.pending
    assert 1 < tries < offered
    stored = _stored_alice(elsewhere)
    assert not stored.disabled
    assert stored.token_version == alice.token_version + tries


def test_a_login_that_hashes_the_password_anew_keeps_a_logout_everywhere_made_meanwhile(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The login read the user with a hash of older parameters; its new hash is written
    once a logout everywhere is."""
    older = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    alice = _alice(config_store, password_hash=older.hash(PASSWORD))
    before = auth_service.start_login(
        logins=config_store.logins, user=alice, policy=POLICY, clock=CLOCK
    )
    users = Interleaved(config_store.users)
    users.before_next_writes(lambda: _log_out_everywhere(elsewhere))
    _login(config_store, PASSWORD, users)
    assert users.pending == 0
    stored = _stored_alice(elsewhere)
    assert not needs_rehash(stored.password_hash)
    assert stored.token_version == alice.token_version + 1
    with pytest.raises(Unauthorized, match="token revoked"):
        _refresh(elsewhere, before)


def test_of_two_refreshes_with_one_token_both_keep_the_login(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """Both read the login taking that token; the other one's new token is written first,
    so this one's is not: it answers with the other's (the token it replaced refreshes
    for the refresh grace), and the login goes on with that one token to take next."""
    _alice(config_store, password_hash=hash_password(PASSWORD))
    tokens = _login(config_store, PASSWORD)
    won: list[TokenPair] = []
    logins = Interleaved(config_store.logins)
    logins.before_next_writes(lambda: won.append(_refresh(elsewhere, tokens)))
    lost = _refresh(config_store, tokens, logins)
    assert logins.pending == 0 and len(won) == 1
    assert _refresh_id(lost) == _refresh_id(won[0])
    onwards = _refresh(elsewhere, lost)
    # Once that token is used, the token before it is two refreshes back: a copy.
    with pytest.raises(auth_service.LoginEnded, match="already used"):
        _refresh(elsewhere, tokens)
    with pytest.raises(Unauthorized, match="logged out"):
        _refresh(elsewhere, onwards)


def _refresh_id(tokens: TokenPair) -> str:
    claims = decode_token(
        tokens.refresh_token, secret=POLICY.secret, kind="refresh", now=CLOCK.now()
    )
    return claims.token_id


def test_a_refresh_token_of_a_login_not_on_record_is_refused(config_store: ConfigStore) -> None:
    """Tokens issued before logins were kept, or of a login since cleared: log in again."""
    alice = _alice(config_store)
    issued = auth_service.issue_tokens(user=alice, policy=POLICY, clock=CLOCK)
    with pytest.raises(Unauthorized, match="login ended"):
        _refresh(config_store, issued.tokens)
