"""The Developer page in a real browser: a key is created and shown once, used, counted, revoked;
its tables (API keys, search jobs, usage by key) sort by the clicked column."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.support.e2e import (
    DESKTOP,
    LAPTOP,
    VIEWPORTS,
    ControlPlane,
    expect_sorts_by,
    natural,
    open_logged_in,
)

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]
KEY_NAME = "nightly report"
# Made in this order, each used as many times as its number: by name they read alpha,
# bravo, charlie; by requests 3, 2, 1.
SORT_KEYS = {"sort check charlie": 1, "sort check alpha": 3, "sort check bravo": 2}
SORT_QUERIES = ["sortcheck-charlie", "sortcheck-alpha", "sortcheck-bravo"]


def format_ms(ms: float | None) -> str:
    """A latency as the page shows it: whole milliseconds rounded half up, `1,234 ms`."""
    return "—" if ms is None else f"{math.floor(ms + 0.5):,} ms"


@VIEWPORTS
def test_create_use_and_revoke_an_api_key(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    open_logged_in(page, "/developer", control_plane.admin_password, viewport=viewport)
    expect(page.get_by_test_id("developer-page")).to_be_visible()
    # The API's own description, served by the control plane.
    expect(page.get_by_role("link", name="/docs")).to_have_attribute("href", "/docs")

    page.get_by_test_id("create-key").click()
    dialog = page.get_by_test_id("create-key-dialog")
    dialog.get_by_test_id("key-name").fill(KEY_NAME)
    dialog.get_by_test_id("create-key-submit").click()
    shown = page.get_by_test_id("new-key")
    expect(shown).to_have_text(re.compile(r"^sfk_[0-9a-f]{8}_\S{40,}$"))
    key = shown.inner_text()
    screenshot("key shown once")
    page.get_by_test_id("key-created-done").click()
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    # Its row by the prefix that stays on screen (an earlier run's key may bear its name).
    row = page.get_by_test_id("key-row").filter(has_text=key[:13])
    expect(row).to_be_visible()
    assert key not in page.content()  # only the prefix stays on screen
    expect(row).to_contain_text(KEY_NAME)
    # No cell covers another on a laptop's screen or wider: a table wider than its card
    # scrolled under its pinned Revoke, which covered the time beside it ("14:58:57 U").
    # (Narrower, the table scrolls under its pinned actions, as every table does.) The
    # desktop's run and the laptop's size, the tablet's run having nothing to add.
    for size in (DESKTOP, LAPTOP) if viewport == DESKTOP else ():
        page.set_viewport_size(size)
        edges = row.locator("td").evaluate_all(
            "cells => cells.map(cell => [cell.getBoundingClientRect().left,"
            " cell.getBoundingClientRect().right])"
        )
        overlaps = [(a, b) for a, b in itertools.pairwise(edges) if a[1] > b[0] + 1]
        assert overlaps == [], (size, overlaps)
    page.set_viewport_size(viewport)

    # Used by a program: its requests are logged and show in the usage of the key.
    with httpx.Client(base_url=control_plane.url, headers={"X-API-Key": key}) as client:
        for _ in range(3):
            assert client.get("/api/v1/pairs").status_code == 200
    key_id = key.split("_")[1]
    page.wait_for_timeout(1500)  # the request log is written every second
    page.get_by_test_id("usage-key").select_option(key_id)
    expect(page.get_by_test_id("usage-requests")).to_have_text("3")
    expect(page.get_by_test_id("usage-error-rate")).to_have_text("0.0%")
    # Percentiles are the API's estimates, not bucket edges ("≤ 250 ms").
    usage = admin_api.get("/api/v1/analytics/usage", params={"api_key_id": key_id})
    assert usage.status_code == 200, usage.text
    assert usage.json()["requests"] == 3
    p95 = usage.json()["latency_p95_ms"]
    assert p95 is not None
    expect(page.get_by_test_id("usage-p95")).to_have_text(format_ms(p95))
    # The exports are buttons as wide as their labels, not boxes as wide as form fields.
    for export in ("export-csv", "export-json"):
        assert _slack(page.get_by_test_id(export)) < 2, export
    screenshot("usage of the key")

    row.get_by_test_id("revoke-key").click()
    page.get_by_test_id("revoke-key-dialog").get_by_test_id("confirm-button").click()
    expect(row.get_by_test_id("key-status")).to_have_text("revoked")
    refused = httpx.get(f"{control_plane.url}/api/v1/pairs", headers={"X-API-Key": key})
    assert refused.status_code == 401


def _slack(button: Locator) -> float:
    """The room a button leaves beside its label, in pixels: none when sized to it."""
    return float(
        button.evaluate(
            """button => {
                const label = document.createRange();
                label.selectNodeContents(button);
                const style = getComputedStyle(button);
                const frame = ["paddingLeft", "paddingRight", "borderLeftWidth", "borderRightWidth"]
                    .reduce((sum, side) => sum + parseFloat(style[side]), 0);
                const width = button.getBoundingClientRect().width;
                return width - label.getBoundingClientRect().width - frame;
            }"""
        )
    )


def test_a_search_job_runs_live_and_shows_its_matches(
    page: Page, control_plane: ControlPlane, admin_api: httpx.Client, screenshot: Screenshot
) -> None:
    message = {
        "senderPhone": "+998909998877",
        "receiverPhone": "+998901000000",
        "messageText": "verification code 90125",
        "timestamp": "2026-01-05T10:00:00Z",
        "uuid": "6f1b0f55-7bb8-4a7e-9a43-7d2bb1ee1234",
    }
    assert admin_api.post("/api/receive-sms", json=message).status_code == 200
    open_logged_in(page, "/developer", control_plane.admin_password)
    panel = page.get_by_test_id("jobs-panel")
    breaker = panel.get_by_test_id("breaker-search")
    # In plain words; the breaker's own word for it stays in the tooltip.
    expect(breaker).to_have_text("search: working")
    expect(breaker).to_have_attribute("data-state", "closed")
    expect(breaker).to_have_attribute("title", re.compile(r"circuit breaker: closed"))
    page.wait_for_timeout(1500)  # the control plane indexes every second
    panel.get_by_test_id("job-query").fill("90125")
    panel.get_by_test_id("job-algorithm").select_option("exact")
    panel.get_by_test_id("job-submit").click()
    row = panel.get_by_test_id("job-row").filter(has_text="90125")
    expect(row.get_by_test_id("job-status")).to_have_text("done")
    expect(page.get_by_test_id("job-toasts")).to_contain_text("Search “90125”: found 1")
    row.get_by_test_id("job-open").click()
    expect(page.get_by_test_id("job-match")).to_contain_text("+998909998877")
    screenshot("search results")


@pytest.fixture
def used_keys(admin_api: httpx.Client, control_plane: ControlPlane) -> Iterator[list[str]]:
    """The ids of `SORT_KEYS`, each used as many times as its number; revoked afterwards."""
    ids = []
    try:
        for name, uses in SORT_KEYS.items():
            created = admin_api.post("/api/v1/auth/api-keys", json={"name": name})
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
            headers = {"X-API-Key": created.json()["key"]}
            with httpx.Client(base_url=control_plane.url, headers=headers) as client:
                for _ in range(uses):
                    assert client.get("/api/v1/pairs").status_code == 200
        yield ids
    finally:
        for key_id in ids:
            admin_api.delete(f"/api/v1/auth/api-keys/{key_id}")


def _ours(table: Locator, row_id: str, ids: list[str], selector: str) -> list[str]:
    """The text in `selector` of the rows whose `data-<row_id>` is one of `ids`, in the order
    shown; the page's other rows are left out."""
    found = table.locator("tbody tr").evaluate_all(
        """(rows, [attribute, selector]) => rows.map(row =>
            [row.getAttribute(attribute), row.querySelector(selector)?.textContent ?? ""])""",
        [f"data-{row_id}", selector],
    )
    return [str(text) for row, text in found if row in ids]


@VIEWPORTS
def test_keys_jobs_and_usage_by_key_sort_by_the_clicked_column(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    used_keys: list[str],
    viewport: ViewportSize,
) -> None:
    page.set_viewport_size(viewport)
    jobs = []
    for query in SORT_QUERIES:
        job = admin_api.post("/api/v1/search/jobs", json={"query": query})
        assert job.status_code == 202, job.text
        jobs.append(job.json()["id"])
    page.wait_for_timeout(1500)  # the request log is written every second
    open_logged_in(page, "/developer", control_plane.admin_password)

    keys = page.get_by_test_id("keys-table")
    for key_id in used_keys:
        expect(keys.locator(f"[data-key-id='{key_id}']")).to_be_visible()
    expect_sorts_by(
        keys.get_by_test_id("sort-name"),
        lambda: [natural(name) for name in _ours(keys, "key-id", used_keys, "td")],
    )

    job_table = page.get_by_test_id("jobs-table")
    for job_id in jobs:
        expect(job_table.locator(f"[data-job-id='{job_id}']")).to_be_visible()
    expect_sorts_by(
        job_table.get_by_test_id("sort-query"),
        lambda: [natural(query) for query in _ours(job_table, "job-id", jobs, "code")],
    )

    usage = page.get_by_test_id("usage-keys-table")
    for key_id in used_keys:
        expect(usage.locator(f"[data-key-id='{key_id}']")).to_be_visible()

    def requests() -> list[int]:
        cells = _ours(usage, "key-id", used_keys, "td:nth-child(3)")
        return [int(text.replace(",", "")) for text in cells]

    assert sorted(requests()) == sorted(SORT_KEYS.values()), requests()
    expect_sorts_by(usage.get_by_test_id("sort-requests"), requests)


def test_a_viewer_is_offered_read_keys_only(
    page: Page, control_plane: ControlPlane, make_user: Callable[[str, str], str]
) -> None:
    password = make_user("e2e-key-viewer", "viewer")
    open_logged_in(page, "/developer", password, username="e2e-key-viewer")
    page.get_by_test_id("create-key").click()
    dialog = page.get_by_test_id("create-key-dialog")
    expect(dialog.get_by_test_id("key-scope-read")).to_be_checked()
    expect(dialog.get_by_test_id("key-scope-control")).to_have_count(0)
    expect(dialog.get_by_test_id("key-scope-hint")).to_have_text(
        "Your keys can only read: control needs the operator role."
    )


def test_a_quota_that_is_not_a_whole_number_of_at_least_1_is_flagged_on_its_field(
    page: Page, control_plane: ControlPlane, admin_api: httpx.Client
) -> None:
    open_logged_in(page, "/developer", control_plane.admin_password)
    page.get_by_test_id("create-key").click()
    dialog = page.get_by_test_id("create-key-dialog")
    dialog.get_by_test_id("key-name").fill("e2e-bad-quota")
    dialog.get_by_test_id("key-daily").fill("0")
    dialog.get_by_test_id("create-key-submit").click()
    expect(dialog.get_by_test_id("error-key-daily")).to_have_text(
        "A daily quota is a whole number of at least 1, or empty for none."
    )
    expect(dialog.get_by_test_id("error-key-form")).to_have_count(0)
    # Emptied, it means no quota: the key is made.
    dialog.get_by_test_id("key-daily").fill("")
    expect(dialog.get_by_test_id("error-key-daily")).to_have_count(0)
    dialog.get_by_test_id("create-key-submit").click()
    shown = page.get_by_test_id("new-key")
    expect(shown).to_be_visible()
    admin_api.delete(f"/api/v1/auth/api-keys/{shown.inner_text().split('_')[1]}")
