"""A pair's sessions as an operator meets them: a new pair's start and a program added's, a
paused pair's why and Resume (paused by a person or by the policy on its evidence, its times
in UTC whatever the browser's zone), and the confirmation a high-priority session's stop or
restart asks of an admin."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.support.e2e import AT_REST, DESKTOP, VIEWPORTS, ControlPlane, open_logged_in
from tests.support.waiting import eventually
from tests.support.workers import Worker, worker_for

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]

PULSE_SOURCE = "import time\nwhile True:\n    print('pulse', flush=True)\n    time.sleep(0.5)"
PROGRAM = "pulse"
PAIR = "MN_unitel"
SESSION = f"{PROGRAM}_{PAIR}"
# Its test number: a pair with none runs no session.
PHONE = "+97688123456"
STATE_TIMEOUT_MS = 15_000


def log_out(page: Page) -> None:
    """Drops this tab's login (kept in sessionStorage): the next page asks for one."""
    page.evaluate("() => sessionStorage.clear()")
    page.goto("/login")


def session_events(admin_api: httpx.Client, name: str) -> list[dict[str, Any]]:
    answer = admin_api.get(f"/api/v1/sessions/{name}/events", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()
    return events


def wait_for_state(admin_api: httpx.Client, name: str, state: str) -> None:
    eventually(
        lambda: admin_api.get(f"/api/v1/sessions/{name}").json()["state"] == state,
        STATE_TIMEOUT_MS / 1000,
        f"{name} to be {state}",
    )


@pytest.fixture
def pulse(admin_api: httpx.Client, control_plane: ControlPlane) -> Iterator[str]:
    """Program `pulse` installed and defined; its pair and the program removed afterwards."""
    program = admin_api.post(
        "/api/v1/programs",
        json={"name": PROGRAM, "command": control_plane.install(PROGRAM, PULSE_SOURCE)},
    )
    assert program.status_code == 201, program.text
    try:
        yield PROGRAM
    finally:
        # With force: a test may have made the pair high priority.
        admin_api.post(
            f"/api/v1/sessions/{SESSION}/stop", json={"reason": "e2e cleanup", "force": True}
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = admin_api.get(f"/api/v1/sessions/{SESSION}")
            if answer.status_code != 200 or answer.json()["state"] in AT_REST:
                break
            time.sleep(0.2)
        admin_api.delete(f"/api/v1/pairs/{PAIR}", params={"force": True})
        admin_api.delete(f"/api/v1/programs/{PROGRAM}")


@VIEWPORTS
def test_a_new_pairs_session_starts_and_a_paused_pair_says_why_with_resume(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    pulse: str,
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    open_logged_in(page, "/pairs", control_plane.admin_password, viewport=viewport)
    page.get_by_test_id("add-pair").click()
    dialog = page.get_by_test_id("pair-dialog")
    dialog.get_by_test_id("pair-country").select_option("MN")
    dialog.get_by_test_id("pair-operator").fill("Unitel")
    dialog.get_by_test_id("pair-phones").fill(PHONE)
    # The form says what happens to the sessions, and starts them unless told not to.
    expect(dialog.get_by_test_id("pair-start-sessions")).to_have_count(0)
    dialog.get_by_test_id(f"pair-program-{pulse}").check()
    start = dialog.get_by_test_id("pair-start-sessions")
    expect(start).to_be_checked()
    expect(dialog).to_contain_text("Start its session on save.")
    start.uncheck()
    expect(dialog).to_contain_text("they stay stopped until started on the Programs page")
    start.check()
    screenshot("new pair starts its sessions")
    dialog.get_by_test_id("pair-save").click()
    expect(dialog).to_be_hidden()

    page.goto(f"/programs?country={PAIR[:2]}")
    badge = page.get_by_test_id(f"session-state-{SESSION}")
    expect(badge).to_have_text("running", timeout=STATE_TIMEOUT_MS)
    expect(page.get_by_test_id(f"pair-note-{PAIR}")).to_have_count(0)

    # Paused (here by a person; the policy's pause reads the same, with its evidence):
    # the row says by whom, since when and why, and offers Resume.
    paused = admin_api.patch(
        f"/api/v1/pairs/{PAIR}", json={"state": "paused", "state_reason": "route under check"}
    )
    assert paused.status_code == 200, paused.text
    # Not reloaded: the open page hears of the change (as another operator's would).
    note = page.get_by_test_id(f"pair-note-{PAIR}")
    expect(note).to_contain_text(
        re.compile(r"Paused by admin — since \d\d:\d\d UTC: route under check")
    )
    expect(badge).to_have_text("stopped", timeout=STATE_TIMEOUT_MS)
    # Stopped because its pair is paused: no "→ running" beside it, the row says why.
    cell = page.get_by_test_id(f"session-{SESSION}")
    expect(cell.get_by_test_id("desired-hint")).to_have_count(0)
    # A restart asked for meanwhile says it waits for its pair.
    page.get_by_test_id(f"restart-{SESSION}").click()
    expect(
        page.get_by_test_id("toast").filter(has_text=f"Restart requested for {SESSION}")
    ).to_contain_text(f"its pair {PAIR} runs no sessions (route under check)")
    screenshot("paused pair on the programs page")
    note.get_by_test_id(f"resume-{PAIR}").click()
    expect(note).to_have_count(0)
    expect(badge).to_have_text("running", timeout=STATE_TIMEOUT_MS)
    assert admin_api.get(f"/api/v1/pairs/{PAIR}").json()["state"] == "enabled"

    # The pairs page says the same under the pair's row, with Resume too.
    admin_api.patch(f"/api/v1/pairs/{PAIR}", json={"state": "paused", "state_reason": "again"})
    page.goto("/pairs")
    row_note = page.get_by_test_id(f"pair-note-row-{PAIR}")
    expect(row_note).to_contain_text("Paused by admin")
    screenshot("paused pair on the pairs page")
    row_note.get_by_test_id(f"resume-{PAIR}").click()
    expect(page.get_by_test_id("notice")).to_contain_text(f"{PAIR} resumed")
    expect(row_note).to_have_count(0)


# The policy's pause as it writes it: at least 20 completed attempts, confidently under the
# 50 % pause line (5 of 20 delivered: the upper bound of its 95 % interval is 47 %).
POLICY_OUTCOMES = ["delivered"] * 5 + ["not_delivered"] * 15
POLICY_EVIDENCE = (
    "5 of 20 delivered (25 %) in the last 30 min: below the 50 % pause line with 95 % confidence"
)
# What the pause says of its way back: the 2-minute cool-down, and when probing starts.
POLICY_COOLDOWN = r"; probed from \d\d:\d\d:\d\d UTC, after a cool-down of 2 min"
POLICY_NOTE = re.compile(
    rf"Paused by policy — since \d\d:\d\d UTC: {re.escape(POLICY_EVIDENCE)}" + POLICY_COOLDOWN
)
# Leases of a country are spaced 60/cap s apart: raised so the attempts come at once.
FAST_CAP = 600


@pytest.fixture
def policy_worker(
    admin_api: httpx.Client, control_plane: ControlPlane, pulse: str, viewport: ViewportSize
) -> Iterator[Worker]:
    """A pair of its own per screen size (the policy judges a pair on its attempts of the last
    30 min) with `pulse` running and a test number, its country's cap raised; the worker of
    its session. The pair and the cap are put back afterwards."""
    country = PAIR[:2]
    old_cap = admin_api.get(f"/api/v1/countries/{country}").json()["cap"]
    assert admin_api.patch(
        f"/api/v1/countries/{country}?force=true", json={"cap": FAST_CAP}
    ).is_success
    slug = f"policy{viewport['width']}"
    created = admin_api.post(
        "/api/v1/pairs",
        json={
            "country": country,
            "operator": f"Policy {viewport['width']}",
            "slug": slug,
            "phone_numbers": ["+97699123456"],
            "programs": [pulse],
            "start_sessions": True,
        },
    )
    assert created.status_code == 201, created.text
    key = f"{country}_{slug}"
    client = httpx.Client(base_url=control_plane.url, timeout=10.0)
    try:
        yield worker_for(control_plane, client, f"{pulse}_{key}")
    finally:
        client.close()
        admin_api.post(f"/api/v1/sessions/{pulse}_{key}/stop", json={"reason": "e2e cleanup"})
        eventually(
            lambda: admin_api.get(f"/api/v1/sessions/{pulse}_{key}").json()["state"] in AT_REST,
            10,
            "the session to stop",
        )
        admin_api.delete(f"/api/v1/pairs/{key}")
        admin_api.patch(f"/api/v1/countries/{country}?force=true", json={"cap": old_cap})


def pause_by_policy(admin_api: httpx.Client, worker: Worker) -> str:
    """Reports the attempts that make the policy pause the worker's pair; the pair's key."""
    key = worker.session.removeprefix(f"{PROGRAM}_")
    wait_for_state(admin_api, worker.session, "running")
    for outcome in POLICY_OUTCOMES:
        worker.attempt(outcome, 900 if outcome == "delivered" else None)
    # Its own tick (every 30 s) may come first: either way the pause is the policy's.
    assert admin_api.post("/api/v1/policy/evaluate").status_code == 200
    pair = admin_api.get(f"/api/v1/pairs/{key}").json()
    assert (pair["state"], pair["state_actor"]) == ("paused", "policy")
    assert re.fullmatch(
        re.escape(f"paused by the policy: {POLICY_EVIDENCE}") + POLICY_COOLDOWN,
        pair["state_reason"],
    )
    return key


@VIEWPORTS
def test_a_pair_paused_by_the_policy_says_its_evidence_with_resume(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    policy_worker: Worker,
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    page.set_viewport_size(viewport)
    session = policy_worker.session
    key = pause_by_policy(admin_api, policy_worker)

    # The Alerts page's decisions: the pause, on the bound it was taken on.
    open_logged_in(page, "/alerts", control_plane.admin_password)
    decision = (
        page.get_by_test_id("decisions-table")
        .get_by_test_id("decision-row")
        .filter(has=page.locator("code", has_text=key))
        .first
    )
    expect(decision).to_contain_text("paused")
    expect(decision.get_by_test_id("decision-bound")).to_contain_text("upper bound")

    # The Programs page: the pair's row says since when and on what evidence; Resume works.
    page.goto(f"/programs?country={PAIR[:2]}")
    note = page.get_by_test_id(f"pair-note-{key}")
    expect(note).to_contain_text(POLICY_NOTE)
    badge = page.get_by_test_id(f"session-state-{session}")
    expect(badge).to_have_text("stopped", timeout=STATE_TIMEOUT_MS)
    expect(page.get_by_test_id(f"session-{session}").get_by_test_id("desired-hint")).to_have_count(
        0
    )
    screenshot("paused by the policy on the programs page")
    note.get_by_test_id(f"resume-{key}").click()
    expect(note).to_have_count(0)
    expect(badge).to_have_text("running", timeout=STATE_TIMEOUT_MS)
    resumed = admin_api.get(f"/api/v1/pairs/{key}").json()
    assert (resumed["state"], resumed["state_actor"]) == ("enabled", "admin")

    # Paused again on new evidence (a resumed pair is judged on what it sent since): the
    # Pairs page says the same under its row, and its Resume works too.
    pause_by_policy(admin_api, policy_worker)
    page.goto("/pairs")
    row_note = page.get_by_test_id(f"pair-note-row-{key}")
    expect(row_note).to_contain_text(POLICY_NOTE)
    # A paused pair's success cell shows the figures this pause was taken on (the sends
    # since the resume), as its reason does; its title says so, then what comes next.
    success = page.get_by_test_id(f"pair-row-{key}").locator(
        "td[title^='Figures: what paused it at ']"
        "[title*='Policy: in its cool-down of 2 min: probed from ']"
    )
    expect(success).to_have_text(re.compile(r"^25 % 5/20\s*$"))
    screenshot("paused by the policy on the pairs page")
    row_note.get_by_test_id(f"resume-{key}").click()
    expect(page.get_by_test_id("notice")).to_contain_text(f"{key} resumed")
    expect(row_note).to_have_count(0)
    assert admin_api.get(f"/api/v1/pairs/{key}").json()["state"] == "enabled"
    wait_for_state(admin_api, session, "running")


# Five hours east of UTC: a time shown in the browser's own zone would be 5 h off the
# server's, and a day ahead of it late in the UTC evening.
TASHKENT = "Asia/Tashkent"


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["1440"])
def test_a_browser_in_another_zone_reads_the_pause_and_its_reason_in_utc(
    browser: Browser,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    policy_worker: Worker,
    viewport: ViewportSize,
) -> None:
    key = pause_by_policy(admin_api, policy_worker)
    changed = datetime.fromisoformat(
        admin_api.get(f"/api/v1/pairs/{key}").json()["state_changed_at"]
    )
    context = browser.new_context(
        base_url=control_plane.url, viewport=viewport, timezone_id=TASHKENT
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        open_logged_in(page, f"/programs?country={PAIR[:2]}", control_plane.admin_password)
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == TASHKENT
        note = page.get_by_test_id(f"pair-note-{key}")
        expect(note).to_contain_text(POLICY_NOTE)
        text = note.inner_text()
        # The page's own time (since when) and the time in the server's reason (probed
        # from, the end of the 2-minute cool-down) are both UTC: the one is the pause's
        # minute, the other 2 min after the pause.
        since = re.search(r"since (\d\d:\d\d) UTC", text)
        probed = re.search(r"probed from (\d\d:\d\d:\d\d) UTC", text)
        assert since is not None and probed is not None, text
        assert since[1] == changed.astimezone(UTC).strftime("%H:%M")
        day = changed.astimezone(UTC).date()
        start = datetime.combine(day, datetime.strptime(since[1], "%H:%M").time(), UTC)
        end = datetime.combine(day, datetime.strptime(probed[1], "%H:%M:%S").time(), UTC)
        if end < start:  # the cool-down ends past midnight
            end += timedelta(days=1)
        assert timedelta(minutes=2) <= end - start < timedelta(minutes=3), text
    finally:
        context.close()


@VIEWPORTS
def test_restarting_a_high_priority_session_asks_an_admin_first(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    page.set_viewport_size(viewport)
    name = "program1_IN_vi"  # IN_vi is the seed's high-priority pair

    def events() -> list[dict[str, Any]] | None:
        answer = admin_api.get(f"/api/v1/sessions/{name}/events")
        return answer.json() if answer.status_code == 200 else None

    # The supervisor makes the seed's sessions at its first tick. Its program exits at
    # once: a restart is carried out once the supervisor has given it up, not while it
    # is between tries.
    eventually(events, 15, f"{name} to exist")
    eventually(
        lambda: admin_api.get(f"/api/v1/sessions/{name}").json()["state"] == "fatal",
        60,
        f"the supervisor to give {name} up",
    )

    def restarts() -> int:
        return sum(1 for event in eventually(events) if event["kind"] == "restart_requested")

    before = restarts()
    open_logged_in(page, "/programs?country=IN", control_plane.admin_password)
    page.get_by_test_id(f"restart-{name}").click()
    dialog = page.get_by_test_id("force-restart-dialog")
    expect(dialog).to_contain_text(f"Restart {name}?")
    expect(dialog.get_by_test_id("high-priority-warning")).to_contain_text(
        "The restart is sent with force"
    )
    expect(dialog.get_by_test_id("confirm-button")).to_be_disabled()  # until acknowledged
    screenshot("high-priority restart confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert restarts() == before  # cancelled: nothing asked

    asked_before = admin_api.get(f"/api/v1/sessions/{name}").json()["requested_restarts"]
    page.get_by_test_id(f"restart-{name}").click()
    dialog.get_by_test_id("confirm-acknowledge").check()
    dialog.get_by_test_id("confirm-button").click()
    expect(dialog).to_be_hidden()
    eventually(lambda: restarts() == before + 1, 5, "the restart to be asked")
    asked = next(e for e in eventually(events) if e["kind"] == "restart_requested")
    assert asked["details"] == {"force": True}
    # Carried out, it counts as asked for, not as one of the supervisor's own restarts.
    expect(page.get_by_test_id(f"requested-restarts-{name}")).to_contain_text(
        f"+{asked_before + 1} asked", timeout=15_000
    )


@VIEWPORTS
def test_stopping_a_high_priority_session_asks_an_admin_and_is_off_for_operators(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    pulse: str,
    make_user: Callable[[str, str], str],
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    page.set_viewport_size(viewport)
    created = admin_api.post(
        "/api/v1/pairs",
        json={
            "country": PAIR[:2],
            "operator": "Unitel",
            "phone_numbers": [PHONE],
            "is_high_priority": True,
            "programs": [pulse],
            # Said, not left to the high priority: an earlier test's session of the same
            # name may not be cleared away yet, and would come back stopped.
            "start_sessions": True,
        },
    )
    assert created.status_code == 201, created.text
    wait_for_state(admin_api, SESSION, "running")

    def stops() -> list[dict[str, Any]]:
        """The session's stop requests, newest first (earlier tests' cleanups included)."""
        return [e for e in session_events(admin_api, SESSION) if e["kind"] == "stop_requested"]

    before = len(stops())

    # An operator's Stop and Restart are off, and say who can; the row says it too (no hover
    # on a tablet).
    username = f"hpops{viewport['width']}"
    password = make_user(username, "operator")
    open_logged_in(page, f"/programs?country={PAIR[:2]}", password, username=username)
    stop = page.get_by_test_id(f"stop-{SESSION}")
    expect(stop).to_be_disabled()
    expect(stop).to_have_accessible_description(
        f"Only an admin can stop {SESSION}: its pair is high priority"
    )
    restart = page.get_by_test_id(f"restart-{SESSION}")
    expect(restart).to_be_disabled()
    expect(restart).to_have_accessible_description(
        f"Only an admin can restart {SESSION}: its pair is high priority"
    )
    expect(page.get_by_test_id(f"admin-stop-hint-{PAIR}")).to_have_text(
        "Only an admin can stop or restart its sessions."
    )
    screenshot("operator cannot stop a high-priority session")
    log_out(page)

    # An admin's Stop asks first; Cancel sends nothing and the session keeps running.
    open_logged_in(page, f"/programs?country={PAIR[:2]}", control_plane.admin_password)
    expect(page.get_by_test_id(f"admin-stop-hint-{PAIR}")).to_have_count(0)
    page.get_by_test_id(f"stop-{SESSION}").click()
    dialog = page.get_by_test_id("force-stop-dialog")
    expect(dialog).to_contain_text(f"Stop {SESSION}?")
    expect(dialog.get_by_test_id("high-priority-warning")).to_contain_text(
        "The stop is sent with force"
    )
    expect(dialog.get_by_test_id("confirm-button")).to_be_disabled()  # until acknowledged
    screenshot("high-priority stop confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert len(stops()) == before
    session = admin_api.get(f"/api/v1/sessions/{SESSION}").json()
    assert (session["state"], session["desired"]) == ("running", "running")

    # Confirmed, it is stopped with force, under the admin's name.
    page.get_by_test_id(f"stop-{SESSION}").click()
    dialog.get_by_test_id("confirm-acknowledge").check()
    dialog.get_by_test_id("confirm-button").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id(f"session-state-{SESSION}")).to_have_text(
        "stopped", timeout=STATE_TIMEOUT_MS
    )
    stopped = stops()
    assert len(stopped) == before + 1
    assert (stopped[0]["actor"], stopped[0]["details"]) == ("admin", {"force": True})
    assert admin_api.get(f"/api/v1/sessions/{SESSION}").json()["desired"] == "stopped"


@VIEWPORTS
def test_a_program_added_to_a_pair_starts_its_session_unless_told_not_to(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    pulse: str,
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    page.set_viewport_size(viewport)
    created = admin_api.post(
        "/api/v1/pairs",
        json={"country": PAIR[:2], "operator": "Unitel", "phone_numbers": [PHONE]},
    )
    assert created.status_code == 201, created.text
    open_logged_in(page, "/pairs", control_plane.admin_password)
    page.get_by_test_id(f"edit-{PAIR}").click()
    dialog = page.get_by_test_id("pair-dialog")
    # The edit form offers what the new pair's form does, for the programs it adds.
    expect(dialog.get_by_test_id("pair-start-sessions")).to_have_count(0)
    dialog.get_by_test_id(f"pair-program-{pulse}").check()
    start = dialog.get_by_test_id("pair-start-sessions")
    expect(start).to_be_checked()
    expect(dialog).to_contain_text(f"Start the session of {pulse} on save.")
    start.uncheck()
    expect(dialog).to_contain_text("they stay stopped until started on the Programs page")
    start.check()
    screenshot("program added starts its session")
    dialog.get_by_test_id("pair-save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("notice")).to_contain_text(f"{PAIR} saved")

    page.goto(f"/programs?country={PAIR[:2]}")
    expect(page.get_by_test_id(f"session-state-{SESSION}")).to_have_text(
        "running", timeout=STATE_TIMEOUT_MS
    )
    session = admin_api.get(f"/api/v1/sessions/{SESSION}").json()
    assert (session["desired"], session["desired_actor"]) == ("running", "admin")


def test_pairs_sort_by_a_column_and_back(page: Page, control_plane: ControlPlane) -> None:
    open_logged_in(page, "/pairs", control_plane.admin_password)
    rows = page.get_by_test_id("other-section").locator("tbody tr[data-testid^='pair-row-']")
    expect(rows.first).to_be_visible()

    def keys() -> list[str]:
        return [
            str(row.get_attribute("data-testid")).removeprefix("pair-row-") for row in rows.all()
        ]

    default = keys()
    header = page.get_by_test_id("other-section").get_by_test_id("sort-key")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert keys() == sorted(default)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert keys() == sorted(default, reverse=True)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "none")
    assert keys() == default
