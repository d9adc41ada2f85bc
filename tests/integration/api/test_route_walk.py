"""Every route of the OpenAPI schema demands a token, and writes demand a writer's role."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smsfleet.auth.models import Role
from tests.support.api import Api

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),  # the refresh token in the body is the credential
    ("POST", "/login"),
    ("GET", "/metrics"),  # Prometheus scrapes it; see docs/operations.md to protect it
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Programs authenticate there with their session's worker token, never a user's JWT.
WORKER_ROUTES = "/api/v1/worker/"
# Everyone may log themselves out everywhere.
OWN_LOGINS = "/api/v1/auth/logout-all"
# Everyone manages their own keys (a viewer's keys can only read) and search jobs.
OWN_KEYS = "/api/v1/auth/api-keys"
OWN_JOBS = "/api/v1/search/jobs"
# The gateway posts there with its own token, never a user's.
GATEWAY_ROUTE = "/api/v1/messages/inbound"


def operations(api: Api) -> list[tuple[str, str]]:
    schema: dict[str, Any] = api.client.get("/openapi.json").json()
    found = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(found) > 20, "the schema lists fewer routes than the API has"
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "UZ", path)


def test_every_non_public_route_answers_401_without_credentials(api: Api) -> None:
    checked = 0
    for method, path in operations(api):
        if (method, path) in PUBLIC:
            continue
        response = api.client.request(method, concrete(path), json={})
        assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("header", ["Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer a.b.c"])
def test_malformed_credentials_are_401_too(api: Api, header: str) -> None:
    response = api.client.get("/api/v1/pairs", headers={"Authorization": header})
    assert response.status_code == 401


def test_a_viewer_is_refused_every_write(api: Api) -> None:
    headers = api.headers(Role.viewer)
    checked = 0
    for method, path in operations(api):
        if (
            method not in WRITE_METHODS
            or (method, path) in PUBLIC
            or path.startswith((WORKER_ROUTES, OWN_KEYS, OWN_JOBS, GATEWAY_ROUTE, OWN_LOGINS))
        ):
            continue
        response = api.client.request(method, concrete(path), json={}, headers=headers)
        assert response.status_code == 403, f"{method} {path} answered {response.status_code}"
        assert response.json()["error"]["code"] == "forbidden"
        checked += 1
    assert checked >= 10


def test_public_routes_answer_without_credentials(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {
        "status": "ok",
        "config_store": "sqlite",
        "supervisor": "off",
    }


def test_worker_routes_refuse_user_tokens(api: Api) -> None:
    headers = api.headers(Role.admin)
    worker_routes = [path for _, path in operations(api) if path.startswith(WORKER_ROUTES)]
    assert sorted(worker_routes) == [
        f"{WORKER_ROUTES}{name}" for name in ("ended", "heartbeat", "lease", "report")
    ]
    session = {"session": "program1_UZ_uzmobile"}
    report = {**session, "trigger_id": "a" * 32, "outcome": "delivered"}
    for path in worker_routes:
        body = report if path.endswith("/report") else session
        response = api.client.post(path, json=body, headers=headers)
        assert response.status_code == 401, path


def test_every_route_refuses_a_query_parameter_it_does_not_take(api: Api) -> None:
    """A mistyped filter (`contry` for `country`) would otherwise be dropped, and the
    answer given for no filter at all: the whole fleet."""
    checked = 0
    for method, path in operations(api):
        response = api.client.request(
            method, concrete(path), params={"contry": "UZ"}, headers=api.headers(Role.admin)
        )
        assert response.status_code == 422, f"{method} {path} answered {response.status_code}"
        [detail] = response.json()["error"]["details"]
        assert detail["field"] == "contry", (method, path, detail)
        assert detail["message"].startswith("unknown parameter; "), (method, path, detail)
        checked += 1
    assert checked >= 90
    # What the schema lists, each route takes (a bad value may still be refused).
    schema: dict[str, Any] = api.client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for param in operation.get("parameters", []):
                if param["in"] != "query":
                    continue
                response = api.client.request(
                    method,
                    concrete(path),
                    params={param["name"]: "1"},
                    headers=api.headers(Role.admin),
                )
                assert "unknown parameter" not in response.text, (method, path, param["name"])
    listing = api.client.get(
        "/api/v1/sessions", params={"contry": "UZ"}, headers=api.headers(Role.viewer)
    )
    assert listing.json()["error"]["details"][0]["message"] == (
        "unknown parameter; use country, operator, program, state, host"
    )


def test_the_docs_sections_read_in_order_with_the_programs_own_last(api: Api) -> None:
    """/docs opened on the programs' internal routes (lease, report, heartbeat) above
    logging in: every section is listed, in a person's order, the worker's last."""
    schema: dict[str, Any] = api.client.get("/openapi.json").json()
    listed = [tag["name"] for tag in schema["tags"]]
    used = {
        tag
        for operations in schema["paths"].values()
        for op in operations.values()
        for tag in op.get("tags", [])
    }
    assert used == set(listed), used ^ set(listed)
    assert (listed[0], listed[-1]) == ("auth", "worker")
