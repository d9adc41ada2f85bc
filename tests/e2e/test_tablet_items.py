"""The dashboard, logs, conversation and connection checks at a tablet's width (820x1180),
in one walk with data of its own: the long tests of those pages run at the desktop's.

- The dashboard's KPIs, cap chart and pair table equal the API's for a seeded data set
  (one range); the alerts card counts the alerts firing and leads to /alerts.
- While live the dashboard does not poll; offline, one banner and the badge says Offline.
- A session's Logs button opens its drawer: search highlights, pause holds the lines,
  download gives `<session>.log`.
- A number's conversation reads newest first with the text and loads the older messages.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.e2e import (
    COUNTER_SOURCE,
    TABLET,
    ControlPlane,
    Screenshot,
    dashboard_workers,
    expect_alerts_card_as_counted,
    expect_cap_chart_matches_api,
    expect_no_polling_while_live,
    expect_numbers_match_api,
    expect_one_banner_offline,
    expect_thread_newest_first,
    line_numbers,
    log_lines,
    metrics_requests,
    open_logged_in,
    open_logs,
    raised_alerts,
    record_data_set,
    record_thread,
    running_session,
)

pytestmark = pytest.mark.e2e

ALERT = "Tablet check: gateway slow"
PHONE = "+995555765432"


def test_dashboard_logs_conversation_and_connection_at_a_tablet_width(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    page.set_viewport_size(TABLET)
    with (
        dashboard_workers(control_plane, admin_api) as workers,
        raised_alerts(admin_api, [ALERT]),
        running_session(admin_api, control_plane, "tabletlog", "Tele2", COUNTER_SOURCE) as name,
    ):
        # The dashboard: its numbers are the API's, the alerts card the alerts firing.
        record_data_set(workers)
        open_logged_in(page, "/", control_plane.admin_password)
        expect(page.get_by_test_id("menu-button")).to_be_visible()  # the tablet's layout
        expect(page.get_by_test_id("dashboard-page")).to_have_attribute("data-range", "1h")
        expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-status", "connected")
        expect_numbers_match_api(page, admin_api, "1h")
        expect_cap_chart_matches_api(page, admin_api)
        expect_alerts_card_as_counted(page, admin_api)
        screenshot("dashboard")

        # Live, it does not poll; offline, one banner and the badge says so.
        asked = metrics_requests(page)
        expect_no_polling_while_live(page, asked)
        expect_one_banner_offline(page, asked, screenshot)
        page.get_by_test_id("kpi-open-alerts-card").click()
        expect(page).to_have_url(f"{control_plane.url}/alerts")
        expect(page.get_by_test_id("alert-row").filter(has_text=ALERT)).to_be_visible()

        # A session's log: its Logs button, search, pause, download.
        page.goto("/programs")
        drawer = open_logs(page, name)
        toggle = drawer.get_by_test_id("log-pause")
        toggle.click()
        expect(toggle).to_have_text("Follow")
        every = log_lines(drawer)
        expect(drawer.get_by_test_id("log-held")).to_have_text(re.compile(r" new lines? held$"))
        assert log_lines(drawer) == every
        alpha = [line for line in every if "ALPHA" in line]
        drawer.get_by_test_id("log-search").fill("alpha")
        expect(drawer.get_by_test_id("log-match-count")).to_have_text(
            f"{len(alpha)} of {len(every)} lines"
        )
        expect(drawer.get_by_test_id("log-lines").locator("mark")).to_have_count(len(alpha))
        screenshot("log drawer")
        with page.expect_download() as info:
            drawer.get_by_test_id("log-download").click()
        assert info.value.suggested_filename == f"{name}.log"
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        # The drawer shows each line's time local and 24-hour; the file keeps the ISO stamps.
        assert set(line_numbers(every)) <= set(line_numbers(saved.read_text().splitlines()))

    # A number's conversation: newest first, with the text, older ones on demand.
    record_thread(admin_api, PHONE)
    page.goto("/messages")
    expect(page.get_by_test_id("messages-page")).to_be_visible()
    expect_thread_newest_first(page, PHONE, screenshot)
