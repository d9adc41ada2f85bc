"""A refresh token just replaced still refreshes for a few seconds (the refresh grace),
to the very token that replaced it: a page reloaded while its refresh was on the way kept
the old token (the answer was lost with the page), and requests of one login may refresh
at once; neither ends the login. Outside the grace nothing changed: a refresh token
presented again after it, or once the token that replaced it was replaced in turn, ends
the login for every holder; a logout ends it at once, grace or not; and the grace is
bounded. On every config backend, and against a running control plane."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from pydantic import ValidationError

from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Role, TokenPair
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Unauthorized
from smsfleet.core.security import decode_token
from smsfleet.core.settings import MAX_REFRESH_GRACE_SECONDS, REFRESH_GRACE_SECONDS, Settings
from smsfleet.stores import ConfigStore
from tests.support.fakes import FakeClock, stored_account
from tests.support.live_server import LiveServer, live_server

GRACE = timedelta(seconds=REFRESH_GRACE_SECONDS)
POLICY = auth_service.TokenPolicy(
    secret="a-secret-of-the-tests-of-the-refresh-grace-0123456789abcdefghij",
    access_ttl=timedelta(minutes=15),
    refresh_ttl=timedelta(days=7),
    refresh_grace=GRACE,
)
PASSWORD = "viewer-password-for-the-grace"
SHORT_GRACE_SECONDS = 1


@pytest.fixture
def clock() -> FakeClock:
    """Ahead of the real time by more than a login lasts: MongoDB drops logins past their
    end itself (a TTL index), and must not do it for the store under test."""
    return FakeClock(SystemClock().now() + timedelta(days=30))


def _log_in(store: ConfigStore, clock: FakeClock) -> TokenPair:
    alice = stored_account(store, "alice", Role.operator, at=clock.now())
    return auth_service.start_login(logins=store.logins, user=alice, policy=POLICY, clock=clock)


def _refresh(
    store: ConfigStore,
    clock: FakeClock,
    tokens: TokenPair,
    policy: auth_service.TokenPolicy = POLICY,
) -> TokenPair:
    return auth_service.refresh(
        users=store.users,
        revoked=store.revoked_sessions,
        logins=store.logins,
        policy=policy,
        clock=clock,
        refresh_token=tokens.refresh_token,
    )


def _refresh_id(token: str, clock: FakeClock) -> str:
    return decode_token(token, secret=POLICY.secret, kind="refresh", now=clock.now()).token_id


# --- in the store ---------------------------------------------------------------------


def test_a_refresh_token_just_replaced_refreshes_to_the_token_that_replaced_it(
    config_store: ConfigStore, clock: FakeClock
) -> None:
    """The page before the reload refreshed, and its answer was lost; the reloaded page
    refreshes with the token it kept, within the grace, and gets the same successor."""
    tokens = _log_in(config_store, clock)
    lost = _refresh(config_store, clock, tokens)
    clock.advance(GRACE.total_seconds() - 1)
    kept = _refresh(config_store, clock, tokens)
    assert _refresh_id(kept.refresh_token, clock) == _refresh_id(lost.refresh_token, clock)
    assert kept.access_token != lost.access_token
    # The login goes on from it, with one refresh token to take next.
    clock.advance(60)
    _refresh(config_store, clock, _refresh(config_store, clock, kept))


def test_a_refresh_token_presented_again_after_the_grace_ends_the_login(
    config_store: ConfigStore, clock: FakeClock
) -> None:
    tokens = _log_in(config_store, clock)
    renewed = _refresh(config_store, clock, tokens)
    clock.advance(GRACE.total_seconds())
    with pytest.raises(auth_service.LoginEnded, match="already used"):
        _refresh(config_store, clock, tokens)
    with pytest.raises(Unauthorized, match="logged out"):
        _refresh(config_store, clock, renewed)


def test_a_refresh_token_two_refreshes_back_ends_the_login_even_within_the_grace(
    config_store: ConfigStore, clock: FakeClock
) -> None:
    """Only the token replaced last refreshes again: one its successor's holder has moved
    on from is a copy in other hands."""
    tokens = _log_in(config_store, clock)
    second = _refresh(config_store, clock, tokens)
    third = _refresh(config_store, clock, second)
    with pytest.raises(auth_service.LoginEnded, match="already used"):
        _refresh(config_store, clock, tokens)
    with pytest.raises(Unauthorized, match="logged out"):
        _refresh(config_store, clock, third)


def test_a_token_got_in_the_grace_is_good_once_like_the_one_it_repeats(
    config_store: ConfigStore, clock: FakeClock
) -> None:
    """The grace gives the login's successor token again, not a second one: once either
    copy is used, the other is the token replaced last, and after the grace ends it."""
    tokens = _log_in(config_store, clock)
    lost = _refresh(config_store, clock, tokens)
    kept = _refresh(config_store, clock, tokens)
    _refresh(config_store, clock, kept)
    clock.advance(GRACE.total_seconds())
    with pytest.raises(auth_service.LoginEnded, match="already used"):
        _refresh(config_store, clock, lost)


@pytest.mark.parametrize("first", ["holder", "thief"])
def test_a_successor_the_grace_handed_out_twice_never_refreshes_in_the_grace_again(
    config_store: ConfigStore, clock: FakeClock, first: str
) -> None:
    """A copy of a refresh token refreshed in the grace of each rotation would keep a
    second copy of the login alive for good: the successor it got has two holders, so
    once either replaces it, the other's copy ends the login, grace or not."""
    tokens = _log_in(config_store, clock)
    holders = {"holder": _refresh(config_store, clock, tokens)}
    clock.advance(5)
    holders["thief"] = _refresh(config_store, clock, tokens)  # the copy, in the grace
    second = "thief" if first == "holder" else "holder"
    clock.advance(20)
    renewed = _refresh(config_store, clock, holders[first])
    clock.advance(5)  # well within the grace of that rotation
    with pytest.raises(auth_service.LoginEnded, match="already used"):
        _refresh(config_store, clock, holders[second])
    with pytest.raises(Unauthorized, match="logged out"):
        _refresh(config_store, clock, renewed)


def test_a_logout_ends_the_login_at_once_grace_or_not(
    config_store: ConfigStore, clock: FakeClock
) -> None:
    tokens = _log_in(config_store, clock)
    renewed = _refresh(config_store, clock, tokens)
    auth_service.logout(
        revoked=config_store.revoked_sessions,
        logins=config_store.logins,
        policy=POLICY,
        clock=clock,
        refresh_token=renewed.refresh_token,
    )
    for presented in (tokens, renewed):
        with pytest.raises(Unauthorized, match="logged out"):
            _refresh(config_store, clock, presented)


def test_no_grace_when_it_is_set_to_none(config_store: ConfigStore, clock: FakeClock) -> None:
    none = dataclasses.replace(POLICY, refresh_grace=timedelta(0))
    tokens = _log_in(config_store, clock)
    _refresh(config_store, clock, tokens, none)
    with pytest.raises(auth_service.LoginEnded, match="already used"):
        _refresh(config_store, clock, tokens, none)


def test_the_grace_is_a_few_seconds_at_most() -> None:
    assert Settings(_env_file=None).refresh_grace_seconds == REFRESH_GRACE_SECONDS <= 10
    assert Settings(_env_file=None, refresh_grace_seconds=0).refresh_grace_seconds == 0
    with pytest.raises(ValidationError):
        Settings(_env_file=None, refresh_grace_seconds=MAX_REFRESH_GRACE_SECONDS + 1)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, refresh_grace_seconds=-1)


# --- against a running control plane --------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """As deployed: the grace its default."""
    with live_server(tmp_path_factory.mktemp("grace")) as running:
        yield running


@pytest.fixture(scope="module")
def short_grace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A grace of a second, to be waited out."""
    grace = {"SMSFLEET_REFRESH_GRACE_SECONDS": str(SHORT_GRACE_SECONDS)}
    with live_server(tmp_path_factory.mktemp("short-grace"), **grace) as running:
        yield running


def _viewer(server: LiveServer, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A login of a viewer of this test's own."""
    name = f"g{abs(hash(request.node.name)) % 10**8}"
    server.add_user(name, PASSWORD)
    response = server.login(name, PASSWORD)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def _refresh_over_http(client: httpx.Client, refresh_token: str) -> httpx.Response:
    return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def _token_id(token: str) -> str:
    """A token's id, read without its secret (the server's own)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return str(claims["jti"])


def _me(client: httpx.Client, tokens: dict[str, Any]) -> int:
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    return client.get("/api/v1/auth/me", headers=headers).status_code


def test_a_page_reloaded_while_its_refresh_was_on_the_way_stays_signed_in(
    server: LiveServer, request: pytest.FixtureRequest
) -> None:
    tokens = _viewer(server, request)
    with server.client() as client:
        # The page before the reload: its refresh reaches the server, its answer is lost.
        assert _refresh_over_http(client, tokens["refresh_token"]).status_code == 200
        # The reloaded page refreshes with the token it kept.
        kept = _refresh_over_http(client, tokens["refresh_token"])
        assert kept.status_code == 200, kept.text
        assert _me(client, kept.json()) == 200
        onwards = _refresh_over_http(client, kept.json()["refresh_token"])
        assert onwards.status_code == 200, onwards.text
        assert _me(client, onwards.json()) == 200


def test_requests_of_one_login_refreshing_at_once_all_keep_it(
    server: LiveServer, request: pytest.FixtureRequest
) -> None:
    """Several refreshes with one token at the same moment: each gets tokens, all with the
    same successor refresh token, and the login goes on."""
    tokens = _viewer(server, request)
    start = threading.Barrier(6)
    answers: list[httpx.Response] = []

    def refresh_at_once() -> None:
        with server.client() as client:
            start.wait()
            answers.append(_refresh_over_http(client, tokens["refresh_token"]))

    threads = [threading.Thread(target=refresh_at_once) for _ in range(start.parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [answer.status_code for answer in answers] == [200] * start.parties, [
        answer.text for answer in answers
    ]
    successors = {_token_id(answer.json()["refresh_token"]) for answer in answers}
    assert len(successors) == 1
    with server.client() as client:
        assert _me(client, answers[0].json()) == 200
        onwards = _refresh_over_http(client, answers[-1].json()["refresh_token"])
        assert onwards.status_code == 200, onwards.text


def test_a_refresh_token_reused_after_the_grace_ends_the_login_over_http(
    short_grace_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    tokens = _viewer(short_grace_server, request)
    with short_grace_server.client() as client:
        renewed = _refresh_over_http(client, tokens["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        time.sleep(SHORT_GRACE_SECONDS + 0.5)
        reused = _refresh_over_http(client, tokens["refresh_token"])
        assert reused.status_code == 401
        assert "already used" in reused.json()["error"]["message"]
        assert _refresh_over_http(client, renewed.json()["refresh_token"]).status_code == 401
        assert _me(client, renewed.json()) == 401


def test_a_logout_within_the_grace_ends_the_login_over_http(
    server: LiveServer, request: pytest.FixtureRequest
) -> None:
    tokens = _viewer(server, request)
    with server.client() as client:
        renewed = _refresh_over_http(client, tokens["refresh_token"]).json()
        out = client.post("/api/v1/auth/logout", json={"refresh_token": renewed["refresh_token"]})
        assert out.status_code == 204, out.text
        for presented in (tokens, renewed):
            assert _refresh_over_http(client, presented["refresh_token"]).status_code == 401
            assert _me(client, presented) == 401
