"""The Messages page in a real browser: an on-demand send, cancel and retry; a number's thread;
the sends table sorts by the clicked column."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.support.e2e import (
    VIEWPORTS,
    ControlPlane,
    expect_sorts_by,
    expect_thread_newest_first,
    natural,
    open_logged_in,
    record_thread,
)
from tests.support.waiting import eventually
from tests.support.workers import worker_for

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]
PAIR = "GE_magti"
PHONE = "+995555123456"  # a Georgian number: the send waits for GE_magti's program
# Sent in this order: by phone they read 401, 402, 403.
TEST_NUMBER = "+995555999000"  # the pairs' own: sends go to other numbers
SLEEPER = "sleeper_GE_silknet"
SORT_PHONES = ["+995555000403", "+995555000401", "+995555000402"]


@pytest.fixture
def georgian_pair(admin_api: httpx.Client, control_plane: ControlPlane) -> Iterator[str]:
    """A pair whose program runs but never asks for work: its sends stay pending until
    acted on."""
    never_asks = "import time\n\ntime.sleep(3600)\n"
    program = admin_api.post(
        "/api/v1/programs",
        json={"name": "idle", "command": control_plane.install("idle", never_asks)},
    )
    assert program.status_code == 201, program.text
    pair = admin_api.post(
        "/api/v1/pairs",
        json={
            "country": "GE",
            "operator": "Magti",
            "slug": "magti",
            "phone_numbers": [TEST_NUMBER],
            "programs": ["idle"],
            "start_sessions": True,
        },
    )
    assert pair.status_code == 201, pair.text
    template = admin_api.post(
        "/api/v1/messages/templates",
        json={"id": "e2e-otp", "name": "E2E code", "body": "Your code is {token}"},
    )
    assert template.status_code == 201, template.text
    try:
        yield PAIR
    finally:
        admin_api.delete("/api/v1/messages/templates/e2e-otp")
        admin_api.delete(f"/api/v1/pairs/{PAIR}", params={"force": True})
        admin_api.delete("/api/v1/programs/idle")


def test_send_cancel_retry_and_a_numbers_thread(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    georgian_pair: str,
    screenshot: Screenshot,
) -> None:
    open_logged_in(
        page, "/messages", control_plane.admin_password, viewport={"width": 1280, "height": 800}
    )
    expect(page.get_by_test_id("messages-page")).to_be_visible()
    # The view switch is drawn as the dashboard's is, not as the browser's own buttons.
    switch = page.locator(".segmented__item").first
    assert switch.evaluate("e => getComputedStyle(e).borderTopStyle") == "none"
    assert switch.evaluate("e => getComputedStyle(e).fontFamily") == page.evaluate(
        "getComputedStyle(document.body).fontFamily"
    )

    page.get_by_test_id("new-send").click()
    dialog = page.get_by_test_id("new-send-dialog")
    dialog.get_by_test_id("send-phone").fill(PHONE)
    dialog.get_by_test_id("send-template").select_option("e2e-otp")
    # Each value is asked for by name, beside the text it fills.
    expect(dialog.get_by_test_id("send-template-text")).to_have_text("Your code is {token}")
    expect(dialog.get_by_test_id("send-param-token-hint")).to_have_text(
        "Fills {token} in the template's text."
    )
    dialog.get_by_label("token", exact=True).fill("4242")
    dialog.get_by_test_id("new-send-submit").click()
    expect(dialog).to_have_count(0)
    row = page.get_by_test_id("send-row").filter(has_text=PHONE)
    expect(row.get_by_test_id("send-status")).to_have_text("PENDING")
    # Why it waits, in its row: no program of its pair has asked for work yet.
    expect(row.get_by_test_id("send-waiting")).to_contain_text(
        f"for idle of {georgian_pair} to ask for work"
    )
    # Why it waits reads across its cell at a laptop's width, not six lines down it.
    reason = row.get_by_test_id("send-waiting").bounding_box()
    assert reason is not None and reason["width"] >= 200, reason
    detail = page.get_by_test_id("send-detail")
    expect(detail).to_contain_text("idle (next)")
    expect(detail).to_contain_text("none yet: idle takes it at its next lease")
    expect(detail.get_by_text("e2e-otp", exact=True)).to_be_visible()
    expect(detail.get_by_text("token = 4242", exact=True)).to_be_visible()
    screenshot("pending send")

    detail.get_by_test_id("cancel-send").click()
    expect(row.get_by_test_id("send-status")).to_have_text("CANCELLED")
    page.get_by_test_id("filter-send-status").select_option("PENDING")
    expect(row).to_have_count(0)
    page.get_by_test_id("filter-send-status").select_option("CANCELLED")
    row.click()
    page.get_by_test_id("retry-send").click()
    page.get_by_test_id("filter-send-status").select_option("")
    expect(row.first.get_by_test_id("send-status")).to_have_text("PENDING")

    record_thread(admin_api, PHONE)
    expect_thread_newest_first(page, PHONE, screenshot)


@pytest.fixture
def running_pair(admin_api: httpx.Client, control_plane: ControlPlane) -> Iterator[str]:
    """A Georgian pair whose session runs a program that never asks for work: the test
    leases and reports for it with its worker token."""
    program = admin_api.post(
        "/api/v1/programs",
        json={
            "name": "sleeper",
            "command": control_plane.install("sleeper", "import time\ntime.sleep(600)\n"),
        },
    )
    assert program.status_code == 201, program.text
    pair = admin_api.post(
        "/api/v1/pairs",
        json={
            "country": "GE",
            "operator": "Silknet",
            "slug": "silknet",
            "phone_numbers": [TEST_NUMBER],
            "programs": ["sleeper"],
            "start_sessions": True,
        },
    )
    assert pair.status_code == 201, pair.text
    try:
        eventually(
            lambda: admin_api.get(f"/api/v1/sessions/{SLEEPER}").json()["state"] == "running",
            15,
            f"{SLEEPER} to run",
        )
        yield SLEEPER
    finally:
        admin_api.delete("/api/v1/pairs/GE_silknet", params={"force": True})
        eventually(
            lambda: admin_api.get(f"/api/v1/sessions/{SLEEPER}").status_code == 404,
            15,
            f"{SLEEPER} to be gone",
        )
        admin_api.delete("/api/v1/programs/sleeper")


def test_a_retry_of_a_send_whose_sms_went_out_asks_first(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    running_pair: str,
    screenshot: Screenshot,
) -> None:
    """Its SMS reached the gateway and was not delivered: a retry would send the number a
    second one, so the page says so and asks before it sends again."""
    sent = admin_api.post(
        "/api/v1/messages/send", json={"phone": PHONE, "text": "once", "pair": "GE_silknet"}
    )
    assert sent.status_code == 202, sent.text
    send_id = sent.json()["id"]
    with httpx.Client(base_url=control_plane.url, timeout=10.0) as client:
        worker = worker_for(control_plane, client, running_pair)
        lease = worker.lease()
        assert lease["phone"] == PHONE
        worker.report(lease["trigger_id"], "not_delivered")
    failed = admin_api.get(f"/api/v1/messages/sends/{send_id}").json()
    assert (failed["status"], failed["sent_at"] is not None) == ("FAILED", True)

    open_logged_in(page, "/messages", control_plane.admin_password)
    page.locator(f"[data-send-id='{send_id}']").click()
    detail = page.get_by_test_id("send-detail")
    expect(detail).to_contain_text("Reached the gateway")
    detail.get_by_test_id("retry-send").click()
    dialog = page.get_by_test_id("retry-sent-dialog")
    expect(dialog.get_by_test_id("retry-sent-warning")).to_have_text(
        re.compile(
            r"An SMS of this send reached the gateway at .+: "
            + re.escape(
                f"{PHONE} may already have it. Sent again, it goes through the programs of"
                " GE_silknet in order until one delivers: up to one more SMS per program."
            )
        )
    )
    screenshot("retry of a sent send")
    # Cancelled: nothing is sent again.
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert admin_api.get(f"/api/v1/messages/sends/{send_id}").json()["status"] == "FAILED"
    detail.get_by_test_id("retry-send").click()
    dialog.get_by_test_id("confirm-button").click()
    expect(dialog).to_have_count(0)
    expect(detail.get_by_test_id("send-detail-status")).to_have_text("PENDING")


@VIEWPORTS
def test_sends_sort_by_the_clicked_column(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    georgian_pair: str,
    viewport: ViewportSize,
) -> None:
    page.set_viewport_size(viewport)
    ids = []
    for phone in SORT_PHONES:
        sent = admin_api.post("/api/v1/messages/send", json={"phone": phone, "text": "sort check"})
        assert sent.status_code == 202, sent.text
        ids.append(sent.json()["id"])
    try:
        open_logged_in(page, "/messages", control_plane.admin_password)
        table = page.get_by_test_id("sends-table")
        for send_id in ids:
            expect(table.locator(f"[data-send-id='{send_id}']")).to_be_visible()

        def phones() -> list[tuple[str | int, ...]]:
            """The phones of the sends made here, in the order shown."""
            rows = table.get_by_test_id("send-row").evaluate_all(
                "rows => rows.map(row =>"
                " [row.dataset.sendId, row.querySelector('code').textContent])"
            )
            return [natural(str(phone)) for send_id, phone in rows if send_id in ids]

        expect_sorts_by(table.get_by_test_id("sort-phone"), phones)
    finally:
        for send_id in ids:
            admin_api.post(f"/api/v1/messages/sends/{send_id}/cancel")
