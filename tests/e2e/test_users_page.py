"""The Users page in a real browser: an admin adds a user, changes its role, disables it,
sets its password and deletes it, each checked through the API; the admin's own row keeps
its role, sign-in and account; an operator is told only admins manage users."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.support.e2e import VIEWPORTS, ControlPlane, expect_sorts_by, natural, open_logged_in

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]
FIRST_PASSWORD = "Newcomer-first-pass-1"
SECOND_PASSWORD = "Newcomer-second-pass-2"


def _login_status(control_plane: ControlPlane, username: str, password: str) -> int:
    response = httpx.post(
        f"{control_plane.url}/api/v1/auth/login",
        json={"username": username, "password": password},
    )
    return response.status_code


def _row(page: Page, username: str) -> Locator:
    return page.locator(f'[data-testid="user-row"][data-username="{username}"]')


def _open_actions(row: Locator) -> None:
    """Open the row's Actions: its items are then `page.get_by_role("menu")`'s (the list is
    drawn over the page, not inside the row)."""
    row.get_by_test_id("user-actions").click()


@VIEWPORTS
def test_admin_manages_a_user(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    # One control plane serves both viewports: each adds a user of its own.
    username = f"e2e-newcomer-{viewport['width']}"
    open_logged_in(page, "/users", control_plane.admin_password, viewport=viewport)
    expect(page.get_by_test_id("users-table")).to_be_visible()
    # Admins have the page in the navigation (folded behind the menu button on a tablet).
    expect(page.get_by_test_id("nav-users")).to_have_count(1)

    # The admin's own row: no demotion, no disabling, no deletion, and a note says why.
    own = _row(page, "admin")
    expect(own.get_by_test_id("own-row-note")).to_have_text(
        "This is you: you cannot disable, demote or delete yourself."
    )
    expect(own.get_by_test_id("user-role")).to_be_disabled()
    _open_actions(own)
    expect(page.get_by_role("menu").get_by_test_id("user-toggle-disabled")).to_be_disabled()
    expect(page.get_by_role("menu").get_by_test_id("user-delete")).to_be_disabled()
    expect(page.get_by_role("menu").get_by_test_id("user-set-password")).to_be_enabled()
    page.keyboard.press("Escape")

    # Add a user: the server's refusal of a weak password shows in the dialog.
    page.get_by_test_id("add-user").click()
    dialog = page.get_by_test_id("add-user-dialog")
    dialog.get_by_test_id("new-username").fill(username)
    dialog.get_by_test_id("new-role").select_option("operator")
    dialog.get_by_test_id("new-password").fill("short")
    dialog.get_by_test_id("new-repeat").fill("short")
    dialog.get_by_test_id("add-user-submit").click()
    expect(dialog.get_by_test_id("add-user-error")).to_contain_text("password refused")
    dialog.get_by_test_id("new-password").fill(FIRST_PASSWORD)
    dialog.get_by_test_id("new-repeat").fill(FIRST_PASSWORD + "x")
    dialog.get_by_test_id("add-user-submit").click()
    expect(dialog.get_by_test_id("error-new-repeat")).to_have_text("The two passwords differ")
    screenshot("add a user")
    dialog.get_by_test_id("new-repeat").fill(FIRST_PASSWORD)
    dialog.get_by_test_id("add-user-submit").click()
    expect(dialog).to_have_count(0)
    toasts = page.get_by_test_id("user-toasts")
    expect(toasts).to_contain_text(f"{username} is added as an operator.")
    row = _row(page, username)
    expect(row.get_by_test_id("user-role")).to_have_value("operator")
    expect(row.get_by_test_id("own-row-note")).to_have_count(0)
    assert _login_status(control_plane, username, FIRST_PASSWORD) == 200

    # The table sorts by the clicked column.
    expect_sorts_by(
        page.get_by_test_id("sort-username"),
        lambda: [natural(name) for name in page.get_by_test_id("user-name").all_inner_texts()],
    )

    # Change its role.
    row.get_by_test_id("user-role").select_option("viewer")
    expect(toasts).to_contain_text(f"{username} is now a viewer; they are signed out everywhere.")
    assert admin_api.get(f"/api/v1/users/{username}").json()["role"] == "viewer"

    # Disable it: it can no longer log in.
    _open_actions(row)
    page.get_by_role("menu").get_by_test_id("user-toggle-disabled").click()
    expect(toasts).to_contain_text(f"{username} is disabled")
    expect(row.get_by_test_id("user-status")).to_have_text("disabled")
    assert admin_api.get(f"/api/v1/users/{username}").json()["disabled"] is True
    assert _login_status(control_plane, username, FIRST_PASSWORD) == 401
    screenshot("user disabled")

    # Set a new password (typed twice; a weak one is refused in the dialog), then enable it.
    _open_actions(row)
    page.get_by_role("menu").get_by_test_id("user-set-password").click()
    password_dialog = page.get_by_test_id("password-dialog")
    password_dialog.get_by_test_id("set-password").fill("password")
    password_dialog.get_by_test_id("set-repeat").fill("password")
    password_dialog.get_by_test_id("password-submit").click()
    expect(password_dialog.get_by_test_id("password-error")).to_contain_text("password refused")
    password_dialog.get_by_test_id("set-password").fill(SECOND_PASSWORD)
    password_dialog.get_by_test_id("set-repeat").fill(SECOND_PASSWORD)
    password_dialog.get_by_test_id("password-submit").click()
    expect(password_dialog).to_have_count(0)
    expect(toasts).to_contain_text(f"{username}'s password is changed")
    _open_actions(row)
    page.get_by_role("menu").get_by_test_id("user-toggle-disabled").click()
    expect(row.get_by_test_id("user-status")).to_have_text("active")
    expect(toasts).to_contain_text(f"{username} is enabled and can sign in again.")
    assert _login_status(control_plane, username, SECOND_PASSWORD) == 200
    assert _login_status(control_plane, username, FIRST_PASSWORD) == 401

    # Sign it out everywhere.
    _open_actions(row)
    page.get_by_role("menu").get_by_test_id("user-sign-out").click()
    expect(toasts).to_contain_text(f"{username} is signed out everywhere.")

    # Delete it, after a confirmation naming it and its API keys.
    _open_actions(row)
    page.get_by_role("menu").get_by_test_id("user-delete").click()
    confirm = page.get_by_test_id("delete-user-dialog")
    expect(confirm).to_contain_text(f"Delete {username}?")
    expect(confirm).to_contain_text("their API keys are revoked with them")
    screenshot("delete confirmation")
    confirm.get_by_test_id("confirm-button").click()
    expect(confirm).to_have_count(0)
    expect(row).to_have_count(0)
    expect(toasts).to_contain_text(f"{username} is deleted")
    assert admin_api.get(f"/api/v1/users/{username}").status_code == 404
    # The admin is still signed in: the page still answers.
    expect(_row(page, "admin")).to_be_visible()


def test_an_operator_is_told_only_admins_manage_users(
    page: Page,
    control_plane: ControlPlane,
    make_user: Callable[[str, str], str],
    screenshot: Screenshot,
) -> None:
    password = make_user("e2e-users-operator", "operator")
    open_logged_in(page, "/users", password, username="e2e-users-operator")
    expect(page.get_by_test_id("users-not-admin")).to_contain_text("Only admins manage users.")
    expect(page.get_by_test_id("users-table")).to_have_count(0)
    expect(page.get_by_test_id("nav-pairs")).to_be_visible()
    expect(page.get_by_test_id("nav-users")).to_have_count(0)
    screenshot("not an admin")


def test_an_admin_sets_their_own_password_and_signs_out_everywhere(
    page: Page,
    control_plane: ControlPlane,
    make_user: Callable[[str, str], str],
) -> None:
    # An admin of its own: the session's admin password stays as the other tests know it.
    username = "e2e-users-own-admin"
    password = make_user(username, "admin")
    open_logged_in(page, "/users", password, username=username)
    own = _row(page, username)
    expect(own.get_by_test_id("own-row-note")).to_be_visible()

    # A new password ends every other sign-in; this one goes on with the new password.
    _open_actions(own)
    page.get_by_role("menu").get_by_test_id("user-set-password").click()
    dialog = page.get_by_test_id("password-dialog")
    expect(dialog).to_contain_text("You stay signed in here")
    dialog.get_by_test_id("set-password").fill(SECOND_PASSWORD)
    dialog.get_by_test_id("set-repeat").fill(SECOND_PASSWORD)
    dialog.get_by_test_id("password-submit").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("user-toasts")).to_contain_text("Your password is changed")
    assert _login_status(control_plane, username, password) == 401
    page.wait_for_timeout(2000)  # the live connection, closed with the old tokens, comes back
    page.reload()
    expect(page.get_by_test_id("users-table")).to_be_visible()
    expect(page).to_have_url(f"{control_plane.url}/users")

    # Signing out everywhere asks first, then ends this sign-in too.
    _open_actions(own)
    page.get_by_role("menu").get_by_test_id("user-sign-out").click()
    confirm = page.get_by_test_id("sign-out-self-dialog")
    expect(confirm).to_contain_text("this one included")
    confirm.get_by_test_id("confirm-button").click()
    expect(page.get_by_test_id("login-username")).to_be_visible()


def test_a_rows_actions_are_over_the_rows_below_and_the_tables_edge(
    page: Page, control_plane: ControlPlane, make_user: Callable[[str, str], str]
) -> None:
    """A row's menu opens over the rows below it and past the table's scrolling box: the
    actions column is sticky (each of its cells a layer of its own), and a list drawn
    inside its cell was covered by the next row's and cut at the table's edge."""
    for name in ("e2e-menu-a", "e2e-menu-b", "e2e-menu-c"):
        make_user(name, "viewer")
    open_logged_in(page, "/users", control_plane.admin_password)
    for name in ("e2e-menu-a", "e2e-menu-c"):
        _open_actions(_row(page, name))
        item = page.get_by_role("menu").get_by_test_id("user-sign-out")
        box = item.bounding_box()
        assert box is not None
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.dataset.testid ?? null",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert on_top == "user-sign-out", (name, on_top)
        page.keyboard.press("Escape")
        expect(page.get_by_role("menu")).to_have_count(0)
