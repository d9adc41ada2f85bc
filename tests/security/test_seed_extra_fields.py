"""The seed routes' bodies refuse fields they do not know with a 422 naming the field, as
the /api/v1 routes do: a misspelt `high_priority` made a normal pair silently, and a
login's stray field is refused the same, rather than dropped."""

from __future__ import annotations

from smsfleet.auth.models import Role
from tests.support.api import PASSWORDS, Api


def test_a_seed_pair_with_an_unknown_field_is_refused_and_not_made(api: Api) -> None:
    admin = api.headers()
    body = {"country": "IN", "operator": "zz1", "high_priority": True}
    refused = api.client.post("/country-operator", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == ["high_priority"]
    assert api.store.pairs.get("IN_zz1") is None
    # The seed document's own request is made as it says.
    sample = {"country": "IN", "operator": "zz1", "is_high_priority": True}
    made = api.client.post("/country-operator", json=sample, headers=admin)
    assert made.status_code == 201, made.text
    assert (made.json()["key"], made.json()["is_high_priority"]) == ("IN_zz1", True)


def test_a_login_with_an_unknown_field_is_refused(api: Api) -> None:
    for path in ("/login", "/api/v1/auth/login"):
        body = {"username": "admin", "password": PASSWORDS[Role.admin], "remember": True}
        refused = api.client.post(path, json=body)
        assert refused.status_code == 422, (path, refused.text)
        assert [d["field"] for d in refused.json()["error"]["details"]] == ["remember"]
        del body["remember"]
        assert api.client.post(path, json=body).status_code == 200, path
