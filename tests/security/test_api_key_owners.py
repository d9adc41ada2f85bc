"""An API key acts for the account that made it, never for a later one of the same name."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api

PASSWORD = "Alice-long-pass-123!"


def _user(api: Api, role: str) -> None:
    body = {"username": "alice", "password": PASSWORD, "role": role}
    made = api.client.post("/api/v1/users", json=body, headers=api.headers())
    assert made.status_code == 201, made.text


def _alices_key(api: Api) -> dict[str, Any]:
    login = {"username": "alice", "password": PASSWORD}
    token = api.client.post("/api/v1/auth/login", json=login).json()["access_token"]
    made = api.client.post(
        "/api/v1/auth/api-keys",
        json={"name": "alice's", "scopes": ["read", "control"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.text
    key: dict[str, Any] = made.json()
    return key


def _me(api: Api, key: str) -> int:
    return api.client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code


def test_deleting_a_user_revokes_their_keys_for_good(api: Api) -> None:
    _user(api, "operator")
    key = _alices_key(api)
    assert _me(api, key["key"]) == 200
    deleted = api.client.delete("/api/v1/users/alice", headers=api.headers())
    assert deleted.status_code == 204, deleted.text
    assert _me(api, key["key"]) == 401
    listed = api.client.get(f"/api/v1/auth/api-keys/{key['id']}", headers=api.headers())
    assert listed.json()["active"] is False and listed.json()["revoked_at"] is not None
    api.clock.advance(1)  # type: ignore[attr-defined]
    _user(api, "admin")  # another person, given the name
    assert _me(api, key["key"]) == 401


def test_a_key_left_by_an_earlier_account_of_the_name_is_refused_and_unlisted(api: Api) -> None:
    """Even a key that was never revoked (its owner removed some other way)."""
    _user(api, "operator")
    key = _alices_key(api)
    assert api.store.users.delete("alice")
    api.clock.advance(1)  # type: ignore[attr-defined]
    _user(api, "viewer")  # an admin would list every key
    assert _me(api, key["key"]) == 401
    login = {"username": "alice", "password": PASSWORD}
    token = api.client.post("/api/v1/auth/login", json=login).json()["access_token"]
    alice = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/auth/api-keys", headers=alice).json() == []
    one = api.client.get(f"/api/v1/auth/api-keys/{key['id']}", headers=alice)
    assert one.status_code == 404
