"""The country-operator page in a real browser against the real control plane."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.e2e import (
    ControlPlane,
    at_rest,
    log_in,
    open_logged_in,
    started_session,
    wait_for,
)

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]


def test_pairs_page_add_prioritise_delete(
    page: Page, control_plane: ControlPlane, screenshot: Screenshot
) -> None:
    # An unauthenticated visit lands on the login page.
    page.goto("/pairs")
    expect(page).to_have_url(re.compile(r"/login$"))
    screenshot("login page")

    log_in(page, "not-the-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong username or password")
    screenshot("wrong password")

    # After login the app returns to the page first asked for.
    log_in(page, control_plane.admin_password)
    expect(page).to_have_url(re.compile(r"/pairs$"))
    expect(page.get_by_test_id("current-user")).to_contain_text("admin")
    expect(page.get_by_test_id("current-role")).to_have_text("admin")

    priority = page.get_by_test_id("priority-section")
    others = page.get_by_test_id("other-section")
    expect(priority.get_by_test_id("pair-row-IN_vi")).to_be_visible()
    expect(others.get_by_test_id("pair-row-UZ_uzmobile")).to_be_visible()
    expect(others.get_by_test_id("pair-row-IN_reliance")).to_contain_text("West Bengal")
    screenshot("pairs list")

    # Add a pair; the server's field-level error shows under the phone numbers first.
    page.get_by_test_id("add-pair").click()
    dialog = page.get_by_test_id("pair-dialog")
    expect(dialog).to_be_visible()
    # Empty thresholds say what the pair then goes by: the global ones, by value.
    expect(dialog.get_by_test_id("pair-pause-threshold")).to_have_attribute("placeholder", "0.5")
    expect(dialog.get_by_text("empty: the global 0.7.")).to_be_visible()
    dialog.get_by_test_id("pair-country").select_option("UZ")
    dialog.get_by_test_id("pair-operator").fill("Beeline")
    dialog.get_by_test_id("pair-phones").fill("+99812")
    # No program ticked yet: saving now would make a pair that runs nothing.
    expect(dialog.get_by_test_id("no-program-warning")).to_have_text(
        "No program ticked: this pair will run no session until one is added."
    )
    dialog.get_by_test_id("pair-program-program1").check()
    expect(dialog.get_by_test_id("no-program-warning")).to_have_count(0)
    dialog.get_by_test_id("pair-program-program3").check()
    # Started on save by default; this one stays stopped (no gateway in this fleet).
    dialog.get_by_test_id("pair-start-sessions").uncheck()
    dialog.get_by_test_id("pair-save").click()
    expect(dialog.get_by_test_id("error-pair-phones")).to_contain_text("Line 1")
    screenshot("add pair validation error")

    dialog.get_by_test_id("pair-phones").fill("+998901234568\n+998901234569")
    dialog.get_by_test_id("pair-save").click()
    expect(dialog).to_be_hidden()
    added = others.get_by_test_id("pair-row-UZ_beeline")
    expect(added).to_be_visible()
    expect(added).to_contain_text("Uzbekistan")
    expect(added.get_by_test_id("phone-count")).to_have_text("2")
    expect(added).to_contain_text("program3")
    screenshot("pair added")

    # Marking it high priority moves it to the priority section.
    page.get_by_test_id("toggle-priority-UZ_beeline").click()
    expect(priority.get_by_test_id("pair-row-UZ_beeline")).to_be_visible()
    expect(others.get_by_test_id("pair-row-UZ_beeline")).to_have_count(0)
    screenshot("pair marked high priority")

    # Delete a normal pair after confirming.
    page.get_by_test_id("delete-AZ_azercell").click()
    confirm = page.get_by_test_id("delete-dialog")
    expect(confirm).to_contain_text("Delete AZ_azercell?")
    screenshot("delete confirmation")
    confirm.get_by_test_id("confirm-button").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_test_id("pair-row-AZ_azercell")).to_have_count(0)
    expect(page.get_by_test_id("notice")).to_contain_text("AZ_azercell deleted")
    screenshot("pair deleted")

    # Logging out drops the session: the pairs page asks for a login again.
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/pairs")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_test_id("login-form")).to_be_visible()
    screenshot("logged out")


def test_high_priority_changes_need_an_admin_and_a_confirmation(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    make_user: Callable[[str, str], str],
    screenshot: Screenshot,
) -> None:
    created = admin_api.post(
        "/api/v1/pairs",
        json={"country": "TJ", "operator": "Tcell", "slug": "tcell", "is_high_priority": True},
    )
    assert created.status_code == 201, created.text
    operator_password = make_user("ops", "operator")

    # An operator may edit it but not unmark or delete it: the row says so, in words a
    # touch screen shows too.
    open_logged_in(page, "/login", operator_password, username="ops")
    expect(page.get_by_test_id("current-role")).to_have_text("operator")
    page.goto("/pairs")
    expect(page.get_by_test_id("toggle-priority-TJ_tcell")).to_be_disabled()
    expect(page.get_by_test_id("delete-TJ_tcell")).to_be_disabled()
    expect(page.get_by_test_id("edit-TJ_tcell")).to_be_enabled()
    expect(page.get_by_test_id("admin-pair-hint-TJ_tcell")).to_have_text(
        "Only an admin can unmark or delete."
    )
    expect(page.get_by_test_id("delete-UZ_uzmobile")).to_be_enabled()
    expect(page.get_by_test_id("admin-pair-hint-UZ_uzmobile")).to_have_count(0)
    screenshot("operator may not unmark or delete")
    page.get_by_test_id("logout").click()

    # An admin disabling it is asked to confirm, then the change goes through with force.
    log_in(page, control_plane.admin_password)
    expect(page.get_by_test_id("current-role")).to_have_text("admin")
    page.goto("/pairs")
    page.get_by_test_id("edit-TJ_tcell").click()
    dialog = page.get_by_test_id("pair-dialog")
    # Probing is the success-rate policy's to set: never offered by hand.
    expect(dialog.get_by_test_id("pair-state").locator("option")).to_have_text(
        ["enabled", "paused", "disabled"]
    )
    dialog.get_by_test_id("pair-state").select_option("disabled")
    dialog.get_by_test_id("pair-state-reason").fill("operator maintenance")
    dialog.get_by_test_id("pair-save").click()
    expect(dialog.get_by_test_id("force-warning")).to_contain_text(
        "TJ_tcell is high priority: tick below to disable it anyway"
    )
    expect(dialog.get_by_test_id("force-warning")).to_be_in_viewport()
    expect(dialog.get_by_test_id("pair-save")).to_be_disabled()
    screenshot("disable needs confirmation")
    dialog.get_by_test_id("force-confirm").check()
    dialog.get_by_test_id("pair-save").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("priority-section").get_by_test_id("pair-row-TJ_tcell")
    expect(row.get_by_test_id("state-badge")).to_have_text("disabled")

    # Unmarking it leaves its sessions anyone's to stop: confirmed too, then sent with force.
    page.get_by_test_id("toggle-priority-TJ_tcell").click()
    unmark = page.get_by_test_id("force-dialog")
    expect(unmark).to_contain_text(
        "Unmarked, any operator can stop them, and the policy may pause it when its success drops."
    )
    expect(unmark).not_to_contain_text("force=true")  # the page's words, not the API's
    expect(unmark.get_by_test_id("confirm-button")).to_be_disabled()
    screenshot("unmarking needs confirmation")
    unmark.get_by_test_id("confirm-acknowledge").check()
    unmark.get_by_test_id("confirm-button").click()
    expect(unmark).to_be_hidden()
    expect(page.get_by_test_id("notice")).to_contain_text("TJ_tcell is no longer high priority")
    others = page.get_by_test_id("other-section")
    expect(others.get_by_test_id("pair-row-TJ_tcell")).to_be_visible()
    # Marked again while disabled, it would stay so: the page marks and enables it, asked.
    page.get_by_test_id("toggle-priority-TJ_tcell").click()
    mark = page.get_by_test_id("mark-held-dialog")
    expect(mark).to_contain_text("TJ_tcell is disabled by admin.")
    expect(mark).to_contain_text("it is enabled as it is marked")
    expect(mark.get_by_test_id("confirm-button")).to_have_text("Mark and enable")
    screenshot("marking a disabled pair enables it")
    mark.get_by_test_id("confirm-button").click()
    expect(mark).to_be_hidden()
    expect(page.get_by_test_id("notice")).to_contain_text(
        "TJ_tcell is now high priority and enabled"
    )
    expect(row).to_be_visible()
    expect(row.get_by_test_id("state-badge")).to_have_text("enabled")

    expect(page.get_by_test_id("admin-pair-hint-TJ_tcell")).to_have_count(0)
    page.get_by_test_id("delete-TJ_tcell").click()
    confirm = page.get_by_test_id("delete-dialog")
    expect(confirm.get_by_test_id("delete-high-priority-warning")).to_be_visible()
    expect(confirm.get_by_test_id("confirm-button")).to_be_disabled()
    confirm.get_by_test_id("confirm-acknowledge").check()
    confirm.get_by_test_id("confirm-button").click()
    expect(page.get_by_test_id("pair-row-TJ_tcell")).to_have_count(0)
    screenshot("high priority pair deleted")


def test_unticking_a_program_whose_session_runs_asks_before_stopping_it(
    page: Page, control_plane: ControlPlane, admin_api: httpx.Client, screenshot: Screenshot
) -> None:
    program, pair = "stayer", "KZ_altel"
    forever = "import time\nwhile True:\n    time.sleep(1)\n"
    with started_session(admin_api, control_plane, program, "Altel", forever) as session:
        open_logged_in(page, "/pairs", control_plane.admin_password)
        page.get_by_test_id(f"edit-{pair}").click()
        dialog = page.get_by_test_id("pair-dialog")
        expect(dialog.get_by_test_id("stop-warning")).to_have_count(0)
        dialog.get_by_test_id(f"pair-program-{program}").uncheck()
        expect(dialog.get_by_test_id("stop-warning")).to_contain_text(
            "Saving stops the session of stayer on this pair."
        )
        expect(dialog.get_by_test_id("pair-save")).to_be_disabled()
        screenshot("removing a running program asks first")
        dialog.get_by_test_id("stop-confirm").check()
        dialog.get_by_test_id("pair-save").click()
        expect(dialog).to_be_hidden()
        wait_for(lambda: at_rest(admin_api, session), "the session to stop")


# Where the Pairs table's columns do not fit (test_pairs_table_fits_laptop_widths), from the
# page's own layout: headers whose content runs past their cell or into the next header,
# cells outside the table's frame, the viewport or under the pinned action column, and words
# broken across lines (a word whose Range has more than one client rect).
TABLE_PROBLEMS = r"""() => {
    const problems = [];
    const viewport = document.documentElement.clientWidth;
    const contentBox = (element) => {
        const range = document.createRange();
        range.selectNodeContents(element);
        return range.getBoundingClientRect();
    };
    const label = (cell) => (cell.innerText || cell.textContent).trim().replace(/\s+/g, " ");
    // Folded-away (collapsed) columns are 0 px wide: not shown, not checked.
    const shown = (cells) => cells.filter((cell) => cell.getBoundingClientRect().width >= 1);
    const pinned = (cell) => cell.classList.contains("table__actions");
    for (const table of document.querySelectorAll("[data-testid=pairs-page] table")) {
        const frame = table.parentElement;
        if (frame.scrollWidth > frame.clientWidth + 0.5) {
            problems.push(`scrolls sideways: ${frame.scrollWidth} > ${frame.clientWidth}`);
        }
        const box = frame.getBoundingClientRect();
        const actions = table.querySelector("thead th.table__actions");
        const left = Math.max(box.left, 0);
        const right = Math.min(
            box.right, viewport, actions ? actions.getBoundingClientRect().left : Infinity
        );
        const headers = shown([...table.querySelectorAll("thead th")]);
        const firstRow = table.querySelector("tbody tr[data-testid^=pair-row-]");
        for (const cell of [...headers, ...shown([...firstRow.children])]) {
            if (pinned(cell)) continue;
            const outer = cell.getBoundingClientRect();
            if (outer.left < left - 0.5 || outer.right > right + 0.5) {
                problems.push(
                    `"${label(cell)}" [${outer.left}, ${outer.right}] not in [${left}, ${right}]`
                );
            }
            const inner = contentBox(cell);
            if (inner.width > 0
                && (inner.left < outer.left - 0.5 || inner.right > outer.right + 0.5)) {
                problems.push(`"${label(cell)}" runs out of its cell:`
                    + ` [${inner.left}, ${inner.right}] in [${outer.left}, ${outer.right}]`);
            }
        }
        for (let i = 1; i < headers.length; i++) {
            const before = contentBox(headers[i - 1]);
            const after = contentBox(headers[i]);
            if (before.width > 0 && after.width > 0 && before.right > after.left + 0.5) {
                problems.push(`header "${label(headers[i - 1])}" runs into "${label(headers[i])}"`);
            }
        }
        // Names wrap between words only: "Reliance", never "Relia|nce". Keys (identifiers)
        // may wrap after "_" when they must, so their column is left out.
        const key = table.querySelector("thead th[data-testid=sort-key]").cellIndex;
        for (const row of table.querySelectorAll("tbody tr[data-testid^=pair-row-]")) {
            for (const cell of shown([...row.children])) {
                if (cell.cellIndex === key || pinned(cell)) continue;
                const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
                for (let text = walker.nextNode(); text; text = walker.nextNode()) {
                    for (const word of text.data.matchAll(/\S+/g)) {
                        const range = document.createRange();
                        range.setStart(text, word.index);
                        range.setEnd(text, word.index + word[0].length);
                        const lines = range.getClientRects().length;
                        if (lines > 1) {
                            problems.push(`${row.dataset.testid}: "${word[0]}" on ${lines} lines`);
                        }
                    }
                }
            }
        }
    }
    return problems;
}"""


@pytest.mark.parametrize("width", [1280, 1440, 1600])
def test_pairs_table_fits_laptop_widths(
    page: Page, control_plane: ControlPlane, screenshot: Screenshot, width: int
) -> None:
    """From 1,280 px up every column of the Pairs table shows whole, beside the sidebar,
    without scrolling: headers apart, operators and programs never broken inside a word.
    Under 1,500 px the Region column folds away and each region shows under its operator."""
    open_logged_in(
        page, "/pairs", control_plane.admin_password, viewport={"width": width, "height": 900}
    )
    reliance = page.get_by_test_id("pair-row-IN_reliance")
    expect(reliance).to_be_visible()
    expect(page.locator("[aria-busy='true']")).to_have_count(0)
    screenshot(f"pairs table at {width} px")

    problems = page.evaluate(TABLE_PROBLEMS)
    assert problems == [], "\n".join(problems)
    region_column = page.get_by_test_id("sort-region").first
    region_under_operator = reliance.locator(".pairs-table__operator-region")
    if width < 1500:
        expect(region_column).not_to_be_visible()
        expect(region_under_operator).to_have_text("West Bengal")
        expect(region_under_operator).to_be_visible()
    else:
        expect(region_column).to_be_visible()
        expect(region_under_operator).not_to_be_visible()


def test_viewer_gets_a_read_only_page_with_search_and_filters(
    page: Page, make_user: Callable[[str, str], str], screenshot: Screenshot
) -> None:
    password = make_user("watcher", "viewer")
    open_logged_in(page, "/pairs", password, username="watcher")
    expect(page.get_by_test_id("current-role")).to_have_text("viewer")
    expect(page.get_by_test_id("pair-row-IN_reliance")).to_be_visible()
    expect(page.get_by_test_id("add-pair")).to_have_count(0)
    expect(page.get_by_test_id("edit-IN_reliance")).to_have_count(0)
    expect(page.get_by_test_id("delete-IN_reliance")).to_have_count(0)

    page.get_by_test_id("pairs-search").fill("bengal")
    expect(page.locator("[data-testid^='pair-row-']")).to_have_count(1)
    expect(page.get_by_test_id("pair-row-IN_reliance")).to_be_visible()
    screenshot("viewer search")

    page.get_by_test_id("pairs-search").fill("")
    page.get_by_test_id("filter-country").select_option("IN")
    rows = page.locator("[data-testid^='pair-row-']")
    expect(rows.first).to_be_visible()
    for key in rows.evaluate_all("rows => rows.map(row => row.dataset.testid)"):
        assert key.startswith("pair-row-IN_"), key
    expect(page).to_have_url(re.compile(r"country=IN"))
    screenshot("viewer country filter")


def test_login_throttling_shows_the_wait(page: Page, screenshot: Screenshot) -> None:
    page.goto("/login")
    error = page.get_by_test_id("login-error")
    for _ in range(5):  # the control plane's default budget of failures per user
        log_in(page, "wrong-password", username="mallory")
        expect(error).to_contain_text("Wrong username or password")
        expect(page.get_by_test_id("login-submit")).to_be_enabled()
    log_in(page, "wrong-password", username="mallory")
    expect(error).to_have_text(re.compile(r"Too many attempts, retry in \d+ s\."))
    expect(page.get_by_test_id("login-submit")).to_be_disabled()
    screenshot("throttled")


def test_expired_access_token_is_refreshed_then_session_ends(
    page: Page, control_plane: ControlPlane, screenshot: Screenshot
) -> None:
    open_logged_in(page, "/pairs", control_plane.admin_password)
    expect(page.get_by_test_id("pair-row-IN_vi")).to_be_visible()

    # A rejected access token is exchanged once through the refresh token. Spoilt for the
    # reloaded page only: the page before it, polling, would refresh with it too, and a
    # reload while that refresh is on its way leaves the tab a refresh token already used.
    page.add_init_script(
        "if (!sessionStorage.getItem('e2e.spoilt')) {"
        " sessionStorage.setItem('e2e.spoilt', '1');"
        " sessionStorage.setItem('smsfleet.access_token', 'not-a-valid-token'); }"
    )
    page.reload()
    expect(page.get_by_test_id("pair-row-IN_vi")).to_be_visible()
    token = page.evaluate("sessionStorage.getItem('smsfleet.access_token')")
    assert token not in (None, "not-a-valid-token")

    # When the refresh token is rejected too, the app goes back to the login page.
    page.evaluate(
        "['smsfleet.access_token', 'smsfleet.refresh_token']"
        ".forEach(key => sessionStorage.setItem(key, 'not-a-valid-token'))"
    )
    page.reload()
    expect(page).to_have_url(re.compile(r"/login$"))
    screenshot("session ended")


def test_a_pair_is_paused_from_its_row_with_a_reason_and_resumed(
    page: Page, control_plane: ControlPlane, admin_api: httpx.Client
) -> None:
    """Pause is as one click as Resume (it took Edit, the state, Save), asked with a reason
    others read; a high-priority pair's asks the admin to acknowledge it."""
    made = admin_api.post("/api/v1/pairs", json={"country": "KZ", "operator": "Beeline"})
    assert made.status_code == 201, made.text
    try:
        open_logged_in(page, "/pairs", control_plane.admin_password)
        page.get_by_test_id("pause-KZ_beeline").click()
        dialog = page.get_by_test_id("pause-dialog")
        expect(dialog).to_contain_text("Pause KZ_beeline?")
        dialog.get_by_test_id("pause-reason").fill("carrier maintenance until 14:00")
        dialog.get_by_test_id("confirm-button").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_test_id("notice")).to_have_text("KZ_beeline paused.")
        row = page.get_by_test_id("pair-row-KZ_beeline")
        expect(row.get_by_test_id("state-badge")).to_have_text("paused")
        expect(page.get_by_test_id("pause-KZ_beeline")).to_have_count(0)
        expect(page.get_by_test_id("pair-note-KZ_beeline")).to_contain_text("Paused by admin")
        expect(page.get_by_test_id("pair-note-KZ_beeline")).to_contain_text(
            ": carrier maintenance until 14:00"
        )
        page.get_by_test_id("resume-KZ_beeline").click()
        expect(row.get_by_test_id("state-badge")).to_have_text("enabled")

        # High priority: the admin acknowledges it, and it is sent with force.
        assert admin_api.patch(
            "/api/v1/pairs/KZ_beeline", json={"is_high_priority": True}
        ).is_success
        page.reload()
        page.get_by_test_id("pause-KZ_beeline").click()
        dialog = page.get_by_test_id("pause-dialog")
        expect(dialog.get_by_test_id("confirm-button")).to_be_disabled()
        dialog.get_by_test_id("confirm-acknowledge").check()
        dialog.get_by_test_id("confirm-button").click()
        expect(dialog).to_be_hidden()
        stored = admin_api.get("/api/v1/pairs/KZ_beeline").json()
        assert (stored["state"], stored["state_reason"]) == ("paused", None)
    finally:
        admin_api.delete("/api/v1/pairs/KZ_beeline", params={"force": True})
