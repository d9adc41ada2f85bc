"""API keys are bounded: a user has at most so many that are not revoked (the next one
is a 409 that says to revoke unused keys), and the listing answers at most `limit` keys,
newest first, 100 unless asked otherwise and never more than 1000."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smsfleet.auth.models import Role
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock

KEYS = "/api/v1/auth/api-keys"


def _create(api: Api, role: Role, name: str) -> Any:
    return api.client.post(KEYS, json={"name": name}, headers=api.headers(role))


def _listed(api: Api, role: Role, **params: Any) -> Any:
    return api.client.get(KEYS, params=params, headers=api.headers(role))


def test_a_user_has_at_most_the_cap_of_active_keys(tmp_path: Path) -> None:
    with running_api(tmp_path, apikeys_max_active_per_user=3) as api:
        made = [_create(api, Role.viewer, f"key {n}") for n in range(3)]
        assert [r.status_code for r in made] == [201, 201, 201]
        refused = _create(api, Role.viewer, "one too many")
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "conflict"
        assert "at most 3 active API keys" in error["message"]
        assert "revoke keys you no longer use" in error["message"]
        assert error["details"] == {"active": 3, "max_active": 3}
        # Nothing refused was stored; another user has a cap of their own.
        assert len(_listed(api, Role.viewer).json()) == 3
        assert _create(api, Role.operator, "the operator's").status_code == 201
        # A revoked key does not count: revoking one makes room for one.
        revoked = api.client.delete(
            f"{KEYS}/{made[0].json()['id']}", headers=api.headers(Role.viewer)
        )
        assert revoked.status_code == 200, revoked.text
        assert _create(api, Role.viewer, "in its place").status_code == 201
        assert _create(api, Role.viewer, "again too many").status_code == 409
        listed = _listed(api, Role.viewer).json()
        assert (len(listed), sum(k["active"] for k in listed)) == (4, 3)


def test_the_default_cap_is_50_active_keys(tmp_path: Path) -> None:
    # More than the 20 one user may make an hour (test_api_keys_kept.py), made at once.
    with running_api(tmp_path, apikeys_made_per_hour=100) as api:
        assert all(_create(api, Role.viewer, f"key {n}").status_code == 201 for n in range(50))
        assert _create(api, Role.viewer, "the 51st").status_code == 409


def test_the_listing_answers_the_newest_keys_up_to_its_limit(tmp_path: Path) -> None:
    with running_api(tmp_path, apikeys_max_active_per_user=200, apikeys_made_per_hour=200) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        for n in range(120):
            clock.advance(1)
            assert _create(api, Role.viewer, f"key {n}").status_code == 201
        default = _listed(api, Role.viewer)
        assert default.status_code == 200, default.text
        assert [k["name"] for k in default.json()] == [f"key {n}" for n in range(119, 19, -1)]
        two = _listed(api, Role.viewer, limit=2).json()
        assert [k["name"] for k in two] == ["key 119", "key 118"]
        assert len(_listed(api, Role.viewer, limit=1000).json()) == 120
        # An admin sees everyone's keys, bounded the same.
        assert len(_listed(api, Role.admin).json()) == 100
        for limit in (0, 1001, "all"):
            refused = _listed(api, Role.viewer, limit=limit)
            assert refused.status_code == 422, refused.text
