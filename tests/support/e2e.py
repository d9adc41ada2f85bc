"""What the browser tests share with their fixtures (tests/e2e/conftest.py): the running
control plane's description, where screenshots go, the two screen sizes tests run at,
the states of a session at rest, alerts raised by hand, the check that a table sorts by
a column, and the checks several pages' tests make (the dashboard's numbers against the
API, the log drawer, a number's conversation, the connection offline)."""

from __future__ import annotations

import math
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.support.messages import sms
from tests.support.programs import install_program
from tests.support.workers import Worker, worker_for

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
# States in which a session has no process left.
AT_REST = {"stopped", "exited", "fatal"}


def kz_number(slug: str) -> str:
    """A KZ test number of the pair of `slug` alone: a pair with none runs no session."""
    return f"+7701{zlib.crc32(slug.encode()) % 10**7:07d}"


Screenshot = Callable[[str], Path]
# A desktop and a tablet (where the sidebar folds into a menu and the matrix stacks).
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
TABLET: ViewportSize = {"width": 820, "height": 1180}
# The laptop most new users first look on: the sidebar leaves the page some 1,000 px.
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
# `@VIEWPORTS` runs a test at both; it takes `viewport` and sets it first.
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["1440", "820"])


def log_in(page: Page, password: str, username: str = "admin") -> None:
    """Fill and send the login form the page shows."""
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def open_logged_in(
    page: Page,
    path: str,
    password: str,
    *,
    viewport: ViewportSize | None = None,
    username: str = "admin",
) -> None:
    """Open `path` (at `viewport`, when given) and log in on the login page it leads to."""
    if viewport is not None:
        page.set_viewport_size(viewport)
    page.goto(path)
    log_in(page, password, username)


@dataclass(frozen=True)
class ControlPlane:
    url: str
    admin_password: str
    screen_dir: Path
    data_dir: Path
    # Host `edge1` of its inventory: a loopback sshd with screens of its own.
    edge_screen_dir: Path
    # A program directory of its own (beside the checkout's), where tests install programs.
    programs_dir: Path

    def install(self, name: str, source: str) -> list[str]:
        """Install `source` as a program, as an admin would; the command that runs it."""
        return install_program(self.programs_dir, name, source)


def add_program(
    api: httpx.Client, plane: ControlPlane, name: str, source: str, **fields: str
) -> None:
    """`source` installed and defined as program `name` (on the provider `loopback` unless
    `fields` say otherwise)."""
    response = api.post(
        "/api/v1/programs",
        json={"name": name, "command": plane.install(name, source), "provider": "loopback"}
        | fields,
    )
    assert response.status_code == 201, response.text


@contextmanager
def raised_alerts(api: httpx.Client, messages: Iterable[str]) -> Iterator[list[str]]:
    """Alerts raised by hand (the seed's `POST /alert`, critical), their ids; acknowledged,
    so resolved, afterwards."""
    ids = []
    try:
        for message in messages:
            response = api.post("/alert", json={"message": message})
            assert response.status_code == 202, response.text
            ids.append(response.json()["alert_id"])
        yield ids
    finally:
        for alert_id in ids:
            api.post(f"/api/v1/alerts/{alert_id}/ack", json={})


def natural(text: str) -> tuple[str | int, ...]:
    """Text in the order the tables sort it: case aside, runs of digits by their number
    ('b2' before 'B10')."""
    return tuple(
        int(part) if index % 2 else part.casefold()
        for index, part in enumerate(re.split(r"(\d+)", text))
    )


def expect_sorts_by(header: Locator, values: Callable[[], Sequence[Any]]) -> None:
    """Clicking a sortable column's header orders the rows by that column, clicking it again
    reverses them, and a third click gives back the order they came in.

    `values` reads that column's value of the rows looked at, in the order shown, as values
    Python orders the way the table does (numbers, `natural` for text); None is an empty
    cell, last in either direction. Numeric columns start largest first, text A to Z:
    whichever the header says (`aria-sort`) is checked.
    """
    given = list(values())
    filled = [value for value in given if value is not None]
    assert len(set(filled)) > 1, f"rows with at least two values are needed to tell: {given}"
    empty = [None] * (len(given) - len(filled))
    button = header.get_by_role("button")
    # Mid-screen: at the foot of the window the alert toasts may cover it, as they would
    # a person's click.
    button.evaluate("button => button.scrollIntoView({block: 'center'})")
    button.click()
    expect(header).not_to_have_attribute("aria-sort", "none")
    descending = header.get_attribute("aria-sort") == "descending"
    assert list(values()) == sorted(filled, reverse=descending) + empty
    button.click()
    expect(header).to_have_attribute("aria-sort", "ascending" if descending else "descending")
    assert list(values()) == sorted(filled, reverse=not descending) + empty
    button.click()
    expect(header).to_have_attribute("aria-sort", "none")
    assert list(values()) == given


# --- the dashboard's numbers against the API ----------------------------------------------

DASHBOARD_COUNTRY = "KG"
# A country cap high enough that the test never waits long for a lease (spaced 60/cap s).
DASHBOARD_CAP = 600
DASHBOARD_PROGRAM = "dashprobe"
# Harmless: the session only needs to be wanted running for the dispatcher to lease.
SLEEPER = "import time\ntime.sleep(600)\n"
DASHBOARD_PAIRS: list[dict[str, Any]] = [
    {
        "country": DASHBOARD_COUNTRY,
        "operator": "Beeline",
        "slug": "beeline",
        "phone": "+996777123456",
    },
    {
        "country": DASHBOARD_COUNTRY,
        "operator": "MegaCom",
        "slug": "megacom",
        "phone": "+996555123456",
    },
]
BEELINE = f"{DASHBOARD_COUNTRY}_beeline"
MEGACOM = f"{DASHBOARD_COUNTRY}_megacom"
# (outcome, delivery latency in ms or None) per attempt.
# (outcome, latency in ms or error code): an error coded `interrupted` is broken off.
DATA_SET: dict[str, list[tuple[str, int | str | None]]] = {
    BEELINE: [
        ("delivered", 800),
        ("delivered", 1_200),
        ("delivered", 1_500),
        ("delivered", 2_100),
        ("delivered", 2_600),
        ("delivered", 4_300),
        ("not_delivered", None),
        ("not_delivered", None),
        ("send_failed", None),
    ],
    MEGACOM: [
        ("delivered", 650),
        ("delivered", 900),
        ("delivered", 7_000),
        ("error", None),
        ("error", "interrupted"),
    ],
}
# "Now" on the dashboard: sent per minute and the cap chart, both over the goals' window.
RECENT_MINUTES = 2
# Those figures slide with time and the page reloads them every 15 s when no attempt
# comes: screen and API are compared until they agree, for at most this long.
AGREE_SECONDS = 25
# Bars and goal lines are drawn on whole-ish pixels.
PIXELS = 1.5


def _wait_running(admin_api: httpx.Client, names: list[str]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        states = {n: admin_api.get(f"/api/v1/sessions/{n}").json()["state"] for n in names}
        if all(state == "running" for state in states.values()):
            return
        time.sleep(0.2)
    pytest.fail(f"sessions not running: {states}")


@contextmanager
def dashboard_workers(
    control_plane: ControlPlane, admin_api: httpx.Client
) -> Iterator[dict[str, Worker]]:
    """Two KG pairs with one running session each, the KG cap raised, a worker per pair (by
    its key); all removed afterwards."""
    country = admin_api.get(f"/api/v1/countries/{DASHBOARD_COUNTRY}")
    assert country.status_code == 200, country.text
    old_cap = country.json()["cap"]
    response = admin_api.patch(
        f"/api/v1/countries/{DASHBOARD_COUNTRY}?force=true", json={"cap": DASHBOARD_CAP}
    )
    assert response.status_code == 200, response.text
    add_program(admin_api, control_plane, DASHBOARD_PROGRAM, SLEEPER)
    for pair in DASHBOARD_PAIRS:
        body = {k: v for k, v in pair.items() if k != "phone"}
        body |= {"phone_numbers": [pair["phone"]], "programs": [DASHBOARD_PROGRAM]}
        response = admin_api.post("/api/v1/pairs", json=body)
        assert response.status_code == 201, response.text
    sessions = [f"{DASHBOARD_PROGRAM}_{key}" for key in (BEELINE, MEGACOM)]
    for name in sessions:
        response = admin_api.post(f"/api/v1/sessions/{name}/start", json={"reason": "e2e"})
        assert response.status_code == 200, response.text
    client = httpx.Client(base_url=control_plane.url, timeout=10.0)
    try:
        _wait_running(admin_api, sessions)
        yield {
            name.removeprefix(f"{DASHBOARD_PROGRAM}_"): worker_for(control_plane, client, name)
            for name in sessions
        }
    finally:
        client.close()
        for name in sessions:
            admin_api.post(f"/api/v1/sessions/{name}/stop", json={"reason": "e2e cleanup"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = {admin_api.get(f"/api/v1/sessions/{n}").json()["state"] for n in sessions}
            if states <= AT_REST:
                break
            time.sleep(0.2)
        for pair in DASHBOARD_PAIRS:
            admin_api.delete(f"/api/v1/pairs/{pair['country']}_{pair['slug']}")
        admin_api.delete(f"/api/v1/programs/{DASHBOARD_PROGRAM}")
        admin_api.patch(f"/api/v1/countries/{DASHBOARD_COUNTRY}?force=true", json={"cap": old_cap})


def record_data_set(workers: dict[str, Worker]) -> None:
    """The known data set, through the worker API."""
    for key, attempts in DATA_SET.items():
        for outcome, detail in attempts:
            if isinstance(detail, str):
                workers[key].report(workers[key].lease()["trigger_id"], outcome, error_code=detail)
            else:
                workers[key].attempt(outcome, detail)


# The page's formats, from the API's figures.


def count(value: int) -> str:
    return f"{value:,}"


def rate(per_minute: float) -> str:
    """A per-minute rate as the page's Intl format says it: one decimal, halves up."""
    return f"{Decimal(str(per_minute)).quantize(Decimal('0.1'), ROUND_HALF_UP):,}"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def seconds(ms: float | None) -> str:
    """A latency as the page says it: `2.4 s`, `42 s`, `1 min 41 s`."""
    if ms is None:
        return "—"
    if ms < 10_000:
        return f"{ms / 1000:.1f} s"
    whole = math.floor(ms / 1000 + 0.5)  # as the page's Math.round
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def summary(admin_api: httpx.Client, window: str, group_by: str | None = None) -> dict[str, Any]:
    params = {"window": window, **({"group_by": group_by} if group_by else {})}
    response = admin_api.get("/api/v1/metrics/summary", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def agree(read: Callable[[], tuple[object, object]], what: str) -> None:
    """Until `read` gives (on screen, from the API) alike; fails with the last two seen."""
    deadline = time.monotonic() + AGREE_SECONDS
    while True:
        shown, expected = read()
        if shown == expected:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: on screen {shown!r}, from the API {expected!r}")
        time.sleep(0.3)


def expect_recent_matches_api(page: Page, admin_api: httpx.Client) -> None:
    """Granted per minute against the goal (the goals' sums: what the caps count) and the
    sends reported, over the last minutes."""

    def read() -> tuple[object, object]:
        goals = admin_api.get("/api/v1/dispatch/goals").json()
        sent = summary(admin_api, f"{RECENT_MINUTES}m")["totals"]["sent"]
        shown = tuple(
            page.get_by_test_id(test_id).inner_text()
            for test_id in ("kpi-granted-per-minute", "kpi-goal", "kpi-sent-recent")
        )
        granted = sum(goal["achieved_per_minute"] for goal in goals)
        # A country no session is wanted running in is expected to send nothing.
        goal = sum(g["goal_per_minute"] for g in goals if g["reason_kind"] != "no_session")
        return shown, (rate(granted), count(goal), count(sent))

    agree(read, "granted per minute")


def expect_cap_chart_matches_api(page: Page, admin_api: httpx.Client) -> None:
    """Each country's bar stands at its granted sends per minute and its goal line at its
    cap, on the chart's one scale, as GET /api/v1/dispatch/goals says; each says so in words."""
    chart = page.get_by_test_id("chart-caps")

    def read() -> tuple[object, object]:
        goals = admin_api.get("/api/v1/dispatch/goals").json()
        drawn = chart.evaluate(
            """(chart) => Object.fromEntries(
                [...chart.querySelectorAll("[data-testid^='cap-']")].map((mark) => [
                    mark.dataset.testid,
                    {
                        label: mark.getAttribute("aria-label"),
                        top: Number(mark.getAttribute(mark.tagName === "line" ? "y1" : "y")),
                        height: Number(mark.getAttribute("height") ?? 0),
                    },
                ]),
            )"""
        )
        bars = {g["country"]: drawn.get(f"cap-bar-{g['country']}") for g in goals}
        lines = {g["country"]: drawn.get(f"cap-goal-{g['country']}") for g in goals}
        if None in bars.values() or None in lines.values():
            wanted = (f"cap-{kind}-{g['country']}" for g in goals for kind in ("bar", "goal"))
            return sorted(drawn), sorted(wanted)
        baseline = max(bar["top"] + bar["height"] for bar in bars.values())
        # Pixels per send a minute, from the largest goal's line (the axis is sized to it).
        top = max(goals, key=lambda g: g["goal_per_minute"])
        scale = (baseline - lines[top["country"]]["top"]) / top["goal_per_minute"]
        shown: dict[str, object] = {}
        expected: dict[str, object] = {}
        for goal in goals:
            country, bar, line = goal["country"], bars[goal["country"]], lines[goal["country"]]
            shown[country] = (
                bar["label"],
                line["label"],
                abs(bar["height"] - goal["achieved_per_minute"] * scale) <= PIXELS,
                abs(baseline - line["top"] - goal["goal_per_minute"] * scale) <= PIXELS,
            )
            expected[country] = (
                f"{country}: {rate(goal['achieved_per_minute'])} granted per minute",
                f"{country}: goal {goal['goal_per_minute']} per minute",
                True,
                True,
            )
        return shown, expected

    agree(read, "the cap chart")


def expect_numbers_match_api(page: Page, admin_api: httpx.Client, window: str) -> None:
    """The page shows the API's figures of one moment. The window slides: an attempt
    that leaves it between the page's read and the API's is gone from the page at its
    next reload (within 15 s for the 5-minute range), so the API is read again then."""
    tries = 4
    for attempt in range(1, tries + 1):
        try:
            _expect_numbers_of_one_read(page, admin_api, window)
            return
        except AssertionError:
            if attempt == tries:
                raise


def _expect_numbers_of_one_read(page: Page, admin_api: httpx.Client, window: str) -> None:
    by_pair = summary(admin_api, window, "pair")
    totals = by_pair["totals"]
    expect_recent_matches_api(page, admin_api)
    expect(page.get_by_test_id("kpi-success-rate")).to_have_text(percent(totals["success_rate"]))
    expect(page.get_by_test_id("kpi-completed")).to_have_text(count(totals["completed"]))
    expect(page.get_by_test_id("kpi-delivered")).to_have_text(count(totals["delivered"]))
    expect(page.get_by_test_id("kpi-failures")).to_have_text(
        count(totals["completed"] - totals["delivered"])
    )
    expect(page.get_by_test_id("kpi-not-delivered")).to_have_text(count(totals["not_delivered"]))
    expect(page.get_by_test_id("kpi-failed")).to_have_text(count(totals["failed"]))
    broken_off = page.get_by_test_id("kpi-broken-off")
    if totals["broken_off"]:
        expect(broken_off).to_have_text(count(totals["broken_off"]))
    else:
        expect(broken_off).to_have_count(0)
    firing = admin_api.get("/api/v1/alerts/overview").json()["counts"]["firing"]
    expect(page.get_by_test_id("kpi-open-alerts")).to_have_text(count(firing))
    groups = {group["key"]: group for group in by_pair["groups"]}
    for key in (BEELINE, MEGACOM):
        group = groups[key]
        # Success is delivered of attempts: every completed one, sent or not.
        expect(page.get_by_test_id(f"pair-completed-{key}")).to_have_text(count(group["completed"]))
        expect(page.get_by_test_id(f"pair-sent-{key}")).to_have_text(count(group["sent"]))
        expect(page.get_by_test_id(f"pair-delivered-{key}")).to_have_text(count(group["delivered"]))
        expect(page.get_by_test_id(f"pair-success-{key}")).to_have_text(
            percent(group["success_rate"])
        )
        expect(page.get_by_test_id(f"pair-failures-{key}")).to_have_text(
            count(group["completed"] - group["delivered"])
        )
        expect(page.get_by_test_id(f"pair-p95-{key}")).to_have_text(
            seconds(group["latency_p95_ms"])
        )
        expect(page.get_by_test_id(f"pair-state-{key}")).to_have_text("enabled")


# --- the alerts card and the connection ---------------------------------------------------


def firing_counts(admin_api: httpx.Client) -> dict[str, Any]:
    response = admin_api.get("/api/v1/alerts/overview")
    assert response.status_code == 200, response.text
    counts: dict[str, Any] = response.json()["counts"]
    return counts


def expect_alerts_card_as_counted(
    page: Page, admin_api: httpx.Client, timeout: float = 10.0
) -> None:
    """The alerts card shows what the API counts (firing, not acknowledged) within the timeout."""
    card = page.get_by_test_id("kpi-open-alerts")
    deadline = time.monotonic() + timeout
    while True:
        counts = firing_counts(admin_api)
        shown = card.inner_text().strip()
        unacknowledged = page.get_by_test_id("kpi-alerts-unacknowledged")
        expected = f"{counts['firing']:,}"
        if shown == expected and (
            counts["firing"] == 0 or unacknowledged.inner_text() == f"{counts['unacknowledged']:,}"
        ):
            return
        assert time.monotonic() < deadline, f"card shows {shown}, the API counts {counts}"
        page.wait_for_timeout(200)


# The dashboard's one reload in the quiet is at least a minute away.
QUIET_SECONDS = 8


def metrics_requests(page: Page) -> list[str]:
    """The metrics the page asks for from now on, as they are asked for."""
    asked: list[str] = []
    page.on(
        "request",
        lambda request: asked.append(request.url) if "/api/v1/metrics/" in request.url else None,
    )
    return asked


def expect_no_polling_while_live(
    page: Page, asked: list[str], quiet_seconds: float = QUIET_SECONDS
) -> None:
    """Live and quiet: the metrics are not asked for again."""
    indicator = page.get_by_test_id("live-indicator")
    expect(indicator).to_have_attribute("data-status", "connected")
    expect(indicator).to_have_text("Live")
    page.wait_for_timeout(1_000)
    asked.clear()
    page.wait_for_timeout(quiet_seconds * 1000)
    assert asked == [], asked


def expect_one_banner_offline(page: Page, asked: list[str], screenshot: Screenshot) -> None:
    """Offline: one banner for everything that cannot be loaded (the page polls then), and
    the badge says so; back online, Live again and no banner."""
    indicator = page.get_by_test_id("live-indicator")
    page.context.set_offline(True)
    try:
        expect(indicator).to_have_text("Offline")
        expect(indicator).to_have_attribute("data-status", "offline")
        banner = page.get_by_test_id("connection-banner")
        expect(banner).to_be_visible()
        # Polling while offline: requests fail; they all end in that one banner.
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and not asked:
            page.wait_for_timeout(500)
        assert asked, "nothing was polled while offline"
        page.wait_for_timeout(1_000)
        expect(page.locator(".banner--error")).to_have_count(1)
        expect(page.get_by_text("Cannot reach the control plane")).to_have_count(1)
        screenshot("offline")
    finally:
        page.context.set_offline(False)
    expect(indicator).to_have_text("Live", timeout=20_000)
    expect(page.get_by_test_id("connection-banner")).to_have_count(0, timeout=20_000)


# --- the log drawer ----------------------------------------------------------------------

BURST = 300
COUNTER_SOURCE = f"""import itertools, time
for n in itertools.count(1):
    print(f"line {{n}} {{'ALPHA' if n % 3 == 0 else 'beta'}}", flush=True)
    if n >= {BURST}:
        time.sleep(0.2)
"""
# The runner stamps each line with its time: "<ISO time> line 12 ALPHA".
NUMBERED = re.compile(r"\bline (\d+) (?:ALPHA|beta)$")
LOG_START_TIMEOUT = 15.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = LOG_START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def session_state(admin_api: httpx.Client, session: str) -> str:
    response = admin_api.get(f"/api/v1/sessions/{session}")
    response.raise_for_status()
    return str(response.json()["state"])


def logged_lines(admin_api: httpx.Client, session: str) -> int:
    response = admin_api.get(f"/api/v1/sessions/{session}/logs", params={"lines": 5000})
    response.raise_for_status()
    return len(response.json()["lines"])


def at_rest(admin_api: httpx.Client, session: str) -> bool:
    """`session` is stopped, exited or fatal, or gone with its program's assignment."""
    response = admin_api.get(f"/api/v1/sessions/{session}")
    return response.status_code == 404 or response.json()["state"] in AT_REST


def remove_session(admin_api: httpx.Client, session: str, pair: str, program: str) -> None:
    """Stops `session`, waits (10 s at most) for it to rest, removes its pair and program."""
    admin_api.post(f"/api/v1/sessions/{session}/stop", json={"reason": "e2e cleanup"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not at_rest(admin_api, session):
        time.sleep(0.2)
    admin_api.delete(f"/api/v1/pairs/{pair}")
    admin_api.delete(f"/api/v1/programs/{program}")


@contextmanager
def started_session(
    admin_api: httpx.Client,
    control_plane: ControlPlane,
    program: str,
    operator: str,
    source: str,
    *,
    description: str = "",
) -> Iterator[str]:
    """`program` (Python `source`) on a new KZ pair of `operator`, its session running;
    the session, pair and program removed after."""
    slug = operator.lower()
    session = f"{program}_KZ_{slug}"
    add_program(admin_api, control_plane, program, source, description=description)
    pair = admin_api.post(
        "/api/v1/pairs",
        json={
            "country": "KZ",
            "operator": operator,
            "slug": slug,
            "programs": [program],
            "phone_numbers": [kz_number(slug)],
        },
    )
    assert pair.status_code == 201, pair.text
    try:
        # The supervisor makes the pair's session at its next tick.
        wait_for(
            lambda: admin_api.get(f"/api/v1/sessions/{session}").status_code == 200,
            "the supervisor to make the pair's session",
        )
        started = admin_api.post(f"/api/v1/sessions/{session}/start", json={"reason": "e2e"})
        assert started.status_code == 200, started.text
        wait_for(lambda: session_state(admin_api, session) == "running", "the session to run")
        yield session
    finally:
        remove_session(admin_api, session, f"KZ_{slug}", program)


@contextmanager
def running_session(
    admin_api: httpx.Client, control_plane: ControlPlane, program: str, operator: str, source: str
) -> Iterator[str]:
    """`program` on a KZ pair of `operator`, its session running with more than BURST lines."""
    with started_session(
        admin_api, control_plane, program, operator, source, description="prints numbered lines"
    ) as session:
        wait_for(
            lambda: logged_lines(admin_api, session) > BURST, f"more than {BURST} lines logged"
        )
        yield session


def open_logs(page: Page, name: str) -> Locator:
    """Opens the drawer through the Logs button; it once the first page is in."""
    button = page.get_by_test_id(f"logs-{name}")
    expect(button).to_have_attribute("aria-label", f"Logs of {name}")
    expect(button).to_have_text(re.compile(r"Logs$"))
    # What the page's clicks landed on: said if the click opens nothing (a click seen once
    # to open no drawer, its cause unknown).
    page.evaluate(
        """() => { window.__clicks = [];
          document.addEventListener('click',
            (e) => window.__clicks.push(e.target.outerHTML.slice(0, 160)), true); }"""
    )
    button.click()
    try:
        expect(page).to_have_url(re.compile(rf"[?&]session={re.escape(name)}(&|$)"))
    except AssertionError as missed:
        clicks = page.evaluate("() => window.__clicks")
        state = page.get_by_test_id(f"session-{name}").get_attribute("data-state")
        raise AssertionError(
            f"the Logs click opened nothing: url {page.url}, clicks landed on {clicks},"
            f" the session's cell {state}"
        ) from missed
    drawer = page.get_by_test_id("log-drawer")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_test_id("log-drawer-title")).to_have_text(name)
    expect(drawer.get_by_test_id("log-lines")).to_contain_text(re.compile(r"line \d+ beta"))
    return drawer


def log_lines(drawer: Locator) -> list[str]:
    return drawer.get_by_test_id("log-lines").inner_text().splitlines()


def line_numbers(lines: list[str]) -> list[int]:
    return [int(found.group(1)) for line in lines if (found := NUMBERED.search(line))]


def assert_contiguous(numbers: list[int]) -> None:
    assert numbers, "no numbered line"
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "lines lost or doubled"


# --- a number's conversation ---------------------------------------------------------------


def record_thread(admin_api: httpx.Client, phone: str) -> None:
    """SMS with `phone` recorded through the seed routes: 100 older ones ("older 0" to
    "older 99"), then "hello" from it and "hi back" to it."""
    old_ones = [
        (f"older {index}", f"2026-01-04T10:{index // 60:02d}:{index % 60:02d}Z", "/api/send-sms")
        for index in range(100)
    ]
    for text, at, route in (
        *old_ones,
        ("hello", "2026-01-05T10:00:00Z", "/api/receive-sms"),
        ("hi back", "2026-01-05T10:00:30Z", "/api/send-sms"),
    ):
        sender, receiver = (
            (phone, "+995555000000") if "receive" in route else ("+995555000000", phone)
        )
        assert admin_api.post(route, json=sms(sender, receiver, text, at)).status_code == 200


def expect_thread_newest_first(page: Page, phone: str, screenshot: Screenshot) -> None:
    """On the Messages page, `phone`'s conversation (as `record_thread` left it) reads newest
    first with each message's text, a page of 100 at a time, then the older ones."""
    page.get_by_test_id("messages-view-conversation").click()
    page.get_by_test_id("conversation-phone").fill(phone)
    page.get_by_test_id("conversation-search").click()
    items = page.get_by_test_id("thread-item")
    expect(items).to_have_count(100)
    expect(items.nth(0)).to_contain_text("hi back")
    expect(items.nth(1)).to_contain_text("hello")
    expect(items.nth(2)).to_contain_text("older 99")
    screenshot("thread")
    page.get_by_test_id("conversation-older").click()
    expect(items).to_have_count(102)
    expect(items.nth(101)).to_contain_text("older 0")
    expect(page.get_by_test_id("conversation-older")).to_have_count(0)
