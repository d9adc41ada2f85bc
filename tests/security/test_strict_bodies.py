"""A body's numbers and flags are JSON's own: `{"cap": true}` is no cap of 1 and `"5"` no
cap of 5, `{"all": 1}` no bulk action on every session, `"yes"` no high priority. Each is
refused with the field named, and nothing changes (every body: `tests/unit/core/
test_strict_bodies.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from smsfleet.auth.models import Role
from tests.support.api import Api

REFUSED = [
    ("PATCH", "/api/v1/countries/UZ", {"cap": True}, "cap"),
    ("PATCH", "/api/v1/countries/UZ", {"cap": "5"}, "cap"),
    ("PATCH", "/api/v1/countries/UZ", {"cap": 5.0}, "cap"),
    ("POST", "/api/v1/sessions/actions", {"action": "stop", "all": 1}, "all"),
    ("POST", "/api/v1/sessions/actions", {"action": "stop", "all": "true"}, "all"),
    ("POST", "/api/v1/auth/api-keys", {"name": "ci", "daily_quota": "10"}, "daily_quota"),
    ("PATCH", "/api/v1/users/viewer", {"disabled": "no"}, "disabled"),
    ("POST", "/api/v1/search/jobs", {"query": "x", "limit": "5"}, "limit"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), REFUSED)
def test_a_number_or_flag_in_another_type_is_refused(
    api: Api, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = (
        api.client.get("/api/v1/countries", headers=api.headers(Role.admin)).json(),
        api.client.get("/api/v1/users", headers=api.headers(Role.admin)).json(),
        api.store.api_keys.list(),
    )
    answered = api.client.request(method, path, json=body, headers=api.headers(Role.admin))
    assert answered.status_code == 422, answered.text
    assert answered.headers["content-type"] == "application/json"
    assert field in answered.text
    after = (
        api.client.get("/api/v1/countries", headers=api.headers(Role.admin)).json(),
        api.client.get("/api/v1/users", headers=api.headers(Role.admin)).json(),
        api.store.api_keys.list(),
    )
    assert after == before


def test_the_same_numbers_and_flags_in_their_own_type_are_taken(api: Api) -> None:
    admin = api.headers(Role.admin)
    changed = api.client.patch("/api/v1/countries/UZ", json={"cap": 5}, headers=admin)
    assert (changed.status_code, changed.json()["cap"]) == (200, 5)
    disabled = api.client.patch("/api/v1/users/viewer", json={"disabled": True}, headers=admin)
    assert (disabled.status_code, disabled.json()["disabled"]) == (200, True)
