"""The Audit page in a real browser: an admin finds a change they made through the API,
by whom and what, sees a new one come live, narrows the log to its action and a time
range (kept in the address) and opens its before and after; a viewer has no Audit in
the menu and is refused the page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Locator, Page, Request, expect

from tests.support.e2e import ControlPlane, open_logged_in

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]
AUDITED_USER = "e2e-audited"


def _entries(page: Page, action: str, target: str | None = None) -> Locator:
    """The log's rows of `action` (on `target`, when given)."""
    on_target = "" if target is None else f'[data-target="{target}"]'
    return page.locator(f'[data-testid="audit-row"][data-action="{action}"]{on_target}')


def test_an_admin_reads_a_change_filters_by_its_action_and_opens_its_before_and_after(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    make_user: Callable[[str, str], str],
    screenshot: Screenshot,
) -> None:
    # Audited changes: a user added, then their role changed (before and after differ).
    make_user(AUDITED_USER, "operator")
    response = admin_api.patch(f"/api/v1/users/{AUDITED_USER}", json={"role": "viewer"})
    assert response.status_code == 200, response.text

    open_logged_in(page, "/", control_plane.admin_password)
    page.get_by_test_id("nav-audit").click()
    expect(page).to_have_url(f"{control_plane.url}/audit")
    rows = page.get_by_test_id("audit-row")
    updated = _entries(page, "user.updated", AUDITED_USER)
    expect(updated).to_have_count(1)
    expect(updated.get_by_test_id("audit-actor")).to_have_text("admin")
    expect(updated.get_by_test_id("audit-action")).to_have_text("user.updated")
    expect(updated.get_by_test_id("audit-when")).to_contain_text("UTC")
    # Newest first: the role change above the user's creation.
    entries = rows.evaluate_all(
        "rows => rows.map(row => `${row.dataset.action} ${row.dataset.target}`)"
    )
    assert entries.index(f"user.updated {AUDITED_USER}") < entries.index(
        f"user.created {AUDITED_USER}"
    )
    screenshot("audit log")
    # An entry made while the page is open shows on it, told by the live connection.
    make_user(f"{AUDITED_USER}-live", "viewer")
    expect(_entries(page, "user.created", f"{AUDITED_USER}-live")).to_have_count(1)

    # A pair the fleet was seeded with, found by its target (the other tests' changes may
    # have pushed it past the first page): every field after, lists (its test numbers)
    # among them.
    page.get_by_test_id("filter-target").fill("IN_vi")
    page.get_by_test_id("audit-filter").click()
    expect(page).to_have_url(f"{control_plane.url}/audit?target=IN_vi")
    expect(page.locator('[data-testid="audit-row"]:not([data-target="IN_vi"])')).to_have_count(0)
    created_pair = _entries(page, "pair.created", "IN_vi").last  # its first creation
    created_pair.get_by_test_id("audit-changes-toggle").click()
    numbers = page.locator('[data-testid="audit-change"][data-field="phone_numbers"]')
    expect(numbers.get_by_test_id("audit-change-before")).to_have_text("—")
    expect(numbers.get_by_test_id("audit-change-after")).to_contain_text("+919812345678")
    screenshot("a pair created")
    created_pair.get_by_test_id("audit-changes-toggle").click()
    expect(numbers).to_have_count(0)
    page.get_by_test_id("audit-clear-filters").click()
    expect(page).to_have_url(f"{control_plane.url}/audit")

    # Filter by the action: only its entries, and the filter is in the address.
    page.get_by_test_id("filter-action").select_option("user.updated")
    expect(page).to_have_url(f"{control_plane.url}/audit?action=user.updated")
    expect(_entries(page, "pair.created")).to_have_count(0)
    expect(updated).to_have_count(1)
    for action in rows.evaluate_all("rows => rows.map(row => row.dataset.action)"):
        assert action == "user.updated"

    # Its before and after: the role, from operator to viewer.
    updated.get_by_test_id("audit-changes-toggle").click()
    role = page.locator('[data-testid="audit-change"][data-field="role"]')
    expect(role.get_by_test_id("audit-change-before")).to_have_text("operator")
    expect(role.get_by_test_id("audit-change-after")).to_have_text("viewer")
    screenshot("before and after")

    # A time range, in UTC minutes as the page shows times: from the minute after the
    # change, it is not listed; before that minute, it is.
    change = admin_api.get(
        "/api/v1/audit", params={"action": "user.updated", "target": AUDITED_USER}
    ).json()[0]
    changed_at = datetime.fromisoformat(change["at"]).astimezone(UTC)
    next_minute = (changed_at.replace(second=0, microsecond=0) + timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    page.get_by_test_id("filter-since").fill(next_minute)
    query = urlencode({"action": "user.updated", "since": next_minute})
    expect(page).to_have_url(f"{control_plane.url}/audit?{query}")
    expect(page.get_by_test_id("audit-empty")).to_be_visible()
    page.get_by_test_id("filter-since").fill("")
    page.get_by_test_id("filter-until").fill(next_minute)
    query = urlencode({"action": "user.updated", "until": next_minute})
    expect(page).to_have_url(f"{control_plane.url}/audit?{query}")
    expect(updated).to_have_count(1)
    # A range that ends before it starts is said in the form's words, not asked of the log.
    page.get_by_test_id("filter-since").fill(next_minute)
    expect(page.get_by_test_id("audit-range-problem")).to_contain_text(
        "“Before” must be later than “From”"
    )
    page.get_by_test_id("filter-since").fill("")
    expect(updated).to_have_count(1)

    # The filters survive a reload, and a filter that matches nothing says so.
    page.reload()
    expect(page.get_by_test_id("filter-action")).to_have_value("user.updated")
    expect(page.get_by_test_id("filter-until")).to_have_value(next_minute)
    page.get_by_test_id("filter-actor").fill("nobody-did-this")
    page.get_by_test_id("audit-filter").click()
    expect(page.get_by_test_id("audit-empty")).to_have_text("No audit entries match these filters.")


def test_a_viewer_has_no_audit_page(
    page: Page,
    control_plane: ControlPlane,
    make_user: Callable[[str, str], str],
    screenshot: Screenshot,
) -> None:
    password = make_user("e2e-audit-viewer", "viewer")
    audit_calls: list[str] = []

    def note_audit_call(request: Request) -> None:
        if "/api/v1/audit" in request.url:
            audit_calls.append(request.url)

    page.on("request", note_audit_call)
    open_logged_in(page, "/audit", password, username="e2e-audit-viewer")
    expect(page.get_by_test_id("audit-not-admin")).to_contain_text(
        "Only admins read the audit log."
    )
    expect(page.get_by_test_id("audit-table")).to_have_count(0)
    expect(page.get_by_test_id("nav-pairs")).to_be_visible()
    expect(page.get_by_test_id("nav-audit")).to_have_count(0)
    assert audit_calls == []
    screenshot("not an admin")


def test_what_changed_is_named_and_stays_in_its_column(
    page: Page, control_plane: ControlPlane, admin_api: httpx.Client
) -> None:
    """ "paused → enabled · 5 fields" ran over the time beside it at 1,280 and 1,920 px;
    a priority's change read "2 fields" (its `updated_at` with it); the reason's column
    was left a few letters wide."""
    made = admin_api.post("/api/v1/pairs", json={"country": "KG", "operator": "Beeline"})
    assert made.status_code == 201, made.text
    try:
        marked = admin_api.patch("/api/v1/pairs/KG_beeline", json={"is_high_priority": True})
        assert marked.status_code == 200, marked.text
        paused = admin_api.patch(
            "/api/v1/pairs/KG_beeline",
            params={"force": True},
            json={"state": "paused", "state_reason": "e2e"},
        )
        assert paused.status_code == 200, paused.text
        open_logged_in(
            page,
            "/audit?target=KG_beeline&action=pair.updated",
            control_plane.admin_password,
            viewport={"width": 1280, "height": 800},
        )
        entries = _entries(page, "pair.updated", "KG_beeline")
        expect(entries).to_have_count(2)
        for entry, label in zip(
            entries.all(),
            ("enabled → paused · 1 more", "is_high_priority: false → true"),
            strict=True,
        ):
            toggle = entry.get_by_test_id("audit-changes-toggle")
            expect(toggle).to_have_text(f"▸ {label}")
            button, when = toggle.bounding_box(), entry.get_by_test_id("audit-when").bounding_box()
            assert button is not None and when is not None
            assert button["x"] + button["width"] <= when["x"] + 1, (label, button, when)
            # The reason's words whole: its column was left a few letters wide at 1,280.
            reason = entry.get_by_test_id("audit-reason").bounding_box()
            assert reason is not None and reason["width"] >= 220, reason
    finally:
        admin_api.delete("/api/v1/pairs/KG_beeline")
