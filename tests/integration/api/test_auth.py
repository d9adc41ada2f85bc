"""Logins, tokens, throttling and user management over HTTP."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher

from smsfleet.auth.models import Role
from smsfleet.core.security import needs_rehash
from tests.support.api import PASSWORDS, Api
from tests.support.fakes import FakeClock


def login(api: Api, username: str, password: str) -> tuple[int, dict[str, Any], str | None]:
    response = api.client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    return response.status_code, response.json(), response.headers.get("Retry-After")


def test_login_returns_tokens_that_identify_the_user(api: Api) -> None:
    status, body, _ = login(api, "operator", PASSWORDS[Role.operator])
    assert status == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == api.settings.access_token_minutes * 60
    me = api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["username"] == "operator"
    assert me.json()["role"] == "operator"
    assert "password_hash" not in me.json()


def test_wrong_password_is_401_with_error_shape(api: Api) -> None:
    status, body, _ = login(api, "operator", "not-the-password")
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    assert "invalid username or password" in body["error"]["message"]


def test_failed_logins_are_throttled_per_username(api: Api) -> None:
    for _ in range(3):
        assert login(api, "viewer", "wrong-password")[0] == 401
    status, body, retry_after = login(api, "viewer", PASSWORDS[Role.viewer])
    assert status == 429
    assert body["error"]["code"] == "too_many_requests"
    assert retry_after is not None
    assert 1 <= int(retry_after) <= 60
    # Another user from the same address still gets in: the per-user budget is separate.
    assert login(api, "operator", PASSWORDS[Role.operator])[0] == 200


def test_failed_logins_are_throttled_per_address(api: Api) -> None:
    for index in range(10):
        assert login(api, f"nobody{index}", "wrong-password")[0] == 401
    status, _, retry_after = login(api, "admin", PASSWORDS[Role.admin])
    assert status == 429
    assert retry_after is not None


def test_seed_login_route_answers_access_token(api: Api) -> None:
    response = api.client.post(
        "/login", json={"username": "admin", "password": PASSWORDS[Role.admin]}
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert (
        api.client.get(
            "/country-operator", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )


def test_refresh_issues_new_tokens_and_rejects_access_tokens(api: Api) -> None:
    _, body, _ = login(api, "admin", PASSWORDS[Role.admin])
    refreshed = api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert (
        api.client.get(
            "/api/v1/auth/me",
            headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        ).status_code
        == 200
    )
    wrong_kind = api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": body["access_token"]}
    )
    assert wrong_kind.status_code == 401
    assert wrong_kind.json()["error"]["message"] == "not a refresh token"
    # A refresh token is not an access token either.
    as_access = api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['refresh_token']}"}
    )
    assert as_access.status_code == 401
    assert as_access.json()["error"]["message"] == "not an access token"


def test_access_token_expires_on_the_injected_clock(api: Api) -> None:
    headers = api.headers(Role.viewer)
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert isinstance(api.clock, FakeClock)
    api.clock.advance(api.settings.access_token_minutes * 60 + 1)
    response = api.client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "token expired"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("forgery", ["tampered", "alg_none", "other_key", "garbage"])
def test_forged_tokens_are_rejected(api: Api, forgery: str) -> None:
    real = api.token(Role.viewer)
    header, payload, signature = real.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    if forgery == "tampered":
        token = f"{header}.{_b64({**claims, 'sub': 'admin', 'role': 'admin'})}.{signature}"
    elif forgery == "alg_none":
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**claims, 'sub': 'admin'})}."
    elif forgery == "other_key":
        token = jwt.encode({**claims, "sub": "admin"}, "x" * 64, algorithm="HS256")
    else:
        token = "not-a-token"
    response = api.client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_disabled_user_loses_access_at_once(api: Api) -> None:
    viewer = api.headers(Role.viewer)
    admin = api.headers(Role.admin)
    assert (
        api.client.patch("/api/v1/users/viewer", json={"disabled": True}, headers=admin).status_code
        == 200
    )
    assert api.client.get("/api/v1/auth/me", headers=viewer).status_code == 401
    assert login(api, "viewer", PASSWORDS[Role.viewer])[0] == 401


def test_admin_manages_users_and_secrets_never_leak(api: Api) -> None:
    admin = api.headers(Role.admin)
    created = api.client.post(
        "/api/v1/users",
        json={"username": "alice", "password": "alice-long-password", "role": "operator"},
        headers=admin,
    )
    assert created.status_code == 201
    assert set(created.json()) == {"username", "role", "disabled", "created_at"}
    assert login(api, "alice", "alice-long-password")[0] == 200
    listed = api.client.get("/api/v1/users", headers=admin).json()
    assert "alice" in [user["username"] for user in listed]
    assert all("password_hash" not in user for user in listed)
    duplicate = api.client.post(
        "/api/v1/users",
        json={"username": "alice", "password": "another-long-password"},
        headers=admin,
    )
    assert duplicate.status_code == 409
    weak = api.client.post(
        "/api/v1/users", json={"username": "bob", "password": "password"}, headers=admin
    )
    assert weak.status_code == 422
    assert weak.json()["error"]["details"][0]["field"] == "password"
    assert api.client.delete("/api/v1/users/alice", headers=admin).status_code == 204
    assert api.client.get("/api/v1/users/alice", headers=admin).status_code == 404


def test_admin_cannot_lock_themselves_out(api: Api) -> None:
    admin = api.headers(Role.admin)
    assert api.client.delete("/api/v1/users/admin", headers=admin).status_code == 409
    demote = api.client.patch("/api/v1/users/admin", json={"role": "viewer"}, headers=admin)
    assert demote.status_code == 409


@pytest.mark.parametrize("name", ["policy", "supervisor", "system", "demo"])
def test_the_names_smsfleet_acts_under_are_reserved(api: Api, name: str) -> None:
    response = api.client.post(
        "/api/v1/users",
        json={"username": name, "password": "a-long-enough-password", "role": "operator"},
        headers=api.headers(),
    )
    assert response.status_code == 422
    assert "reserved" in response.json()["error"]["message"]


def test_refreshing_never_extends_the_login(api: Api) -> None:
    assert isinstance(api.clock, FakeClock)
    _, tokens, _ = login(api, "viewer", PASSWORDS[Role.viewer])
    for _ in range(2):  # six days on, refreshed every third
        api.clock.advance(3 * 24 * 3600)
        refreshed = api.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        tokens = refreshed.json()
    api.clock.advance(2 * 24 * 3600)  # eight days after the login: over
    expired = api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert expired.status_code == 401


def test_a_hash_made_with_older_parameters_verifies_and_is_made_again(api: Api) -> None:
    old = PasswordHasher()  # the library's defaults: 64 MiB a hash
    viewer = api.store.users.get("viewer")
    assert viewer is not None
    api.store.users.replace(
        viewer.model_copy(update={"password_hash": old.hash(PASSWORDS[Role.viewer])})
    )
    assert login(api, "viewer", PASSWORDS[Role.viewer])[0] == 200
    rehashed = api.store.users.get("viewer")
    assert rehashed is not None
    assert "m=19456,t=2,p=1" in rehashed.password_hash
    assert not needs_rehash(rehashed.password_hash)
    assert rehashed.token_version == viewer.token_version  # the same password: tokens stand
    assert login(api, "viewer", PASSWORDS[Role.viewer])[0] == 200
