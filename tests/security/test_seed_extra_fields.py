"""The seed routes' bodies refuse fields they do not know with a 422 naming the field, as
the /api/v1 routes do: a misspelt `high_priority` made a normal pair silently, and a
login's stray field is refused the same, rather than dropped."""

from __future__ import annotations

from typing import Any

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


def test_every_request_body_refuses_a_field_it_does_not_take(api: Api) -> None:
    """Said of every body in the API's own schema, and of every model within one, so that
    a new one cannot quietly take what it drops (the refresh and logout bodies did). A
    map (its keys free, as a send's parameters) has no properties of its own."""
    spec = api.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    open_models: set[str] = set()
    seen: set[str] = set()

    def visit(schema: Any, where: str) -> None:
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                visit(schemas[name], name)
            return
        if "properties" in schema and schema.get("additionalProperties") is not False:
            open_models.add(where)
        for part in (*schema.get("properties", {}).values(), schema.get("items")):
            visit(part, where)
        for part in (*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])):
            visit(part, where)
        visit(schema.get("additionalProperties"), where)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                visit(content["schema"], f"{method.upper()} {path}")
    assert len(seen) >= 30, seen
    assert open_models == set()


def test_a_refresh_or_logout_with_an_unknown_field_is_refused(api: Api) -> None:
    login = api.client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": PASSWORDS[Role.admin]}
    )
    refresh_token = login.json()["refresh_token"]
    for path in ("/api/v1/auth/refresh", "/api/v1/auth/logout"):
        refused = api.client.post(path, json={"refresh_token": refresh_token, "x": 1})
        assert refused.status_code == 422, (path, refused.text)
        assert [d["field"] for d in refused.json()["error"]["details"]] == ["x"]
    # Neither was carried out: the token still refreshes.
    assert (
        api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token}).status_code
        == 200
    )
