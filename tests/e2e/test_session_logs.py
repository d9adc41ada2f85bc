"""The session log drawer in a real browser: Logs button, search, pause/follow, download.

One session runs for the whole module: a counter that writes a burst of numbered lines
(more than the drawer's first page of 200), then a line every 0.2 s, every third one
with ALPHA in capitals, so searches, held lines and downloads can be checked exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.e2e import (
    BURST,
    COUNTER_SOURCE,
    NUMBERED,
    ControlPlane,
    assert_contiguous,
    line_numbers,
    log_lines,
    open_logged_in,
    open_logs,
    running_session,
)

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]

ISO_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z( |$)")
# `06:47:53 UTC line 12 ALPHA`, with the day before it (`Dec 4, `) for a line of another day.
SHOWN_TIME = re.compile(r"^([A-Z][a-z]{2} \d{1,2}, )?([01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC line \d+ ")

# The same burst, then nothing more: a log that no new line moves.
QUIET_SOURCE = f"""import time
for n in range(1, {BURST + 1}):
    print(f"line {{n}} {{'ALPHA' if n % 3 == 0 else 'beta'}}", flush=True)
while True:
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def counter_session(admin_api: httpx.Client, control_plane: ControlPlane) -> Iterator[str]:
    """The counter's session: a burst of lines, then a line every 0.2 s."""
    with running_session(
        admin_api, control_plane, "logcounter", "Altel", COUNTER_SOURCE
    ) as session:
        yield session


def _expect_at_end(drawer: Locator) -> None:
    """The log view shows its last line (within the drawer's own 24 px): a new line may
    be landing, so wait for the view to settle there rather than look once."""
    lines = drawer.get_by_test_id("log-lines").element_handle()
    drawer.page.wait_for_function(
        "el => el.scrollHeight - el.scrollTop - el.clientHeight <= 24", arg=lines, timeout=5000
    )


def test_the_logs_button_opens_the_drawer_for_an_operator(
    page: Page,
    control_plane: ControlPlane,
    counter_session: str,
    make_user: Callable[[str, str], str],
    screenshot: Screenshot,
) -> None:
    name = counter_session
    password = make_user("logoperator", "operator")
    open_logged_in(page, "/programs", password, username="logoperator")
    expect(page.get_by_test_id("current-role")).to_have_text("operator")
    # The operator has the session's actions and, beside them, its Logs.
    expect(page.get_by_test_id(f"stop-{name}")).to_be_enabled()
    screenshot("logs button beside the actions")

    drawer = open_logs(page, name)
    # The first page is the last 200 lines, so not the burst's first ones.
    numbers = line_numbers(log_lines(drawer))
    assert len(numbers) >= 200
    assert numbers[0] > 1
    assert_contiguous(numbers)
    expect(drawer.get_by_test_id("log-pause")).to_have_text("Pause")
    expect(drawer.get_by_test_id("log-held")).to_have_count(0)
    screenshot("log drawer")
    drawer.get_by_test_id("log-drawer-close").click()
    expect(drawer).to_be_hidden()

    # The state badge still opens the log too.
    page.get_by_test_id(f"open-logs-{name}").click()
    expect(drawer).to_be_visible()
    expect(drawer.get_by_test_id("log-drawer-title")).to_have_text(name)


def test_a_viewer_opens_the_logs_without_any_action_button(
    page: Page,
    counter_session: str,
    make_user: Callable[[str, str], str],
    screenshot: Screenshot,
) -> None:
    name = counter_session
    password = make_user("logviewer", "viewer")
    open_logged_in(page, "/programs", password, username="logviewer")
    expect(page.get_by_test_id("current-role")).to_have_text("viewer")
    cell = page.get_by_test_id(f"session-{name}")
    expect(cell).to_be_visible()
    for action in ("start", "stop", "restart"):
        expect(page.get_by_test_id(f"{action}-{name}")).to_have_count(0)
    # Every session of the matrix has its Logs button, for viewers too.
    expect(page.locator("[data-testid^='logs-']")).to_have_count(
        page.locator("[data-testid^='open-logs-']").count()
    )
    drawer = open_logs(page, name)
    assert_contiguous(line_numbers(log_lines(drawer)))
    screenshot("viewer log drawer")


def test_search_filters_the_lines_highlights_and_counts_the_matches(
    page: Page, control_plane: ControlPlane, counter_session: str, screenshot: Screenshot
) -> None:
    name = counter_session
    open_logged_in(page, "/programs", control_plane.admin_password)
    drawer = open_logs(page, name)
    search = drawer.get_by_test_id("log-search")
    count = drawer.get_by_test_id("log-match-count")
    expect(search).to_have_attribute("placeholder", "Search the log")

    # Paused, the lines stand still: what the search shows can be told exactly.
    drawer.get_by_test_id("log-pause").click()
    expect(drawer.get_by_test_id("log-pause")).to_have_text("Follow")
    every = log_lines(drawer)
    expect(count).to_have_text(f"{len(every)} lines")
    alpha = [line for line in every if "alpha" in line.lower()]
    assert 0 < len(alpha) < len(every)

    search.fill("alpha")  # the log says ALPHA: case does not matter
    expect(count).to_have_text(f"{len(alpha)} of {len(every)} lines")
    assert log_lines(drawer) == alpha
    marks = drawer.get_by_test_id("log-lines").locator("mark")
    expect(marks).to_have_count(len(alpha))
    assert set(marks.all_inner_texts()) == {"ALPHA"}
    screenshot("search alpha")

    search.fill("no such words")
    expect(count).to_have_text(f"0 of {len(every)} lines")
    expect(drawer.get_by_test_id("log-lines")).to_have_text("No line matches.")

    # Empty, the search shows every line again.
    search.fill("")
    expect(count).to_have_text(f"{len(every)} lines")
    assert log_lines(drawer) == every
    expect(marks).to_have_count(0)

    # Following again, new lines are filtered as they come.
    search.fill("ALPHA")
    expect(count).to_have_text(f"{len(alpha)} of {len(every)} lines")
    drawer.get_by_test_id("log-pause").click()
    expect(drawer.get_by_test_id("log-pause")).to_have_text("Pause")
    page.wait_for_function(
        """([matches]) => {
            const count = document.querySelector("[data-testid='log-match-count']");
            return parseInt(count.textContent, 10) > matches;
        }""",
        arg=[len(alpha)],
    )
    shown = log_lines(drawer)
    assert len(shown) > len(alpha)
    assert all("ALPHA" in line for line in shown)

    # Escape clears the search first, then closes the drawer.
    search.press("Escape")
    expect(search).to_have_value("")
    expect(count).to_have_text(re.compile(r"^\d+ lines$"))
    expect(drawer).to_be_visible()
    search.press("Escape")
    expect(drawer).to_be_hidden()


def test_pause_holds_new_lines_and_follow_appends_them(
    page: Page, control_plane: ControlPlane, counter_session: str, screenshot: Screenshot
) -> None:
    name = counter_session
    open_logged_in(page, "/programs", control_plane.admin_password)
    drawer = open_logs(page, name)
    log_lines = drawer.get_by_test_id("log-lines")
    toggle = drawer.get_by_test_id("log-pause")
    held = drawer.get_by_test_id("log-held")
    # Following, the view sits at the end of more lines than it can show.
    assert log_lines.evaluate("el => el.scrollHeight > el.clientHeight")
    _expect_at_end(drawer)

    toggle.click()
    expect(toggle).to_have_text("Follow")
    before = log_lines.inner_text()
    scroll_before = log_lines.evaluate("el => el.scrollTop")
    count_before = drawer.get_by_test_id("log-match-count").inner_text()
    # A line comes every 0.2 s: held, counted, not shown.
    expect(held).to_have_text(re.compile(r"^([2-9]|\d{2,}) new lines held$"))
    assert log_lines.inner_text() == before
    assert log_lines.evaluate("el => el.scrollTop") == scroll_before
    expect(drawer.get_by_test_id("log-match-count")).to_have_text(count_before)
    screenshot("paused with held lines")
    held_text = held.inner_text()
    held_count = int(held_text.split()[0])

    toggle.click()
    expect(toggle).to_have_text("Pause")
    expect(held).to_have_count(0)
    after = line_numbers(log_lines.inner_text().splitlines())
    # Every held line is appended in order, none lost or doubled, and the view is at the end.
    assert_contiguous(after)
    assert after[-1] >= line_numbers(before.splitlines())[-1] + held_count
    _expect_at_end(drawer)
    screenshot("following again")


def test_a_quiet_log_stays_at_its_end_when_the_view_resizes(
    page: Page, admin_api: httpx.Client, control_plane: ControlPlane, screenshot: Screenshot
) -> None:
    with running_session(admin_api, control_plane, "logquiet", "Kcell", QUIET_SOURCE) as name:
        open_logged_in(page, "/programs", control_plane.admin_password)
        drawer = open_logs(page, name)
        expect(drawer.get_by_test_id("log-lines")).to_contain_text(f"line {BURST} ALPHA")
        _expect_at_end(drawer)
        # A shorter window shrinks the view; no new line comes to scroll it, yet it follows.
        page.set_viewport_size({"width": 1440, "height": 600})
        _expect_at_end(drawer)
        # The events below grow and a scroll event comes before the view is brought back
        # to its end (as when they load just after the log): it still follows.
        drawer.evaluate(
            """drawer => {
                drawer.querySelector(".drawer__events").style.minHeight = "40%";
                const view = drawer.querySelector("[data-testid='log-lines']");
                view.dispatchEvent(new Event("scroll"));
            }"""
        )
        _expect_at_end(drawer)
        # The reader scrolling up stops the following; back at the end, it follows again.
        log_lines = drawer.get_by_test_id("log-lines")
        log_lines.evaluate("el => { el.scrollTop = el.scrollTop - 200; }")
        page.wait_for_timeout(300)
        page.set_viewport_size({"width": 1440, "height": 560})
        page.wait_for_timeout(300)
        assert log_lines.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight") > 24
        log_lines.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        page.set_viewport_size({"width": 1440, "height": 520})
        _expect_at_end(drawer)
        screenshot("quiet log at its end")


def test_download_saves_the_last_5000_lines_as_a_file(
    page: Page, control_plane: ControlPlane, counter_session: str, tmp_path: Path
) -> None:
    name = counter_session
    open_logged_in(page, "/programs", control_plane.admin_password)
    drawer = open_logs(page, name)
    button = drawer.get_by_test_id("log-download")
    expect(button).to_have_text("Download")
    expect(button).to_have_attribute("title", re.compile(r"last 5,000 lines"))
    shown = log_lines(drawer)

    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == f"{name}.log"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    lines = saved.read_text().splitlines()
    # More than the drawer's page: from the counter's first line, every line in order.
    numbers = line_numbers(lines)
    assert numbers[0] == 1
    assert_contiguous(numbers)
    assert len(lines) > len(shown)
    # The file keeps the lines as written, the runner's ISO stamp first; the drawer shows
    # that time in UTC, 24-hour and labelled, with the stamp as written on hover.
    assert set(line_numbers(shown)) <= set(numbers)
    assert all(ISO_STAMP.match(line) for line in lines if NUMBERED.search(line))
    assert all(SHOWN_TIME.match(line) for line in shown if NUMBERED.search(line))
    first = drawer.get_by_test_id("log-lines").locator("time").first
    expect(first).to_have_attribute("title", ISO_STAMP)
    expect(button).to_be_enabled()
    expect(drawer.get_by_test_id("log-download-error")).to_have_count(0)


def test_the_drawer_and_its_tools_fit_a_tablet_width(
    page: Page, control_plane: ControlPlane, counter_session: str, screenshot: Screenshot
) -> None:
    name = counter_session
    page.set_viewport_size({"width": 820, "height": 1180})
    open_logged_in(page, "/programs", control_plane.admin_password)
    drawer = open_logs(page, name)
    drawer.get_by_test_id("log-pause").click()
    expect(drawer.get_by_test_id("log-held")).to_be_visible()
    drawer.get_by_test_id("log-search").fill("alpha")
    expect(drawer.get_by_test_id("log-match-count")).to_have_text(re.compile(r" of "))
    overflow = page.evaluate(
        """() => {
            const page = document.scrollingElement;
            const drawer = document.querySelector("[data-testid='log-drawer']");
            const width = document.documentElement.clientWidth;
            const tools = ["log-search", "log-pause", "log-download", "log-held", "log-match-count"]
                .map((id) => document.querySelector(`[data-testid='${id}']`))
                .filter((el) => el.getBoundingClientRect().right > width + 0.5)
                .map((el) => el.dataset.testid);
            return {
                page: page.scrollWidth - page.clientWidth,
                drawer: drawer.scrollWidth - drawer.clientWidth,
                tools,
            };
        }"""
    )
    assert overflow == {"page": 0, "drawer": 0, "tools": []}
    box = page.get_by_test_id(f"logs-{name}").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 820
    screenshot("drawer at 820 px")
