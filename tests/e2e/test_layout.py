"""Every page at a desktop (1440x900) and a tablet (820x1180) width, in a real browser.

- No page scrolls sideways at either width, and every table row's buttons are on screen
  (the action column stays in view, the session matrix stacks).
- Under 1,024 px the sidebar folds behind a menu button.
- The dashboard's alerts card counts the alerts firing and leads to the Alerts page;
  its pair table sorts by the clicked column and says latencies in seconds.
- While the live connection is up the dashboard does not poll the metrics.
- Offline: one banner, whatever fails, and the badge says Offline.
- Toasts stack at the bottom left of the content, never over the sidebar, clear of the
  Alerts table's Acknowledge buttons.

Screenshots of every page at both widths go to `test-artifacts/e2e/`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import FloatRect, Locator, Page, ViewportSize, expect

from tests.support.e2e import (
    VIEWPORTS,
    ControlPlane,
    expect_alerts_card_as_counted,
    expect_no_polling_while_live,
    expect_one_banner_offline,
    expect_sorts_by,
    firing_counts,
    metrics_requests,
    natural,
    open_logged_in,
    raised_alerts,
)

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]

PAGES = {
    "dashboard": ("/", "dashboard-page"),
    "pairs": ("/pairs", "pairs-page"),
    "programs": ("/programs", "programs-page"),
    "messages": ("/messages", "messages-page"),
    "alerts": ("/alerts", "alerts-page"),
    "developer": ("/developer", "developer-page"),
    "users": ("/users", "users-page"),
    "audit": ("/audit", "audit-page"),
}
MANUAL_ALERTS = ["Layout check: gateway slow", "Layout check: provider quota low"]
# Raised while the Alerts page is open: each shows as a toast too.
TOAST_ALERTS = ["Layout check: toast one", "Layout check: toast two"]
# The toast region's distance from the content's bottom left corner (shell.css).
TOAST_INSET = 16
# The sidebar's width (styles.css `--sidebar-width`), from 1,024 px up; folded away below.
SIDEBAR_WIDTH = 232


@pytest.fixture
def firing_alerts(admin_api: httpx.Client) -> Iterator[list[str]]:
    """Two alerts raised by hand, acknowledged afterwards."""
    with raised_alerts(admin_api, MANUAL_ALERTS) as ids:
        yield ids


def _expect_fits(page: Page, name: str) -> None:
    """No sideways scroll; every button of every table row within the viewport's width."""
    sizes = page.evaluate(
        """() => ({
            scroll: document.scrollingElement.scrollWidth,
            client: document.scrollingElement.clientWidth,
        })"""
    )
    assert sizes["scroll"] <= sizes["client"], f"{name} scrolls sideways: {sizes}"
    outside = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const out = [];
            for (const button of document.querySelectorAll("table tbody tr button")) {
                const box = button.getBoundingClientRect();
                if (box.width === 0 && box.height === 0) continue;
                if (box.left < -0.5 || box.right > width + 0.5) {
                    const label = button.textContent.trim();
                    out.push(`${label} [${box.left}, ${box.right}] of ${width}`);
                }
            }
            return out;
        }"""
    )
    assert outside == [], f"{name}: row buttons off screen: {outside}"


def _boxes(locator: Locator) -> list[FloatRect]:
    boxes = [item.bounding_box() for item in locator.all()]
    return [box for box in boxes if box is not None]


def _overlap(a: FloatRect, b: FloatRect) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def _row_buttons(page: Page) -> int:
    return int(page.locator("table tbody tr button").count())


@VIEWPORTS
def test_every_page_fits_the_screen_with_its_row_actions_in_view(
    page: Page,
    control_plane: ControlPlane,
    firing_alerts: list[str],
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    open_logged_in(page, "/", control_plane.admin_password, viewport=viewport)
    expect(page.get_by_test_id("dashboard-page")).to_be_visible()
    narrow = viewport["width"] < 1024
    menu = page.get_by_test_id("menu-button")
    sidebar = page.get_by_test_id("sidebar")
    if narrow:
        expect(menu).to_be_visible()
        expect(sidebar).not_to_be_visible()
    else:
        expect(menu).not_to_be_visible()
        expect(sidebar).to_be_visible()

    for name, (path, test_id) in PAGES.items():
        if narrow:
            # Through the menu, as a tablet user goes.
            menu.click()
            expect(sidebar).to_be_visible()
            page.get_by_test_id(f"nav-{name}").click()
            expect(sidebar).not_to_be_visible()
        else:
            page.get_by_test_id(f"nav-{name}").click()
        expect(page).to_have_url(f"{control_plane.url}{path}")
        expect(page.get_by_test_id(test_id)).to_be_visible()
        page.locator("[aria-busy='true']").first.wait_for(state="detached", timeout=10_000)
        if name == "alerts":
            expect(page.get_by_test_id("alert-acknowledge").first).to_be_visible()
        if name == "users":
            expect(page.get_by_test_id("user-actions").first).to_be_visible()
        if name in {"pairs", "programs", "alerts", "users"}:
            assert _row_buttons(page) > 0, f"{name} shows no row buttons to check"
        _expect_fits(page, f"{name} at {viewport['width']} px")
        screenshot(f"{name} {viewport['width']}x{viewport['height']}")


@VIEWPORTS
def test_dashboard_alerts_card_sorting_and_seconds(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    firing_alerts: list[str],
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    open_logged_in(page, "/", control_plane.admin_password, viewport=viewport)
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-status", "connected")

    # The alerts card: the alerts firing now, as the API counts them.
    assert firing_counts(admin_api)["firing"] >= len(MANUAL_ALERTS)
    expect_alerts_card_as_counted(page, admin_api)
    # A new alert counts at once, over the live connection; acknowledged, it resolves
    # and leaves the count. (The fleet's own rules may open or resolve alerts meanwhile:
    # the card is held to the API's count at each step, not to a number fixed before.)
    response = admin_api.post("/alert", json={"message": "Layout check: one more"})
    assert response.status_code == 202, response.text
    extra = response.json()["alert_id"]
    try:
        expect_alerts_card_as_counted(page, admin_api)
    finally:
        acked = admin_api.post(f"/api/v1/alerts/{extra}/ack", json={})
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "resolved", acked.json()
    expect_alerts_card_as_counted(page, admin_api)
    screenshot("alerts card")

    # The pair table: completed attempts as the success denominator, latencies in seconds.
    table = page.get_by_test_id("pairs-metrics")
    expect(table.locator("thead")).to_contain_text("Completed")
    for cell in table.locator("[data-testid^='pair-p95-']").all_inner_texts():
        assert cell == "—" or cell.endswith(" s"), cell

    # Sorting: by pair key, then the other way round, then back to the default order.
    def keys() -> list[tuple[str | int, ...]]:
        rows = table.locator("tbody tr").evaluate_all(
            "rows => rows.map(row => row.dataset.testid.replace('pair-row-', ''))"
        )
        return [natural(str(key)) for key in rows]

    assert len(keys()) >= 3, keys()
    expect_sorts_by(page.get_by_test_id("sort-pair"), keys)
    page.get_by_test_id("sort-pair").get_by_role("button").click()
    screenshot("sorted by pair")

    # The card leads to the Alerts page.
    page.get_by_test_id("kpi-open-alerts-card").click()
    expect(page).to_have_url(f"{control_plane.url}/alerts")
    expect(page.get_by_test_id("alerts-page")).to_be_visible()


def test_no_polling_while_live_and_one_banner_offline(
    page: Page, control_plane: ControlPlane, screenshot: Screenshot
) -> None:
    open_logged_in(page, "/", control_plane.admin_password)
    expect(page.get_by_test_id("kpi-granted-per-minute")).to_be_visible()
    asked = metrics_requests(page)
    expect_no_polling_while_live(page, asked)
    expect_one_banner_offline(page, asked, screenshot)


@VIEWPORTS
def test_toasts_sit_bottom_left_clear_of_the_acknowledge_buttons(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    firing_alerts: list[str],
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    open_logged_in(page, "/alerts", control_plane.admin_password, viewport=viewport)
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-status", "connected")
    acknowledge = page.get_by_test_id("alert-acknowledge")
    expect(acknowledge.first).to_be_visible()

    toasts = page.get_by_test_id("alert-toasts").get_by_test_id("toast")
    with ExitStack() as raised:
        for message in TOAST_ALERTS:
            # Each toast looked for as soon as its alert fires: the stack shows the newest
            # three, and other alerts of the shared fleet (a session given up) may come.
            raised.enter_context(raised_alerts(admin_api, [message]))
            expect(toasts.filter(has_text=message)).to_be_visible()
            row = page.get_by_test_id("alert-row").filter(has_text=message)
            expect(row.get_by_test_id("alert-acknowledge")).to_be_visible()
        screenshot(f"toasts {viewport['width']}x{viewport['height']}")

        region = page.get_by_test_id("toast-region").bounding_box()
        assert region is not None
        left = TOAST_INSET if viewport["width"] < 1024 else SIDEBAR_WIDTH + TOAST_INSET
        assert region["x"] == pytest.approx(left, abs=1), region
        bottom = region["y"] + region["height"]
        assert bottom == pytest.approx(viewport["height"] - TOAST_INSET, abs=1), region
        assert region["x"] + region["width"] < viewport["width"] / 2, region

        toast_boxes = _boxes(toasts)
        sidebar = page.get_by_test_id("sidebar")
        if sidebar.is_visible():
            nav = sidebar.bounding_box()
            assert nav is not None
            assert [t for t in toast_boxes if _overlap(t, nav)] == [], (toast_boxes, nav)
        button_boxes = _boxes(acknowledge)
        assert len(toast_boxes) >= len(TOAST_ALERTS), toast_boxes
        assert len(button_boxes) >= len(MANUAL_ALERTS) + len(TOAST_ALERTS), button_boxes
        covered = [(t, b) for t in toast_boxes for b in button_boxes if _overlap(t, b)]
        assert covered == [], covered
        # Clear by their columns, not by where the page is scrolled: toasts are fixed.
        toasts_right = max(box["x"] + box["width"] for box in toast_boxes)
        assert toasts_right < min(box["x"] for box in button_boxes), (toast_boxes, button_boxes)
