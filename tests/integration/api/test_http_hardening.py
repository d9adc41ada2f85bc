"""CORS only for configured origins; security headers on every response."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.core.settings import Settings
from tests.support.api import Api

ALLOWED = "https://ops.example.com"


@pytest.fixture
def cors_client(tmp_path: Path) -> Iterator[TestClient]:
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>smsfleet</title>")
    settings = Settings(
        data_dir=tmp_path,
        web_dir=web,
        supervise=False,
        cors_origins=f"{ALLOWED}/, https://other.example.com",
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_origins_are_read_from_a_comma_separated_list() -> None:
    settings = Settings(cors_origins=" https://a.example , https://b.example/,")
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_a_configured_origin_may_call_the_api(cors_client: TestClient) -> None:
    preflight = cors_client.options(
        "/api/v1/pairs",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    answer = cors_client.get("/healthz", headers={"Origin": ALLOWED})
    assert answer.headers["access-control-allow-origin"] == ALLOWED


def test_any_other_origin_is_refused(cors_client: TestClient) -> None:
    preflight = cors_client.options(
        "/api/v1/pairs",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    answer = cors_client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_no_origin_is_allowed_by_default(api: Api) -> None:
    answer = api.client.get("/healthz", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in answer.headers


def test_the_dashboard_is_served_with_a_content_policy(cors_client: TestClient) -> None:
    page = cors_client.get("/pairs")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    # The live feed may reach the page's own host only, by name.
    assert "connect-src 'self' ws://testserver wss://testserver;" in policy
    spoofed = cors_client.get("/pairs", headers={"Host": "x; script-src *"})
    assert "connect-src 'self';" in spoofed.headers["content-security-policy"]
    assert "script-src *" not in spoofed.headers["content-security-policy"]


def test_api_answers_and_errors_carry_the_headers_too(api: Api) -> None:
    for response in (
        api.client.get("/api/v1/auth/me", headers=api.headers()),
        api.client.get("/api/v1/pairs/NOPE_x", headers=api.headers()),
        api.client.get("/api/v1/pairs"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["x-frame-options"] == "DENY"
    # The API documentation pages have a policy of their own: this origin's files and
    # their own inline script by its hash, nothing from elsewhere.
    for page in ("/docs", "/swagger/", "/redoc"):
        policy = api.client.get(page).headers["content-security-policy"]
        assert "script-src 'self'" in policy, page
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        assert "http" not in policy, page


def test_the_redoc_script_is_named_by_its_content_kept_for_good_and_gzipped(api: Api) -> None:
    """A megabyte fetched on every visit made ReDoc slow: named by its content, a browser
    keeps it for good; gzipped for one that takes it."""
    page = api.client.get("/redoc").text
    [src] = re.findall(r'<script src="(/docs/redoc\.js\?v=[0-9a-f]{16})">', page)
    plain = api.client.get(src, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200, plain.text
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-encoding" not in plain.headers
    packed = api.client.get(src, headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(plain.content) // 2
    assert packed.content == plain.content  # as the browser reads it, unpacked
    # Under another name it may be another content: asked again each time.
    other = api.client.get("/docs/redoc.js?v=deadbeef", headers={"Accept-Encoding": "identity"})
    assert other.headers["cache-control"] == "no-cache"
    refused = api.client.get(src, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers


def test_a_path_of_no_route_is_404_whatever_the_method(api: Api) -> None:
    """The dashboard's pages answer GET: a mistyped API path is no page of it. A path of
    the API with another method is still 405, saying which it takes."""
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        for path in ("/api/v1/nonexistent", "/api/v1/messages/sends"):
            response = api.client.request(method, path, headers=api.headers())
            if path == "/api/v1/messages/sends" and method == "GET":
                assert response.status_code == 200, response.text
                continue
            expected = 405 if path == "/api/v1/messages/sends" else 404
            assert response.status_code == expected, (method, path, response.text)
            error = response.json()["error"]
            if expected == 404:
                assert error == {
                    "code": "not_found",
                    "message": "no route /api/v1/nonexistent",
                    "details": None,
                }
            else:
                assert error["code"] == "method_not_allowed"
    wrong = api.client.post("/api/v1/messages/sends", headers=api.headers())
    assert wrong.headers["allow"] == "GET"
    # The path's routes together: listing and creating pairs are two routes of one path.
    wrong = api.client.put("/api/v1/pairs", headers=api.headers())
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET, POST")
    wrong = api.client.put("/api/v1/worker/lease")  # the dashboard's GET is no API route
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    # A page of the dashboard is still GET's alone.
    assert api.client.post("/pairs").status_code == 405


def test_head_is_answered_as_get_without_the_body(api: Api) -> None:
    """Uptime checks and `curl -I` ask HEAD: the routes declare GET alone."""
    for path, headers in (("/healthz", {}), ("/api/v1/pairs", api.headers()), ("/", {})):
        got = api.client.get(path, headers=headers)
        head = api.client.head(path, headers=headers)
        assert (head.status_code, head.content) == (got.status_code, b""), path
        assert head.headers["content-length"] == got.headers["content-length"], path
        assert head.headers["x-content-type-options"] == "nosniff", path
    # Asked as its GET is: no token, no answer.
    assert api.client.head("/api/v1/pairs").status_code == 401
