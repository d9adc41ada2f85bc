"""API keys: shown once, stored hashed, scoped, revocable, and held to their quotas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smsfleet.auth.models import Role
from tests.support.api import Api
from tests.support.fakes import FakeClock

RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def create(api: Api, role: Role = Role.admin, **body: Any) -> dict[str, Any]:
    response = api.client.post(
        "/api/v1/auth/api-keys", json={"name": "ci", **body}, headers=api.headers(role)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_key_is_shown_once_and_stored_as_a_hash(api: Api) -> None:
    created = create(api, scopes=["read"])
    key = created["key"]
    assert key.startswith(f"sfk_{created['id']}_") and created["prefix"] in key
    listed = api.client.get("/api/v1/auth/api-keys", headers=api.headers()).json()
    assert [k["id"] for k in listed] == [created["id"]]
    one = api.client.get(f"/api/v1/auth/api-keys/{created['id']}", headers=api.headers()).json()
    for shown in (listed[0], one):
        assert "key" not in shown and "secret_hash" not in shown
        assert key.split("_", 2)[2] not in str(shown)  # the secret (it may hold "_")
    stored = api.store.api_keys.get(created["id"])
    assert stored is not None and key not in stored.model_dump_json()


@pytest.mark.parametrize("how", ["X-API-Key", "Authorization"])
def test_a_key_works_where_a_token_does_within_its_scope(api: Api, how: str) -> None:
    read = create(api, scopes=["read"])["key"]
    control = create(api, scopes=["read", "control"])["key"]

    def headers(key: str) -> dict[str, str]:
        return {"X-API-Key": key} if how == "X-API-Key" else {"Authorization": f"Bearer {key}"}

    assert api.client.get("/api/v1/pairs", headers=headers(read)).status_code == 200
    body = {"country": "UZ", "operator": "UzMobile"}
    refused = api.client.post("/api/v1/pairs", json=body, headers=headers(read))
    assert refused.status_code == 403
    made = api.client.post("/api/v1/pairs", json=body, headers=headers(control))
    assert made.status_code == 201, made.text
    # An admin's key is never an admin: users stay out of reach.
    users = api.client.get("/api/v1/users", headers=headers(control))
    assert users.status_code == 403
    assert users.json()["error"]["message"] == (
        "this needs the admin role; this API key acts as operator"
    )
    signed_in = api.client.get("/api/v1/users", headers=api.headers(Role.operator))
    assert signed_in.json()["error"]["message"] == "this needs the admin role; you are operator"
    me = api.client.get("/api/v1/auth/me", headers=headers(control)).json()
    assert (me["username"], me["role"]) == ("admin", "operator")


def test_a_viewer_is_refused_a_control_key_and_a_demoted_owners_key_is_a_viewer(
    api: Api,
) -> None:
    refused = api.client.post(
        "/api/v1/auth/api-keys",
        json={"name": "ci", "scopes": ["read", "control"]},
        headers=api.headers(Role.viewer),
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["message"] == (
        "a viewer's key can only read: control needs the operator role"
    )
    assert api.client.get("/api/v1/auth/api-keys", headers=api.headers()).json() == []
    # A key made while its owner could control is held to what the owner may do now.
    key = create(api, Role.operator, scopes=["control"])["key"]
    demoted = api.client.patch(
        "/api/v1/users/operator", json={"role": "viewer"}, headers=api.headers()
    )
    assert demoted.status_code == 200, demoted.text
    response = api.client.post(
        "/api/v1/pairs", json={"country": "UZ", "operator": "X"}, headers={"X-API-Key": key}
    )
    assert response.status_code == 403


def test_revoked_unknown_and_tampered_keys_are_refused(api: Api) -> None:
    created = create(api)
    key = created["key"]
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    for bad in (tampered, "sfk_00000000_nope", "sfk_x"):
        response = api.client.get("/api/v1/pairs", headers={"X-API-Key": bad})
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "unknown API key"
    revoked = api.client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=api.headers())
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    response = api.client.get("/api/v1/pairs", headers={"X-API-Key": key})
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_keys_cannot_manage_keys_and_others_keys_are_invisible(api: Api) -> None:
    key = create(api, scopes=["control"])["key"]
    minted = api.client.post(
        "/api/v1/auth/api-keys", json={"name": "x"}, headers={"X-API-Key": key}
    )
    assert minted.status_code == 403
    mine = create(api, Role.operator)
    theirs = api.client.get(f"/api/v1/auth/api-keys/{mine['id']}", headers=api.headers(Role.viewer))
    assert theirs.status_code == 404
    gone = api.client.delete(
        f"/api/v1/auth/api-keys/{mine['id']}", headers=api.headers(Role.viewer)
    )
    assert gone.status_code == 404
    everyone = api.client.get("/api/v1/auth/api-keys", headers=api.headers()).json()
    assert {k["owner"] for k in everyone} == {"admin", "operator"}


def test_a_disabled_owners_keys_stop_working(api: Api) -> None:
    key = create(api, Role.operator)["key"]
    disabled = api.client.patch(
        "/api/v1/users/operator", json={"disabled": True}, headers=api.headers()
    )
    assert disabled.status_code == 200
    assert api.client.get("/api/v1/pairs", headers={"X-API-Key": key}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x", "scopes": ["admin"]},
        {"name": "x", "scopes": []},
        {"name": "x", "daily_quota": 0},
        {"name": "x", "extra": 1},
    ],
)
def test_bad_key_requests_are_422(api: Api, body: dict[str, Any]) -> None:
    response = api.client.post("/api/v1/auth/api-keys", json=body, headers=api.headers())
    assert response.status_code == 422


def test_a_daily_quota_counts_down_refuses_past_it_and_resets_at_midnight(api: Api) -> None:
    created = create(api, daily_quota=3, monthly_quota=100)
    headers = {"X-API-Key": created["key"]}
    remaining = []
    for _ in range(3):
        response = api.client.get("/api/v1/pairs", headers=headers)
        assert response.status_code == 200
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    assert response.headers["X-RateLimit-Limit"] == "3"
    refused = api.client.get("/api/v1/pairs", headers=headers)
    assert refused.status_code == 429
    clock = api.clock
    assert isinstance(clock, FakeClock)  # 2026-01-05 12:00 UTC: 12 hours to midnight
    assert refused.headers["Retry-After"] == str(12 * 3600)
    midnight = datetime(2026, 1, 6, tzinfo=UTC).timestamp()
    assert {name: refused.headers.get(name) for name in RATE_LIMIT_HEADERS} == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(midnight)),
    }
    assert refused.json()["error"]["message"] == (
        "this API key used its daily quota; it resets at 2026-01-06 00:00:00 UTC"
    )
    shown = api.client.get(f"/api/v1/auth/api-keys/{created['id']}", headers=api.headers())
    daily = shown.json()["daily"]
    assert (daily["used"], daily["remaining"]) == (3, 0)  # the refused one is not counted
    assert shown.json()["monthly"]["used"] == 3
    assert shown.json()["last_used_at"] is not None
    other = create(api)["key"]  # another key is not held back
    assert api.client.get("/api/v1/pairs", headers={"X-API-Key": other}).status_code == 200
    clock.advance(12 * 3600)
    again = api.client.get("/api/v1/pairs", headers=headers)
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "2"
