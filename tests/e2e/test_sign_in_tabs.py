"""Signing in, tab by tab: a tab duplicated from a signed-in one starts with a copy of its
tokens, and a refresh token is good for one refresh, so the copy signs in on its own rather
than end both tabs' sign-in at its first refresh; the tab it was copied from keeps going. A tab
asks the others about its login as it starts, and only a refresh waits for their answer. A
page reloaded while its refresh was on the way stays signed in. A browser keeps each user's
device token and sends it at their next sign-in."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from playwright.sync_api import Page, Request, Route, expect

from tests.support.e2e import ControlPlane, Screenshot, log_in, open_logged_in

pytestmark = pytest.mark.e2e


def test_a_tab_copied_from_a_signed_in_one_signs_in_on_its_own(
    page: Page, control_plane: ControlPlane, screenshot: Screenshot
) -> None:
    open_logged_in(page, "/", control_plane.admin_password)
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    stored = page.evaluate("JSON.stringify(Object.entries(sessionStorage))")
    refresh_token = dict(json.loads(stored))["smsfleet.refresh_token"]

    # The original is busy, as on a loaded machine: it answers the copy only after a refresh
    # would have stopped waiting (3 s), and its answer still counts.
    page.evaluate(
        "setTimeout(() => { const end = Date.now() + 5000; while (Date.now() < end); }, 0)"
    )
    # What a browser does when it duplicates a tab: the new one starts with its storage.
    copy = page.context.new_page()
    copy.add_init_script(
        f"for (const [key, value] of {stored}) sessionStorage.setItem(key, value);"
    )
    copy.goto("/")
    expect(copy.get_by_test_id("login-notice")).to_contain_text(
        "This tab was copied from one that is signed in: sign in here too", timeout=15_000
    )
    screenshot("the copy asks to sign in")

    # The copy left the login alone: its refresh token is still the one to use, once.
    answer = httpx.post(
        f"{control_plane.url}/api/v1/auth/refresh", json={"refresh_token": refresh_token}
    )
    assert answer.status_code == 200, answer.text
    page.evaluate(
        "tokens => { sessionStorage.setItem('smsfleet.access_token', tokens.access_token);"
        " sessionStorage.setItem('smsfleet.refresh_token', tokens.refresh_token); }",
        answer.json(),
    )
    page.reload()
    expect(page.get_by_test_id("sidebar")).to_be_visible()

    log_in(copy, control_plane.admin_password)
    expect(copy.get_by_test_id("sidebar")).to_be_visible()
    expect(copy.get_by_test_id("login-notice")).to_have_count(0)


# What a page sends, in order, with its time: its questions to the other tabs, its requests.
RECORD_SENT = """
window.sent = [];
const post = BroadcastChannel.prototype.postMessage;
BroadcastChannel.prototype.postMessage = function (message) {
  window.sent.push([message.type, performance.now()]);
  return post.call(this, message);
};
const send = window.fetch;
window.fetch = function (input, init) {
  const url = input instanceof Request ? input.url : String(input);
  window.sent.push([new URL(url, location.href).pathname, performance.now()]);
  return send.call(this, input, init);
};
"""


def test_a_reload_asks_for_its_data_while_it_listens_for_other_tabs(
    page: Page, control_plane: ControlPlane
) -> None:
    open_logged_in(page, "/", control_plane.admin_password)
    expect(page.get_by_test_id("sidebar")).to_be_visible()

    page.add_init_script(RECORD_SENT)
    page.reload()
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    sent: list[tuple[str, float]] = page.evaluate("window.sent")
    asked = next(at for what, at in sent if what == "whose")
    who_am_i = next(at for what, at in sent if what == "/api/v1/auth/me")
    # No other tab answers, so the question stays open three seconds (COPY_CHECK_MS); the
    # request went out with the question, not after.
    assert 0 <= who_am_i - asked < 1000, sent
    assert "/api/v1/auth/refresh" not in [what for what, _ in sent]


def test_a_page_reloaded_while_its_refresh_was_on_the_way_stays_signed_in(
    page: Page, control_plane: ControlPlane
) -> None:
    """The page's refresh reaches the server, which replaces the refresh token, and the
    page is reloaded before the answer is back: the reloaded page has only the token
    replaced, and refreshes with it (the refresh grace)."""
    open_logged_in(page, "/", control_plane.admin_password)
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    refreshed: list[int] = []

    def reach_the_server_and_hold_the_answer(route: Route) -> None:
        refreshed.append(route.fetch().status)  # never answered: the page is reloaded

    page.route("**/api/v1/auth/refresh", reach_the_server_and_hold_the_answer)
    # The access token expired: the next page's requests are refused, and it refreshes.
    page.evaluate("sessionStorage.setItem('smsfleet.access_token', 'not-a-valid-token')")
    page.get_by_test_id("nav-pairs").click()
    deadline = time.monotonic() + 10
    while not refreshed and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert refreshed == [200]

    page.unroute("**/api/v1/auth/refresh")
    page.reload()
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/pairs$"))
    token = page.evaluate("sessionStorage.getItem('smsfleet.access_token')")
    assert token not in (None, "not-a-valid-token")


def test_a_page_reloaded_while_the_control_plane_does_not_answer_waits_signed_in(
    page: Page, control_plane: ControlPlane
) -> None:
    """A reload while the control plane restarts (or the network is gone) keeps the tab's
    sign-in: its question of who it is got no answer, not a refusal, so it asks again."""
    open_logged_in(page, "/", control_plane.admin_password)
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    unanswered: list[str] = []

    def no_answer(route: Route) -> None:
        if len(unanswered) < 2:  # two tries go unanswered, then the control plane is back
            unanswered.append(route.request.url)
            route.abort("connectionrefused")
        else:
            route.fallback()

    page.route(re.compile(r"/api/v1/auth/me$"), no_answer)
    page.reload()
    waiting = page.get_by_role("status", name="The control plane is not answering: trying again")
    expect(waiting).to_be_visible()
    expect(page.get_by_test_id("full-page-wait")).to_have_text(
        "The control plane is not answering: trying again"
    )
    expect(page.get_by_test_id("sidebar")).to_be_visible(timeout=15_000)
    assert len(unanswered) == 2
    expect(page).not_to_have_url(re.compile(r"/login"))


def test_a_browser_sends_its_users_device_token_at_their_next_sign_in(
    page: Page, control_plane: ControlPlane
) -> None:
    sent: list[dict[str, str]] = []  # the login bodies

    def record(request: Request) -> None:
        if request.url.endswith("/api/v1/auth/login"):
            sent.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    open_logged_in(page, "/", control_plane.admin_password)
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    first = page.evaluate("localStorage.getItem('smsfleet.device_token.admin')")
    assert first, "no device token kept"

    # Signed out and in again: the login is counted on the device token, not the address.
    page.get_by_test_id("logout").click()
    log_in(page, control_plane.admin_password)
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    assert "device_token" not in sent[0]
    assert sent[1]["device_token"] == first
    renewed = page.evaluate("localStorage.getItem('smsfleet.device_token.admin')")
    assert renewed and renewed != first
