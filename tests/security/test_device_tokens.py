"""Device tokens (OWASP's device cookies): a login returns one bound to its user, and a
later login of that user presenting it is counted on the token's own budget, not on the
address's, so strangers who lock an address out (behind one NAT, say) do not lock out a
user who logged in from that browser before. Any other token is as none, and a device
token past its budget counts as none either."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from smsfleet.auth.models import Role
from smsfleet.auth.throttle import LoginThrottle
from smsfleet.core.errors import Throttled
from smsfleet.core.security import DeviceHolder, encode_device_token
from tests.support.api import PASSWORDS, Api, running_api
from tests.support.fakes import FakeClock

PER_USER = 3
PER_ADDRESS = 10
PER_DEVICE = 3
VIEWER = PASSWORDS[Role.viewer]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(
        tmp_path,
        login_failures_per_user=PER_USER,
        login_failures_per_address=PER_ADDRESS,
        login_failures_per_device=PER_DEVICE,
    ) as running:
        yield running


def log_in(
    api: Api, username: str, password: str, device_token: str | None = None, path: str = ""
) -> Any:
    body = {"username": username, "password": password}
    if device_token is not None:
        body["device_token"] = device_token
    return api.client.post(path or "/api/v1/auth/login", json=body)


def device_token_of(api: Api, username: str, password: str) -> str:
    answer = log_in(api, username, password)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["device_token"]
    return token


def lock_the_address(api: Api, failures: int = PER_ADDRESS) -> None:
    """Wrong passwords for made-up users, as anyone behind the same address may try."""
    for n in range(failures):
        assert log_in(api, f"nobody{n}", "wrong-password!").status_code == 401
    assert log_in(api, "nobody-more", "wrong-password!").status_code == 429


def test_a_user_with_a_device_token_logs_in_from_a_locked_address(api: Api) -> None:
    device_token = device_token_of(api, "viewer", VIEWER)
    lock_the_address(api)
    answer = log_in(api, "viewer", VIEWER, device_token)
    assert answer.status_code == 200, answer.text
    # With a new device token, which serves the same way.
    renewed = answer.json()["device_token"]
    assert renewed != device_token
    assert log_in(api, "viewer", VIEWER, renewed).status_code == 200


def test_without_a_device_token_the_lockout_holds(api: Api) -> None:
    device_token_of(api, "viewer", VIEWER)
    lock_the_address(api)
    refused = log_in(api, "viewer", VIEWER)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_requests"


def test_another_users_device_token_does_not_help(api: Api) -> None:
    viewers = device_token_of(api, "viewer", VIEWER)
    lock_the_address(api)
    assert log_in(api, "operator", PASSWORDS[Role.operator], viewers).status_code == 429


def test_an_expired_or_forged_device_token_is_ignored(api: Api) -> None:
    clock = api.clock
    assert isinstance(clock, FakeClock)
    expired = device_token_of(api, "viewer", VIEWER)
    clock.advance(timedelta(days=api.settings.login.device_token_days).total_seconds() + 1)
    viewer = api.store.users.get("viewer")
    assert viewer is not None
    forged = encode_device_token(
        secret="not-the-control-planes-secret-0123456789abcdefghij",
        holder=DeviceHolder(username="viewer", token_version=viewer.token_version),
        now=clock.now(),
        ttl=timedelta(days=30),
        device=secrets.token_hex(16),
    )
    access_token = log_in(api, "viewer", VIEWER).json()["access_token"]
    ignored = [expired, forged, access_token, "not-a-token"]
    # Not an error: a login with any of them is a login without one.
    for token in ignored:
        assert log_in(api, "viewer", VIEWER, token).status_code == 200
    lock_the_address(api)
    for token in ignored:
        assert log_in(api, "viewer", VIEWER, token).status_code == 429


def test_a_logout_everywhere_or_a_new_password_leaves_old_device_tokens_worth_nothing(
    api: Api,
) -> None:
    """Whoever holds a copy of a device token gets no guesses of their own once the user
    logs out everywhere, or an admin logs them out or sets a new password."""
    before = device_token_of(api, "viewer", VIEWER)
    answer = api.client.post("/api/v1/users/viewer/logout", headers=api.headers(Role.admin))
    assert answer.status_code == 204, answer.text
    after = device_token_of(api, "viewer", VIEWER)
    lock_the_address(api)
    assert log_in(api, "viewer", VIEWER, before).status_code == 429
    assert log_in(api, "viewer", VIEWER, after).status_code == 200


def test_a_device_token_has_a_budget_of_its_own_then_counts_as_none(api: Api) -> None:
    device_token = device_token_of(api, "viewer", VIEWER)
    # Its own budget: neither the user's nor the address's is spent.
    for _ in range(PER_DEVICE):
        assert log_in(api, "viewer", "wrong-password!", device_token).status_code == 401
    # Spent: counted as any other login, on the user's budget at this address.
    for _ in range(PER_USER):
        assert log_in(api, "viewer", "wrong-password!", device_token).status_code == 401
    assert log_in(api, "viewer", "wrong-password!", device_token).status_code == 429
    assert log_in(api, "viewer", VIEWER, device_token).status_code == 429
    # The address spent only the failures past the device's budget.
    lock_the_address(api, failures=PER_ADDRESS - PER_USER)


def test_the_seed_login_takes_a_device_token_and_answers_as_before(api: Api) -> None:
    device_token = device_token_of(api, "viewer", VIEWER)
    lock_the_address(api)
    answer = log_in(api, "viewer", VIEWER, device_token, path="/login")
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"access_token", "token_type"}
    assert log_in(api, "viewer", VIEWER, path="/login").status_code == 429


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_device_budgets_count_alike_in_redis(storage: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_url") if storage == "redis" else "memory://"
    throttle = LoginThrottle(
        per_user=100, per_address=1, per_device=2, window_seconds=60, storage_url=url
    )
    address = f"devices-{secrets.token_hex(6)}"
    device = secrets.token_hex(16)
    throttle.begin(username="nobody", address=address)
    with pytest.raises(Throttled):
        throttle.begin(username="nobody-else", address=address)
    # A success gives its count back: the device's budget is for failures only.
    for _ in range(4):
        throttle.succeeded(throttle.begin(username="viewer", address=address, device=device))
    for _ in range(2):
        throttle.begin(username="viewer", address=address, device=device)
    with pytest.raises(Throttled, match="from this address"):
        throttle.begin(username="viewer", address=address, device=device)
