"""The interactive API docs render on a closed network: every request to another origin fails.

Swagger UI (`/docs`, `/swagger/`) and ReDoc (`/redoc`) load their scripts and styles
from the control plane itself, under a content policy that allows nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.support.e2e import ARTIFACTS, ControlPlane

pytestmark = pytest.mark.e2e
RENDER_TIMEOUT = 60_000


@pytest.fixture
def offline_page(page: Page, control_plane: ControlPlane) -> tuple[Page, list[str]]:
    """The page with every request to another origin aborted; what was blocked or refused."""
    origin = urlsplit(control_plane.url).netloc
    troubles: list[str] = []

    def only_the_control_plane(route: Route) -> None:
        request = route.request
        if request.url.startswith(("data:", "blob:")) or urlsplit(request.url).netloc == origin:
            route.continue_()
            return
        troubles.append(f"{request.resource_type} from another origin: {request.url}")
        route.abort()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            troubles.append(message.text)

    page.route("**/*", only_the_control_plane)
    page.on("console", on_console)
    page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
    return page, troubles


@pytest.mark.parametrize("path", ["/docs", "/swagger/"])
def test_swagger_ui_renders_the_operations_offline(
    offline_page: tuple[Page, list[str]], path: str, screenshot: Callable[[str], Path]
) -> None:
    page, troubles = offline_page
    response = page.goto(path)
    assert response is not None and response.ok
    # One operation of the list, in its tag's section (the schema is large: give it time).
    expect(page.locator(".opblock-tag-section").first).to_be_visible(timeout=RENDER_TIMEOUT)
    operation = page.locator(".opblock-summary-path", has_text="/api/v1/pairs").first
    expect(operation).to_be_visible()
    screenshot(f"swagger ui {path}")
    assert troubles == []


def test_redoc_renders_its_sidebar_offline(offline_page: tuple[Page, list[str]]) -> None:
    page, troubles = offline_page
    response = page.goto("/redoc")
    assert response is not None and response.ok
    sidebar = page.locator(".menu-content")
    expect(sidebar).to_be_visible(timeout=RENDER_TIMEOUT)
    expect(sidebar.get_by_text("pairs", exact=True).first).to_be_visible()
    expect(page.get_by_role("heading", name="smsfleet").first).to_be_visible()
    # The whole of ReDoc's page is too tall for one picture: what a person sees first.
    page.screenshot(path=str(ARTIFACTS / "api-docs-redoc.png"))
    assert troubles == []


def test_the_docs_assets_are_the_control_plane_s_own(page: Page) -> None:
    html = page.request.get("/docs").text()
    assert "cdn" not in html.lower()
    assert "/docs/assets/swagger-ui-bundle.js" in html
    # ReDoc's script is the bundle without the logo it would fetch from cdn.redoc.ly.
    redoc = page.request.get("/redoc").text()
    assert '<script src="/docs/redoc.js?v=' in redoc and "cdn" not in redoc.lower()
    script = page.request.get("/docs/redoc.js")
    assert script.ok and script.headers["content-type"].startswith("text/javascript")
    assert "cdn.redoc.ly" not in script.text()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = page.request.get(f"/docs/assets/{asset}")
        assert response.ok, asset
        assert len(response.body()) > 100_000, asset
