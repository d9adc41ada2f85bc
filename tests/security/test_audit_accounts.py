"""Privilege and credential changes leave a trace: users, API keys and country caps are in
the audit log, with who acted, and never a password, a hash or a key."""

from __future__ import annotations

from typing import Any

from smsfleet.auth.models import Role
from tests.security.test_programs_trust import audit
from tests.support.api import PASSWORDS, Api

PASSWORD = "Alice-long-pass-123!"
NEW_PASSWORD = "Alice-other-pass-456?"


def _make_alice(api: Api, role: str = "operator") -> None:
    body = {"username": "alice", "password": PASSWORD, "role": role}
    made = api.client.post("/api/v1/users", json=body, headers=api.headers())
    assert made.status_code == 201, made.text


def _sign_in(api: Api, username: str, password: str) -> dict[str, str]:
    login = {"username": username, "password": password}
    response = api.client.post("/api/v1/auth/login", json=login)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _make_key(api: Api, headers: dict[str, str], name: str = "alice's") -> dict[str, Any]:
    body = {"name": name, "scopes": ["read", "control"], "daily_quota": 1000}
    made = api.client.post("/api/v1/auth/api-keys", json=body, headers=headers)
    assert made.status_code == 201, made.text
    key: dict[str, Any] = made.json()
    return key


def _secrets(api: Api) -> set[str]:
    """Every password hash and API key hash stored now, and every test password."""
    found = {user.password_hash for user in api.store.users.list()}
    found |= {key.secret_hash for key in api.store.api_keys.list()}
    return found | set(PASSWORDS.values()) | {PASSWORD, NEW_PASSWORD}


def _assert_nothing_secret(api: Api, *secrets: str) -> None:
    """Nowhere in the whole log: not a secret, nor a field that would hold one."""
    response = api.client.get("/api/v1/audit", params={"limit": 1000}, headers=api.headers())
    assert response.status_code == 200, response.text
    text = response.text
    for secret in secrets:
        assert secret not in text
    for field in ("password_hash", "secret_hash", "token_version", '"key"', "$argon2"):
        assert field not in text, field


def test_creating_a_user_is_audited_without_the_password(api: Api) -> None:
    _make_alice(api)
    (event,) = audit(api, action="user.created")
    assert event["actor"] == "admin" and event["actor_role"] == "admin"
    assert event["api_key_id"] is None
    assert event["target_kind"] == "user" and event["target"] == "alice"
    assert event["before"] is None
    assert event["after"]["username"] == "alice" and event["after"]["role"] == "operator"
    assert event["after"]["disabled"] is False
    assert audit(api, target_kind="user", target="alice") == [event]
    _assert_nothing_secret(api, *_secrets(api))


def test_role_disabled_and_password_changes_are_audited_before_and_after(api: Api) -> None:
    _make_alice(api)
    old_hash = api.store.users.get("alice").password_hash  # type: ignore[union-attr]
    changes: list[dict[str, Any]] = [
        {"role": "admin"},
        {"disabled": True},
        {"password": NEW_PASSWORD},
    ]
    for change in changes:
        api.clock.advance(1)  # type: ignore[attr-defined]
        response = api.client.patch("/api/v1/users/alice", json=change, headers=api.headers())
        assert response.status_code == 200, response.text
    new_hash = api.store.users.get("alice").password_hash  # type: ignore[union-attr]
    assert new_hash != old_hash
    reset, disabled, promoted = audit(api, action="user.updated", target="alice")
    assert all(e["actor"] == "admin" and e["target_kind"] == "user" for e in (reset, disabled))
    assert promoted["before"]["role"] == "operator" and promoted["after"]["role"] == "admin"
    assert promoted["after"]["password_changed"] is False
    assert disabled["before"]["disabled"] is False and disabled["after"]["disabled"] is True
    assert disabled["after"]["password_changed"] is False
    assert reset["after"]["password_changed"] is True
    assert reset["before"]["role"] == reset["after"]["role"] == "admin"
    # Both sides of one shape: only a password set reads as a change of it.
    assert reset["before"]["password_changed"] is False
    assert promoted["before"]["password_changed"] is False
    _assert_nothing_secret(api, old_hash, *_secrets(api))


def test_a_refused_change_is_not_audited(api: Api) -> None:
    _make_alice(api)
    for role in (Role.viewer, Role.operator):
        refused = api.client.patch(
            "/api/v1/users/alice", json={"role": "admin"}, headers=api.headers(role)
        )
        assert refused.status_code == 403, refused.text
    weak = api.client.patch("/api/v1/users/alice", json={"password": "x"}, headers=api.headers())
    assert weak.status_code == 422, weak.text
    capped = api.client.patch(
        "/api/v1/countries/UZ", json={"cap": 7}, headers=api.headers(Role.operator)
    )
    assert capped.status_code == 403, capped.text
    assert audit(api, action="user.updated") == []
    assert audit(api, action="country.updated") == []


def test_deleting_a_user_is_audited(api: Api) -> None:
    _make_alice(api)
    key = _make_key(api, _sign_in(api, "alice", PASSWORD))
    old_hash = api.store.users.get("alice").password_hash  # type: ignore[union-attr]
    deleted = api.client.delete("/api/v1/users/alice", headers=api.headers())
    assert deleted.status_code == 204, deleted.text
    (event,) = audit(api, action="user.deleted")
    assert event["actor"] == "admin" and event["target"] == "alice"
    assert event["before"]["username"] == "alice" and event["before"]["role"] == "operator"
    assert event["after"] is None
    missing = api.client.delete("/api/v1/users/alice", headers=api.headers())
    assert missing.status_code == 404, missing.text
    assert len(audit(api, action="user.deleted")) == 1
    # Her key went with her account, and the log says who revoked it.
    (revoked,) = audit(api, action="api_key.revoked")
    assert revoked["actor"] == "admin" and revoked["target"] == key["id"]
    assert revoked["before"]["revoked_at"] is None and revoked["after"]["revoked_at"] is not None
    _assert_nothing_secret(api, old_hash, key["key"], *_secrets(api))


def test_logging_out_everywhere_is_audited_and_takes_a_person(api: Api) -> None:
    _make_alice(api)
    alice = _sign_in(api, "alice", PASSWORD)
    key = _make_key(api, alice)
    by_admin = api.client.post("/api/v1/users/alice/logout", headers=api.headers())
    assert by_admin.status_code == 204, by_admin.text
    api.clock.advance(1)  # type: ignore[attr-defined]
    alice = _sign_in(api, "alice", PASSWORD)
    herself = api.client.post("/api/v1/auth/logout-all", headers=alice)
    assert herself.status_code == 204, herself.text
    # Not with a key, even hers: ending her sign-ins takes her (a read key changes nothing).
    by_key = api.client.post("/api/v1/auth/logout-all", headers={"X-API-Key": key["key"]})
    assert by_key.status_code == 403, by_key.text
    assert by_key.json()["error"]["message"] == (
        "API keys cannot log their owner out everywhere: sign in to do this"
    )
    events = audit(api, action="user.logged_out", target="alice")
    assert [(e["actor"], e["actor_role"], e["api_key_id"]) for e in events] == [
        ("alice", "operator", None),
        ("admin", "admin", None),
    ]
    assert all(e["target_kind"] == "user" for e in events)
    _assert_nothing_secret(api, key["key"], *_secrets(api))


def test_creating_and_revoking_an_api_key_is_audited_without_the_key(api: Api) -> None:
    _make_alice(api)
    alice = _sign_in(api, "alice", PASSWORD)
    key = _make_key(api, alice)
    (created,) = audit(api, action="api_key.created")
    assert created["actor"] == "alice" and created["actor_role"] == "operator"
    assert created["target_kind"] == "api_key" and created["target"] == key["id"]
    assert created["before"] is None
    assert created["after"]["id"] == key["id"] and created["after"]["owner"] == "alice"
    assert created["after"]["name"] == "alice's"
    assert created["after"]["scopes"] == ["control", "read"]
    assert created["after"]["daily_quota"] == 1000
    assert created["after"]["revoked_at"] is None

    api.clock.advance(1)  # type: ignore[attr-defined]
    revoked = api.client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=api.headers())
    assert revoked.status_code == 200, revoked.text
    again = api.client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=api.headers())
    assert again.status_code == 200, again.text  # changes nothing: not audited again
    (event,) = audit(api, action="api_key.revoked")
    assert event["actor"] == "admin" and event["target"] == key["id"]
    assert event["before"]["revoked_at"] is None and event["before"]["owner"] == "alice"
    assert event["after"]["revoked_at"] is not None and event["after"]["owner"] == "alice"
    assert audit(api, target_kind="api_key", target=key["id"]) == [event, created]
    _assert_nothing_secret(api, key["key"], *_secrets(api))


def test_changing_a_country_cap_is_audited(api: Api) -> None:
    old_cap = api.store.countries.get("UZ").cap  # type: ignore[union-attr]
    new_cap = old_cap + 7
    changed = api.client.patch("/api/v1/countries/UZ", json={"cap": new_cap}, headers=api.headers())
    assert changed.status_code == 200, changed.text
    (event,) = audit(api, action="country.updated")
    assert event["actor"] == "admin" and event["actor_role"] == "admin"
    assert event["target_kind"] == "country" and event["target"] == "UZ"
    assert event["before"]["cap"] == old_cap and event["after"]["cap"] == new_cap
    assert audit(api, target="UZ") == [event]
