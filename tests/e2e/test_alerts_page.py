"""The Alerts page in a real browser: a crashing session alerts live, is acknowledged, resolves."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_programs_page import log_in
from tests.support.e2e import ControlPlane

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]

# Exits with an error half a second after it starts: before it counts as started.
CRASHER_SOURCE = "import sys, time\ntime.sleep(0.5)\nprint('no route to gateway')\nsys.exit(3)"
PROGRAM = "crasher"
PAIR = "AM_ucom"
SESSION = f"{PROGRAM}_{PAIR}"
ALERT_TIMEOUT_MS = 15_000


@pytest.fixture
def crashing_pair(admin_api: httpx.Client, control_plane: ControlPlane) -> Iterator[str]:
    program = admin_api.post(
        "/api/v1/programs",
        json={"name": PROGRAM, "command": control_plane.install("crasher", CRASHER_SOURCE)},
    )
    assert program.status_code == 201, program.text
    pair = admin_api.post(
        "/api/v1/pairs",
        json={"country": "AM", "operator": "Ucom", "slug": "ucom", "programs": [PROGRAM]},
    )
    assert pair.status_code == 201, pair.text
    deadline = time.monotonic() + 10
    while admin_api.get(f"/api/v1/sessions/{SESSION}").status_code != 200:
        assert time.monotonic() < deadline, "the supervisor made no session for the pair"
        time.sleep(0.2)
    try:
        yield SESSION
    finally:
        admin_api.post(f"/api/v1/sessions/{SESSION}/stop", json={"reason": "e2e cleanup"})
        admin_api.delete(f"/api/v1/pairs/{PAIR}", params={"force": True})
        admin_api.delete(f"/api/v1/programs/{PROGRAM}")


def test_a_crash_alerts_live_is_acknowledged_and_resolves(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    crashing_pair: str,
    screenshot: Screenshot,
) -> None:
    page.goto("/alerts")
    log_in(page, control_plane.admin_password)
    expect(page.get_by_test_id("alerts-page")).to_be_visible()
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-status", "connected")
    expect(page.get_by_test_id("telegram-status")).to_contain_text("not configured")

    # The session crashes: a toast and a row appear without a reload.
    started = admin_api.post(f"/api/v1/sessions/{crashing_pair}/start", json={"reason": "e2e"})
    assert started.status_code == 200, started.text
    toast = page.get_by_test_id("alert-toasts").get_by_test_id("toast")
    expect(
        toast.filter(has_text=f"WARNING · Session crashed: {crashing_pair} exited with code 3")
    ).to_be_visible(timeout=ALERT_TIMEOUT_MS)
    row = page.locator("[data-testid='alert-row'][data-rule='session_crashed']").filter(
        has_text=crashing_pair
    )
    expect(row).to_be_visible()
    expect(row.get_by_test_id("alert-severity")).to_have_text("warning")
    expect(row.get_by_test_id("alert-state")).to_contain_text("firing")
    expect(page.get_by_test_id("alerts-counts")).not_to_have_text("0 firing", timeout=5000)
    screenshot("crash alert")

    # Filters: the warning is not among the critical ones; it is among the crashes.
    page.get_by_test_id("filter-severity").select_option("critical")
    expect(row).to_have_count(0)
    page.get_by_test_id("filter-severity").select_option("")
    page.get_by_test_id("filter-rule").select_option("session_crashed")
    expect(row).to_be_visible()
    assert "rule=session_crashed" in page.url

    # Acknowledged from the page.
    row.get_by_test_id("alert-acknowledge").click()
    expect(row.get_by_test_id("alert-ack")).to_have_text("by admin")
    expect(page.get_by_test_id("alerts-notice")).to_contain_text("Acknowledged")

    # Stopped by a person: the crash alert resolves and leaves the open view.
    stopped = admin_api.post(f"/api/v1/sessions/{crashing_pair}/stop", json={"reason": "e2e"})
    assert stopped.status_code == 200, stopped.text
    expect(toast.filter(has_text=f"Resolved: Session crashed · {crashing_pair}")).to_be_visible(
        timeout=ALERT_TIMEOUT_MS
    )
    expect(row).to_have_count(0)
    page.get_by_test_id("alerts-view-history").click()
    expect(row.first.get_by_test_id("alert-state")).to_contain_text("resolved after")
    expect(
        page.get_by_test_id("decisions-table").or_(page.get_by_text("has not paused"))
    ).to_be_visible()
    screenshot("alert history")
