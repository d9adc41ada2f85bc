"""What an account did stays its own: an account deleted and made again under its name (another
person, given the name) sees none of the old one's API use. Admins still do."""

from __future__ import annotations

from smsfleet.developer.log import RequestLog
from tests.support.api import Api

PASSWORD = "Alice-long-pass-123!"


def _make_alice(api: Api, role: str) -> dict[str, str]:
    """Alice's account, made by the admin; her sign-in's headers."""
    body = {"username": "alice", "password": PASSWORD, "role": role}
    made = api.client.post("/api/v1/users", json=body, headers=api.headers())
    assert made.status_code == 201, made.text
    login = {"username": "alice", "password": PASSWORD}
    signed_in = api.client.post("/api/v1/auth/login", json=login)
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}


def _made_again(api: Api, role: str) -> dict[str, str]:
    """Alice's account deleted, and another made under her name a second later."""
    deleted = api.client.delete("/api/v1/users/alice", headers=api.headers())
    assert deleted.status_code == 204, deleted.text
    api.clock.advance(1)  # type: ignore[attr-defined]
    return _make_alice(api, role)


def _flush(api: Api) -> None:
    request_log: RequestLog = api.services.usage.log
    while request_log.flush():
        pass


def test_an_account_made_again_sees_none_of_the_old_ones_api_use(api: Api) -> None:
    alice = _make_alice(api, "operator")
    made = api.client.post(
        "/api/v1/auth/api-keys", json={"name": "ci", "scopes": ["read"]}, headers=alice
    )
    assert made.status_code == 201, made.text
    key = made.json()
    for _ in range(3):
        assert api.client.get("/api/v1/pairs", headers={"X-API-Key": key["key"]}).status_code == 200
    _flush(api)

    again = _made_again(api, "viewer")
    _flush(api)
    summary = api.client.get("/api/v1/analytics/usage", headers=again)
    assert summary.status_code == 200, summary.text
    assert summary.json()["requests"] == 0
    assert api.client.get("/api/v1/analytics/usage/daily", headers=again).json() == []
    keys = api.client.get("/api/v1/analytics/usage/keys", headers=again).json()
    assert [k for k in keys if k["api_key_id"] == key["id"]] == []
    endpoints = api.client.get("/api/v1/analytics/usage/endpoints", headers=again).json()
    old_routes = {("GET", "/api/v1/pairs"), ("POST", "/api/v1/auth/api-keys")}
    assert {(e["method"], e["route"]) for e in endpoints} & old_routes == set()
    by_key = api.client.get(
        "/api/v1/analytics/usage", params={"api_key_id": key["id"]}, headers=again
    )
    assert by_key.json()["requests"] == 0
    assert (
        api.client.get(f"/api/v1/auth/api-keys/{key['id']}/usage", headers=again).status_code == 404
    )

    # The new account's own use is its own.
    assert api.client.get("/api/v1/programs", headers=again).status_code == 200
    _flush(api)
    endpoints = api.client.get("/api/v1/analytics/usage/endpoints", headers=again).json()
    assert ("GET", "/api/v1/programs") in {(e["method"], e["route"]) for e in endpoints}

    # An admin still sees the old account's use, under its name.
    admin_keys = api.client.get("/api/v1/analytics/usage/keys", headers=api.headers()).json()
    assert {(k["api_key_id"], k["owner"], k["requests"]) for k in admin_keys} >= {
        (key["id"], "alice", 3)
    }
