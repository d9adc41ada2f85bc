"""The Programs page in a real browser: real screen sessions, live over the WebSocket."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, ViewportSize, WebSocketRoute, expect

from smsfleet.sessions.screen import ScreenBackend
from tests.support.e2e import ControlPlane, kz_number, open_logged_in, remove_session

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]

# A harmless program that runs until stopped and prints a line twice a second.
TICKER_SOURCE = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.5)"
PROGRAM = "ticker"
PAIR = "KZ_kcell"
SESSION = f"{PROGRAM}_{PAIR}"
# Starting counts as running after the control plane's start period (1 s by default).
STATE_TIMEOUT_MS = 15_000


def _session_state(admin_api: httpx.Client, name: str) -> str:
    response = admin_api.get(f"/api/v1/sessions/{name}")
    response.raise_for_status()
    return str(response.json()["state"])


@pytest.fixture
def ticker_session(admin_api: httpx.Client, control_plane: ControlPlane) -> Iterator[str]:
    """A pair whose only program is the ticker; stopped again and removed afterwards."""
    program = admin_api.post(
        "/api/v1/programs",
        json={
            "name": PROGRAM,
            "command": control_plane.install("ticker", TICKER_SOURCE),
            "provider": "loopback",
            "description": "prints tick twice a second",
        },
    )
    assert program.status_code == 201, program.text
    pair = admin_api.post(
        "/api/v1/pairs",
        json={
            "country": "KZ",
            "operator": "Kcell",
            "slug": "kcell",
            "programs": [PROGRAM],
            "phone_numbers": [kz_number("kcell")],
        },
    )
    assert pair.status_code == 201, pair.text
    # The supervisor makes the pair's session at its next tick: the page lists it then.
    deadline = time.monotonic() + 10
    while admin_api.get(f"/api/v1/sessions/{SESSION}").status_code != 200:
        assert time.monotonic() < deadline, "the supervisor made no session for the pair"
        time.sleep(0.2)
    try:
        yield SESSION
    finally:
        admin_api.post(f"/api/v1/sessions/{SESSION}/stop", json={"reason": "e2e cleanup"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _session_state(admin_api, SESSION) not in {
            "stopped",
            "exited",
            "fatal",
        }:
            time.sleep(0.2)
        admin_api.delete(f"/api/v1/pairs/{PAIR}")
        admin_api.delete(f"/api/v1/programs/{PROGRAM}")


def _tick_count(page: Page) -> int:
    text = page.get_by_test_id("log-lines").inner_text()
    # The runner stamps each line with its time: "<ISO time> tick".
    return sum(1 for line in text.splitlines() if line.rstrip().endswith("tick"))


def test_start_follow_logs_and_stop_a_session_live(
    page: Page, control_plane: ControlPlane, ticker_session: str, screenshot: Screenshot
) -> None:
    name = ticker_session
    open_logged_in(page, "/programs", control_plane.admin_password)
    expect(page.get_by_test_id("programs-page")).to_be_visible()
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-status", "connected")

    # Sessions are grouped by country, one row per pair, one column per program.
    section = page.get_by_test_id("country-section-KZ")
    row = section.get_by_test_id(f"session-row-{PAIR}")
    expect(row).to_be_visible()
    badge = page.get_by_test_id(f"session-state-{name}")
    expect(badge).to_have_text("stopped")
    expect(page.get_by_test_id("country-section-IN")).to_be_visible()
    screenshot("programs page")

    # Start from the UI: the badge turns running without a reload.
    page.get_by_test_id(f"start-{name}").click()
    expect(page.get_by_test_id("toast").first).to_contain_text(f"Start requested for {name}")
    expect(badge).to_have_text("running", timeout=STATE_TIMEOUT_MS)
    expect(page.get_by_test_id(f"stop-{name}")).to_be_enabled()
    expect(page.get_by_test_id(f"uptime-{name}")).not_to_have_text("—")
    screenshot("session running")

    # The log drawer shows the last lines, then follows the log as it grows.
    page.get_by_test_id(f"open-logs-{name}").click()
    drawer = page.get_by_test_id("log-drawer")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_test_id("log-drawer-title")).to_have_text(name)
    log_lines = drawer.get_by_test_id("log-lines")
    expect(log_lines).to_contain_text("tick")
    seen = _tick_count(page)
    assert seen > 0
    page.wait_for_function(
        """([seen]) => {
            const text = document.querySelector("[data-testid='log-lines']").innerText;
            const ticks = text.split("\\n").filter((line) => line.trimEnd().endsWith("tick"));
            return ticks.length >= seen + 2;
        }""",
        arg=[seen],
        timeout=10_000,
    )
    # Followed lines keep the view at the end.
    at_end = log_lines.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight <= 24")
    assert at_end
    events = drawer.get_by_test_id("session-events")
    expect(events.locator("[data-kind='start_requested']")).to_have_count(1)
    expect(events).to_contain_text("admin")
    screenshot("log drawer following")
    # At a laptop's width the tables end where the drawer begins, and scroll sideways to
    # their last program: the drawer once covered a program's column past reach.
    page.set_viewport_size({"width": 1280, "height": 800})
    edge = drawer.bounding_box()
    assert edge is not None
    wraps = page.locator("[data-testid='programs-page'] .table-wrap").all()
    assert wraps, "no session table"
    for wrap in wraps:
        box = wrap.bounding_box()
        assert box is not None and box["x"] + box["width"] <= edge["x"] + 1, (box, edge)
        reach = wrap.evaluate("el => el.scrollWidth - el.clientWidth")
        table = wrap.locator("table").evaluate("el => el.getBoundingClientRect().width")
        assert reach >= table - box["width"] - 1, (reach, table, box)

    # Escape closes the drawer.
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()

    # Stop from the UI: the badge turns stopped, again without a reload.
    page.get_by_test_id(f"stop-{name}").click()
    expect(badge).to_have_text("stopped", timeout=STATE_TIMEOUT_MS)
    expect(page.get_by_test_id(f"start-{name}")).to_be_enabled()
    screenshot("session stopped")


def test_what_changed_while_the_page_connected_shows_without_a_reload(
    page: Page, control_plane: ControlPlane, ticker_session: str, admin_api: httpx.Client
) -> None:
    """The page loads its sessions before its live socket signs in: a change made in
    between is never heard as an event, so the page reloads once it is connected."""
    held: dict[str, WebSocketRoute] = {}
    from_page: list[str | bytes] = []
    first_listing: dict[str, Any] = {}
    signed_in: list[bool] = []

    def hold(socket: WebSocketRoute) -> None:
        held["page"] = socket
        socket.on_message(forward)

    def forward(message: str | bytes) -> None:
        if "server" in held:
            held["server"].send(message)
        else:
            from_page.append(message)

    def to_page(message: str | bytes) -> None:
        # Only the answer to the sign-in: other tests' sessions come and go on this
        # control plane, and each of their events would reload the list anyway.
        if not signed_in:
            signed_in.append(True)
            held["page"].send(message)

    def listing(route: Route) -> None:
        # Until the socket is signed in, the page's polls read the listing it loaded
        # first: what it shows then is what it loaded before the change.
        if signed_in:
            route.fallback()
            return
        if not first_listing:
            answer = route.fetch()
            first_listing.update(status=answer.status, headers=answer.headers, body=answer.body())
        route.fulfill(**first_listing)

    open_logged_in(page, "/programs", control_plane.admin_password)
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-status", "connected")
    # Opened again, signed in already (a new tab, a reload): its socket starts connecting.
    page.route_web_socket(re.compile(r"/api/v1/ws$"), hold)
    page.route(re.compile(r"/api/v1/sessions(\?.*)?$"), listing)
    page.reload()
    badge = page.get_by_test_id(f"session-state-{ticker_session}")
    expect(badge).to_have_text("stopped")
    expect(page.get_by_test_id("live-indicator")).not_to_have_attribute("data-status", "connected")

    admin_api.post(f"/api/v1/sessions/{ticker_session}/start", json={"reason": "e2e"})
    deadline = time.monotonic() + STATE_TIMEOUT_MS / 1000
    while _session_state(admin_api, ticker_session) != "running":
        assert time.monotonic() < deadline, "the session did not start"
        time.sleep(0.1)
    time.sleep(2)  # the supervisor's ticks have told every event of the start by now
    held["server"] = held["page"].connect_to_server()
    held["server"].on_message(to_page)
    for message in from_page:  # the sign-in, sent as the socket opened
        held["server"].send(message)

    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-status", "connected")
    expect(badge).to_have_text("running", timeout=5_000)


def test_bulk_stop_or_restart_of_a_high_priority_pair_needs_an_acknowledgement(
    page: Page, control_plane: ControlPlane, admin_api: httpx.Client, screenshot: Screenshot
) -> None:
    # The high-priority session runs a program that exits at once: a start would change
    # it only once it is between tries or given up, not while it is (re)starting.
    deadline = time.monotonic() + 60
    while _session_state(admin_api, "program1_IN_vi") != "fatal":
        assert time.monotonic() < deadline, "the supervisor did not give up program1_IN_vi"
        time.sleep(0.2)
    wanted_running = [
        session["name"]
        for session in admin_api.get("/api/v1/sessions").json()
        if session["name"].split("_")[1] == "IN" and session["desired"] == "running"
    ]
    try:
        _bulk_stop_country_in(page, control_plane, screenshot)
    finally:  # the other tests find the seed's IN sessions as they were
        for name in wanted_running:
            admin_api.post(
                f"/api/v1/sessions/{name}/start", json={"reason": "e2e cleanup"}
            ).raise_for_status()


def _bulk_stop_country_in(page: Page, control_plane: ControlPlane, screenshot: Screenshot) -> None:
    open_logged_in(page, "/programs", control_plane.admin_password)
    page.get_by_test_id("bulk-country-IN").click()
    dialog = page.get_by_test_id("bulk-dialog")
    expect(dialog).to_be_visible()
    # The seed assigns program1 and program2 to each of the four IN pairs.
    expect(dialog.get_by_test_id("bulk-count")).to_have_text("8")
    warning = dialog.get_by_test_id("bulk-high-priority")
    expect(warning).to_have_count(0)
    # A restart ends each program a while, as a stop does: an admin's, with force.
    dialog.get_by_test_id("bulk-action-restart").check()
    expect(warning).to_contain_text("program1_IN_vi")
    expect(warning).to_contain_text("I confirm restarting high-priority sessions (sent with force)")
    expect(dialog.get_by_test_id("bulk-confirm")).to_be_disabled()
    dialog.get_by_test_id("bulk-acknowledge").check()
    expect(dialog.get_by_test_id("bulk-confirm")).to_be_enabled()
    dialog.get_by_test_id("bulk-action-stop").check()
    expect(warning).to_contain_text("program1_IN_vi")
    expect(dialog.get_by_test_id("bulk-confirm")).to_be_disabled()
    dialog.get_by_test_id("bulk-acknowledge").check()
    # Only the sessions a stop would change count: the other six are stopped already.
    expect(dialog.get_by_test_id("bulk-confirm")).to_have_text("Stop 2 sessions")
    expect(dialog.get_by_test_id("bulk-unchanged")).to_have_text("6 others are already stopped.")
    expect(dialog.get_by_test_id("bulk-confirm")).to_be_enabled()
    screenshot("bulk stop confirmation")

    dialog.get_by_test_id("bulk-reason").fill("maintenance window")
    dialog.get_by_test_id("bulk-confirm").click()
    expect(dialog).to_be_hidden()
    results = page.get_by_test_id("bulk-results")
    expect(results.get_by_test_id("bulk-results-summary")).to_have_text("8 ok")
    vi_result = results.get_by_test_id("bulk-result-program1_IN_vi")
    expect(vi_result).to_have_attribute("data-ok", "true")
    screenshot("bulk results")

    # Once all are stopped a stop would change nothing, and says so.
    page.get_by_test_id("bulk-country-IN").click()
    dialog.get_by_test_id("bulk-action-stop").check()
    expect(dialog.get_by_test_id("bulk-nothing")).to_have_text(
        "8 sessions (every session in IN), all already stopped: nothing to stop.",
        timeout=STATE_TIMEOUT_MS,
    )
    expect(dialog.get_by_test_id("bulk-confirm")).to_have_text("Nothing to stop")
    expect(dialog.get_by_test_id("bulk-confirm")).to_be_disabled()


def test_viewer_sees_sessions_without_buttons(
    page: Page, make_user: Callable[[str, str], str], screenshot: Screenshot
) -> None:
    password = make_user("progviewer", "viewer")
    open_logged_in(page, "/programs", password, username="progviewer")
    expect(page.get_by_test_id("current-role")).to_have_text("viewer")
    expect(page.get_by_test_id("session-program1_UZ_uzmobile")).to_be_visible()
    expect(page.locator("[data-testid^='start-']")).to_have_count(0)
    expect(page.locator("[data-testid^='row-menu-']")).to_have_count(0)
    expect(page.get_by_test_id("bulk-open")).to_have_count(0)

    # Filters narrow the matrix and live in the URL.
    page.get_by_test_id("filter-country").select_option("UZ")
    expect(page.locator("[data-testid^='country-section-']")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"country=UZ"))
    screenshot("viewer filtered")


# How runs ended, as the API tells them after a pair was paused with sends in flight.
LONG_PREVIOUS_EXIT = (
    "went down: its runner ended without recording the program's exit (killed?) when stopped"
    " (pair UZ_uzmobile is paused: its attempts in flight finish first, at most 150 s)"
)
LONG_LAST_EXIT = (
    "killed by signal 9 (SIGKILL) when stopped (pair UZ_uzmobile is paused: its attempts in"
    " flight finish first, at most 150 s)"
)


def test_a_long_exit_text_wraps_and_every_program_of_the_pair_stays_in_view(
    page: Page, control_plane: ControlPlane, screenshot: Screenshot
) -> None:
    """How a run ended can be a sentence: it wraps in its cell, whole, rather than
    widening its column until the pair's other program is off screen."""
    told = {
        "program1_UZ_uzmobile": {
            "last_exit": None,
            "last_exit_code": None,
            "previous_exit": LONG_PREVIOUS_EXIT,
        },
        "program2_UZ_uzmobile": {"last_exit": LONG_LAST_EXIT, "last_exit_code": None},
    }

    def listing(route: Route) -> None:
        answer = route.fetch()
        sessions = answer.json()
        for session in sessions:
            session.update(told.get(session["name"], {}))
        route.fulfill(response=answer, json=sessions)

    page.route(re.compile(r"/api/v1/sessions(\?.*)?$"), listing)
    viewport: ViewportSize = {"width": 1280, "height": 900}
    open_logged_in(page, "/programs", control_plane.admin_password, viewport=viewport)
    section = page.get_by_test_id("country-section-UZ")
    # The whole text, in the page (so read out by a screen reader) and not only in a title.
    for name, text in (
        ("program1_UZ_uzmobile", f"before: {LONG_PREVIOUS_EXIT}"),
        ("program2_UZ_uzmobile", LONG_LAST_EXIT),
    ):
        expect(section.get_by_test_id(f"exit-code-{name}")).to_have_text(text)
    section.scroll_into_view_if_needed()
    screenshot("long exit texts at 1280 px")

    wrap = section.locator(".table-wrap")
    sizes = wrap.evaluate("(wrap) => ({ scroll: wrap.scrollWidth, client: wrap.clientWidth })")
    assert sizes["scroll"] <= sizes["client"], f"the UZ table is wider than its card: {sizes}"
    for name in told:
        cell = section.get_by_test_id(f"session-{name}")
        exit_text = section.get_by_test_id(f"exit-code-{name}")
        for what, box in (("cell", cell.bounding_box()), ("exit text", exit_text.bounding_box())):
            assert box is not None, f"{name}: its {what} is not shown"
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, (
                f"{name}: its {what} [{box['x']}, {box['x'] + box['width']}] is off screen"
            )
        # Seen whole: nothing of it cut off or hidden by its cell.
        clipped = exit_text.evaluate(
            "(text) => text.scrollWidth > text.clientWidth || text.scrollHeight > text.clientHeight"
        )
        assert not clipped, f"{name}: its exit text is cut off"
        expect(section.get_by_test_id(f"logs-{name}")).to_be_in_viewport()
    # Nor does it move its columns away from those of the countries running the same
    # programs: each program's column starts where it does in the others.
    columns: dict[str, list[tuple[str, int]]] = {
        str(code): [(str(name), int(left)) for name, left in headers]
        for code, headers in page.locator("[data-testid^='country-section-']").evaluate_all(
            """sections => sections.map(section => [
                section.dataset.testid,
                [...section.querySelectorAll("thead th")].map(
                    th => [th.textContent, Math.round(th.getBoundingClientRect().left)]
                ),
            ])"""
        )
    }
    uz = columns["country-section-UZ"]
    alike = {code: c for code, c in columns.items() if [n for n, _ in c] == [n for n, _ in uz]}
    assert len(alike) >= 2, columns
    assert all(c == uz for c in alike.values()), alike


def test_a_pair_placed_on_another_host_runs_and_logs_there(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    screenshot: Screenshot,
) -> None:
    program, pair = "edgeticker", "KG_megacom"
    name = f"{program}_{pair}"
    created = admin_api.post(
        "/api/v1/programs",
        json={"name": program, "command": control_plane.install("ticker", TICKER_SOURCE)},
    )
    assert created.status_code == 201, created.text
    edge = ScreenBackend(
        control_plane.data_dir / "edge1" / "sessions", screen_dir=control_plane.edge_screen_dir
    )
    try:
        open_logged_in(page, "/pairs", control_plane.admin_password)
        page.get_by_test_id("add-pair").click()
        dialog = page.get_by_test_id("pair-dialog")
        dialog.get_by_test_id("pair-country").select_option("KG")
        dialog.get_by_test_id("pair-operator").fill("Megacom")
        dialog.get_by_test_id("pair-phones").fill("+996700123456")  # with none, it runs not
        expect(dialog.get_by_test_id("pair-host")).to_have_value("local")
        dialog.get_by_test_id("pair-host").select_option("edge1")
        dialog.get_by_test_id(f"pair-program-{program}").check()
        # Its session starts on save (the form's default), there.
        expect(dialog.get_by_test_id("pair-start-sessions")).to_be_checked()
        screenshot("pair placed on edge1")
        dialog.get_by_test_id("pair-save").click()
        expect(dialog).to_be_hidden()
        assert admin_api.get(f"/api/v1/pairs/{pair}").json()["host"] == "edge1"
        page.goto("/programs")
        edge_chip = page.get_by_test_id("host-edge1")
        expect(edge_chip).not_to_contain_text("unreachable")
        expect(page.get_by_test_id(f"session-state-{name}")).to_have_text(
            "running", timeout=STATE_TIMEOUT_MS
        )
        assert [entry.name for entry in edge.list()] == [name]  # there, not here
        expect(edge_chip).to_contain_text("1/1 running", timeout=15_000)
        # With sessions on two hosts, the page filters by host.
        page.get_by_test_id("filter-host").select_option("edge1")
        expect(page.get_by_test_id(f"session-state-{name}")).to_be_visible()
        expect(page.get_by_test_id("country-section-IN")).to_have_count(0)
        page.get_by_test_id("filter-host").select_option("")

        page.get_by_test_id(f"open-logs-{name}").click()
        drawer = page.get_by_test_id("log-drawer")
        expect(drawer).to_contain_text("host edge1")
        expect(drawer.get_by_test_id("log-lines")).to_contain_text("tick")
        screenshot("session on edge1 with its log")
        page.keyboard.press("Escape")

        page.get_by_test_id(f"stop-{name}").click()
        expect(page.get_by_test_id(f"session-state-{name}")).to_have_text(
            "stopped", timeout=STATE_TIMEOUT_MS
        )
        assert edge.list() == []
    finally:
        remove_session(admin_api, name, pair, program)
