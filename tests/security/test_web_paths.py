"""The dashboard's catch-all route: a path no file system takes (a NUL byte, a name too
long) answers the JSON 404, never a 500, and one longer than any route 414; a path out of
the web directory answers the dashboard's index.html, never the file it names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smsfleet.auth.models import Role
from tests.support.api import PASSWORDS, Api, running_api

INDEX = "<!doctype html><title>smsfleet</title>"
SCRIPT = "console.log('dashboard');"
SECRET = "outside the web directory"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[TestClient]:
    """A control plane serving a built dashboard, with a file of its own beside it."""
    web_dir = tmp_path / "web"
    (web_dir / "assets").mkdir(parents=True)
    (web_dir / "index.html").write_text(INDEX)
    (web_dir / "assets" / "app.js").write_text(SCRIPT)
    (tmp_path / "secret.txt").write_text(SECRET)
    (web_dir / "linked.txt").symlink_to(tmp_path / "secret.txt")
    with running_api(tmp_path, web_dir=web_dir) as api:
        # A 500 as the browser would see it, rather than the exception raised in the test.
        yield TestClient(api.client.app, raise_server_exceptions=False)


def assert_not_found(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/%00", "/a%00b", "/assets/app.js%00", "/assets%00/app.js"])
def test_a_nul_byte_answers_404(web: TestClient, path: str) -> None:
    assert_not_found(web, path)


@pytest.mark.parametrize("path", ["/" + "a" * 2000, "/assets/" + "b" * 300])
def test_a_path_too_long_for_a_file_name_answers_404(web: TestClient, path: str) -> None:
    assert_not_found(web, path)


# Past the file system's longest path too (4096), which a file lookup would refuse.
@pytest.mark.parametrize(
    "path", ["/" + "a" * 5000, "/api/v1/pairs/" + "x" * 5000, "/" + "/".join(["c" * 200] * 30)]
)
def test_a_path_longer_than_any_route_answers_414_before_any(web: TestClient, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 414, response.text
    assert response.json()["error"]["code"] == "uri_too_long"
    assert "x" * 100 not in response.text  # nothing of it repeated


@pytest.mark.parametrize(
    "path",
    [
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/%2Fetc%2Fpasswd",
        "/linked.txt",
    ],
)
def test_a_path_out_of_the_web_directory_answers_the_index(web: TestClient, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 200, response.text
    assert response.text == INDEX


def test_the_dashboards_files_and_routes_are_served(web: TestClient) -> None:
    assert web.get("/").text == INDEX
    assert web.get("/sessions/ticker_KE_safaricom").text == INDEX
    script = web.get("/assets/app.js")
    assert script.status_code == 200
    assert script.text == SCRIPT


def test_a_built_file_not_there_answers_404_not_the_page(web: TestClient) -> None:
    assert_not_found(web, "/assets/gone-1a2b3c.js")
    assert_not_found(web, "/assets/..%2f..%2fsecret.txt")  # out of the directory: none
    assert web.get("/assets/app.js").text == SCRIPT


def test_a_nul_byte_answers_404_without_a_built_dashboard(api: Api) -> None:
    assert_not_found(api.client, "/a%00b")
    assert_not_found(api.client, "/" + "a" * 2000)


def test_answers_are_kept_by_no_cache_but_the_built_files(web: TestClient) -> None:
    """Tokens, users and figures must not outlive a logout in a browser's or a proxy's
    cache; the dashboard's built files are named by their content and may be cached."""
    login = web.post(
        "/api/v1/auth/login",
        json={"username": Role.admin.value, "password": PASSWORDS[Role.admin]},
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for response in (
        login,
        web.post("/login", json={"username": "admin", "password": "wrong"}),
        web.get("/api/v1/users", headers=headers),
        web.get("/api/v1/auth/me", headers=headers),
        web.get("/api/v1/pairs"),  # a 401 too
        web.get("/country-operator", headers=headers),
        web.get("/"),
        web.get("/pairs"),
        web.get("/openapi.json"),
    ):
        assert response.headers["cache-control"] == "no-store", response.url
    assert "cache-control" not in web.get("/assets/app.js").headers
