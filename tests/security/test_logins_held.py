"""The logins a user holds are bounded, on every config backend: past the limit a new
login ends the user's oldest, whose refresh token is refused from then, so a loop of
logins cannot grow the logins without end. Logins that ended, and logged-out sessions
whose tokens expired, are removed by the next login or logout without it reading every
login or session: a login or logout costs the same however many others there are."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Login, RevokedSession, Role, TokenPair, User
from smsfleet.auth.throttle import LoginThrottle
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Unauthorized
from smsfleet.core.records import RecordStore
from smsfleet.core.security import PasswordChecks, hash_password
from smsfleet.stores import ConfigStore
from tests.support.api import PASSWORDS, running_api
from tests.support.fakes import FakeClock, ReadCounted, stored_account

PASSWORD = "a-password-for-the-logins-held"
LIMIT = 3
LOGIN_DAYS = 7
POLICY = auth_service.TokenPolicy(
    secret="a-secret-of-the-tests-of-the-logins-held-0123456789abcdefghijkl",
    access_ttl=timedelta(minutes=15),
    refresh_ttl=timedelta(days=LOGIN_DAYS),
)


@pytest.fixture
def policy() -> auth_service.TokenPolicy:
    """Logins up to `LIMIT` per user."""
    return dataclasses.replace(POLICY, max_logins_per_user=LIMIT)


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def clock() -> FakeClock:
    """Ahead of the real time by more than the logins last: MongoDB drops logins and
    revoked sessions past their end itself (a TTL index), and must not do it for the
    store under test."""
    return FakeClock(SystemClock().now() + timedelta(days=30))


def _add_user(store: ConfigStore, username: str, password_hash: str, clock: FakeClock) -> User:
    return stored_account(store, username, Role.viewer, password_hash=password_hash, at=clock.now())


def _log_in(
    store: ConfigStore,
    clock: FakeClock,
    username: str,
    logins: RecordStore[Login] | None = None,
    policy: auth_service.TokenPolicy = POLICY,
) -> TokenPair:
    checks = PasswordChecks(limit=1, wait_seconds=5)
    try:
        return auth_service.login(
            users=store.users,
            logins=logins or store.logins,
            throttle=LoginThrottle(per_user=100, per_address=100, window_seconds=60),
            checks=checks,
            policy=policy,
            clock=clock,
            username=username,
            password=PASSWORD,
            address="127.0.0.1",
        )
    finally:
        checks.close()


def _refresh(store: ConfigStore, clock: FakeClock, tokens: TokenPair) -> TokenPair:
    return auth_service.refresh(
        users=store.users,
        revoked=store.revoked_sessions,
        logins=store.logins,
        policy=POLICY,
        clock=clock,
        refresh_token=tokens.refresh_token,
    )


def _log_out(
    store: ConfigStore,
    clock: FakeClock,
    tokens: TokenPair,
    revoked: RecordStore[RevokedSession] | None = None,
) -> None:
    auth_service.logout(
        revoked=revoked or store.revoked_sessions,
        logins=store.logins,
        policy=POLICY,
        clock=clock,
        refresh_token=tokens.refresh_token,
    )


def _held(store: ConfigStore, username: str) -> list[Login]:
    return [login for login in store.logins.list() if login.username == username]


# --- the limit ----------------------------------------------------------------------------


def test_a_login_past_the_limit_ends_the_users_oldest(
    config_store: ConfigStore,
    password_hash: str,
    clock: FakeClock,
    policy: auth_service.TokenPolicy,
) -> None:
    for username in ("alice", "bob"):
        _add_user(config_store, username, password_hash, clock)
    bobs = _log_in(config_store, clock, "bob", policy=policy)
    alices: list[TokenPair] = []
    for _ in range(LIMIT + 2):
        clock.advance(60)
        alices.append(_log_in(config_store, clock, "alice", policy=policy))
        assert len(_held(config_store, "alice")) <= LIMIT
    assert len(_held(config_store, "alice")) == LIMIT
    for ended in alices[:2]:
        with pytest.raises(Unauthorized, match="login ended"):
            _refresh(config_store, clock, ended)
    for kept in alices[2:]:
        _refresh(config_store, clock, kept)
    # Another user's logins are neither counted nor ended.
    _refresh(config_store, clock, bobs)
    assert len(_held(config_store, "bob")) == 1


def test_logins_made_at_one_moment_stay_within_the_limit_and_the_newest_stands(
    config_store: ConfigStore,
    password_hash: str,
    clock: FakeClock,
    policy: auth_service.TokenPolicy,
) -> None:
    """Within one millisecond, which of them is oldest cannot be told: the limit holds
    all the same, and the login just made is never the one ended."""
    _add_user(config_store, "alice", password_hash, clock)
    for made in range(1, LIMIT + 3):
        tokens = _log_in(config_store, clock, "alice", policy=policy)
        assert len(_held(config_store, "alice")) == min(made, LIMIT)
        _refresh(config_store, clock, tokens)


def test_logins_held_past_the_limit_before_it_existed_are_ended_at_the_next_login(
    config_store: ConfigStore,
    password_hash: str,
    clock: FakeClock,
    policy: auth_service.TokenPolicy,
) -> None:
    """All of them at once, by one login: the user holds the limit's number after it."""
    alice = _add_user(config_store, "alice", password_hash, clock)
    unlimited = dataclasses.replace(policy, max_logins_per_user=1000)
    made = []
    for _ in range(30):
        clock.advance(60)
        made.append(
            auth_service.start_login(
                logins=config_store.logins, user=alice, policy=unlimited, clock=clock
            )
        )
    held = sorted(_held(config_store, "alice"), key=lambda login: login.expires_at)
    assert len(held) == 30
    clock.advance(60)
    newest = _log_in(config_store, clock, "alice", policy=policy)
    after = sorted(_held(config_store, "alice"), key=lambda login: login.expires_at)
    assert len(after) == LIMIT
    assert after[: LIMIT - 1] == held[-(LIMIT - 1) :]
    for tokens in (*made[-(LIMIT - 1) :], newest):
        _refresh(config_store, clock, tokens)
    with pytest.raises(Unauthorized, match="login ended"):
        _refresh(config_store, clock, made[-LIMIT])


def test_the_limit_is_a_setting_and_a_login_it_ended_is_refused_refreshing(
    tmp_path: Path,
) -> None:
    with running_api(tmp_path, login_max_open_per_user=2) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        credentials = {"username": "viewer", "password": PASSWORDS[Role.viewer]}
        logins = []
        for _ in range(3):
            clock.advance(60)
            response = api.client.post("/api/v1/auth/login", json=credentials)
            assert response.status_code == 200, response.text
            logins.append(response.json()["refresh_token"])
        assert len([x for x in api.store.logins.list() if x.username == "viewer"]) == 2
        oldest, *others = logins
        refused = api.client.post("/api/v1/auth/refresh", json={"refresh_token": oldest})
        assert refused.status_code == 401, refused.text
        assert "login ended" in refused.json()["error"]["message"]
        for token in others:
            renewed = api.client.post("/api/v1/auth/refresh", json={"refresh_token": token})
            assert renewed.status_code == 200, renewed.text


# --- ended logins and expired revocations are removed, not read -------------------------


def test_a_login_removes_the_logins_that_ended_without_reading_every_login(
    config_store: ConfigStore, password_hash: str, clock: FakeClock
) -> None:
    for username in ("alice", "bob"):
        _add_user(config_store, username, password_hash, clock)
    for username in ("alice", "alice", "bob"):
        _log_in(config_store, clock, username)
    clock.advance(timedelta(days=LOGIN_DAYS - 1).total_seconds())
    bobs = _log_in(config_store, clock, "bob")
    clock.advance(timedelta(days=2).total_seconds())  # the first three ended
    assert len(config_store.logins.list()) == 4
    counted = ReadCounted(config_store.logins)
    alices = _log_in(config_store, clock, "alice", counted)
    assert counted.reads == 0
    assert len(config_store.logins.list()) == 2
    _refresh(config_store, clock, bobs)
    _refresh(config_store, clock, alices)


def test_a_logout_removes_the_revoked_sessions_that_expired_without_reading_them_all(
    config_store: ConfigStore, password_hash: str, clock: FakeClock
) -> None:
    for username in ("alice", "bob"):
        _add_user(config_store, username, password_hash, clock)
    ended = [_log_in(config_store, clock, username) for username in ("alice", "alice", "bob")]
    for tokens in ended:
        _log_out(config_store, clock, tokens)
    # A logged-out session stays on the deny-list only while an access token of it may
    # still be live, not for the days its login would have lasted.
    last_access = clock.now() + POLICY.access_ttl  # stored to the millisecond
    for revoked in config_store.revoked_sessions.list():
        assert last_access - timedelta(milliseconds=1) <= revoked.expires_at <= last_access
    clock.advance((POLICY.access_ttl - timedelta(minutes=1)).total_seconds())
    bobs = _log_in(config_store, clock, "bob")
    _log_out(config_store, clock, bobs)
    clock.advance(timedelta(minutes=2).total_seconds())  # the first three expired
    assert len(config_store.revoked_sessions.list()) == 4
    alices = _log_in(config_store, clock, "alice")
    counted = ReadCounted(config_store.revoked_sessions)
    _log_out(config_store, clock, alices, counted)
    assert counted.reads == 0
    kept = {revoked.session for revoked in config_store.revoked_sessions.list()}
    assert len(kept) == 2
    # Those still on the deny-list are refused as before; those off it, by their login's end.
    for tokens in (bobs, alices):
        with pytest.raises(Unauthorized, match="logged out"):
            _refresh(config_store, clock, tokens)
    for tokens in ended:
        with pytest.raises(Unauthorized, match="login ended"):
            _refresh(config_store, clock, tokens)
