"""The Alerts page in a real browser: a crashing session alerts live, is acknowledged, resolves;
the alerts and the policy's decisions sort by the clicked column, and each decision shows
the bound it was taken on."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, ViewportSize, expect

from smsfleet.policy.models import EvidenceBound, PolicyAction, PolicyDecision
from smsfleet.policy.stats import wilson_interval
from tests.support.e2e import (
    VIEWPORTS,
    ControlPlane,
    expect_sorts_by,
    natural,
    open_logged_in,
    raised_alerts,
)

pytestmark = pytest.mark.e2e

Screenshot = Callable[[str], Path]

# Exits with an error half a second after it starts: before it counts as started.
CRASHER_SOURCE = "import sys, time\ntime.sleep(0.5)\nprint('no route to gateway')\nsys.exit(3)"
PROGRAM = "crasher"
PAIR = "AM_ucom"
SESSION = f"{PROGRAM}_{PAIR}"
ALERT_TIMEOUT_MS = 15_000
# Raised out of order: sorted by subject they read alpha, bravo, charlie.
SORT_ALERTS = ["Sort check: charlie", "Sort check: alpha", "Sort check: bravo"]
DECISIONS_URL = re.compile(r"/api/v1/policy/decisions(\?|$)")


@pytest.fixture
def crashing_pair(admin_api: httpx.Client, control_plane: ControlPlane) -> Iterator[str]:
    program = admin_api.post(
        "/api/v1/programs",
        json={"name": PROGRAM, "command": control_plane.install("crasher", CRASHER_SOURCE)},
    )
    assert program.status_code == 201, program.text
    pair = admin_api.post(
        "/api/v1/pairs",
        json={
            "country": "AM",
            "operator": "Ucom",
            "slug": "ucom",
            "programs": [PROGRAM],
            "phone_numbers": ["+37455123456"],  # a pair with none holds its sessions stopped
        },
    )
    assert pair.status_code == 201, pair.text
    deadline = time.monotonic() + 10
    while admin_api.get(f"/api/v1/sessions/{SESSION}").status_code != 200:
        assert time.monotonic() < deadline, "the supervisor made no session for the pair"
        time.sleep(0.2)
    try:
        yield SESSION
    finally:
        admin_api.post(f"/api/v1/sessions/{SESSION}/stop", json={"reason": "e2e cleanup"})
        admin_api.delete(f"/api/v1/pairs/{PAIR}", params={"force": True})
        admin_api.delete(f"/api/v1/programs/{PROGRAM}")


@VIEWPORTS
def test_a_crash_alerts_live_is_acknowledged_and_resolves(
    page: Page,
    control_plane: ControlPlane,
    admin_api: httpx.Client,
    crashing_pair: str,
    screenshot: Screenshot,
    viewport: ViewportSize,
) -> None:
    open_logged_in(page, "/alerts", control_plane.admin_password, viewport=viewport)
    expect(page.get_by_test_id("alerts-page")).to_be_visible()
    # The page's word is the API's (state=firing), not "Open", which the API refuses.
    firing_view = page.get_by_test_id("alerts-view-firing")
    expect(firing_view).to_have_text("Firing")
    expect(firing_view).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-status", "connected")
    expect(page.get_by_test_id("telegram-status")).to_contain_text("not configured")
    # Said once, though it also turns the test message off.
    expect(page.get_by_text("Telegram is not configured")).to_have_count(1)
    expect(page.get_by_test_id("send-test-message")).to_be_disabled()

    # The session crashes: a toast and a row appear without a reload.
    started = admin_api.post(f"/api/v1/sessions/{crashing_pair}/start", json={"reason": "e2e"})
    assert started.status_code == 200, started.text
    toast = page.get_by_test_id("alert-toasts").get_by_test_id("toast")
    expect(
        toast.filter(has_text=f"WARNING · Session crashed: {crashing_pair} exited with code 3")
    ).to_be_visible(timeout=ALERT_TIMEOUT_MS)
    row = page.locator("[data-testid='alert-row'][data-rule='session_crashed']").filter(
        has_text=crashing_pair
    )
    expect(row).to_be_visible()
    expect(row.get_by_test_id("alert-severity")).to_have_text("warning")
    expect(row.get_by_test_id("alert-state")).to_contain_text("firing")
    # What happened reads in lines of words, not a word a line (at 1,280 px it had 80 px):
    # the acknowledgement sits under the state, in no column of its own.
    summary = row.locator(".alert-summary").bounding_box()
    assert summary is not None and summary["width"] >= 240, summary
    expect(page.get_by_test_id("alerts-counts")).not_to_have_text("0 firing", timeout=5000)
    screenshot("crash alert")

    # Filters: the warning is not among the critical ones; it is among the crashes.
    page.get_by_test_id("filter-severity").select_option("critical")
    expect(row).to_have_count(0)
    page.get_by_test_id("filter-severity").select_option("")
    page.get_by_test_id("filter-rule").select_option("session_crashed")
    expect(row).to_be_visible()
    assert "rule=session_crashed" in page.url

    # Acknowledged from the page.
    row.get_by_test_id("alert-acknowledge").click()
    expect(row.get_by_test_id("alert-ack")).to_have_text("acknowledged by admin")
    # Within the table, wrapped if need be, not run out past its right edge.
    ack, table = (
        row.get_by_test_id("alert-ack").locator("span").bounding_box(),
        page.get_by_test_id("alerts-table").bounding_box(),
    )
    assert ack is not None and table is not None
    assert ack["x"] + ack["width"] <= table["x"] + table["width"], (ack, table)
    expect(page.get_by_test_id("alerts-notice")).to_contain_text("Acknowledged")

    # Stopped by a person: the crash alert resolves and leaves the firing view.
    stopped = admin_api.post(f"/api/v1/sessions/{crashing_pair}/stop", json={"reason": "e2e"})
    assert stopped.status_code == 200, stopped.text
    expect(toast.filter(has_text=f"Resolved: Session crashed · {crashing_pair}")).to_be_visible(
        timeout=ALERT_TIMEOUT_MS
    )
    expect(row).to_have_count(0)
    page.get_by_test_id("alerts-view-history").click()
    expect(row.first.get_by_test_id("alert-state")).to_contain_text("resolved after")
    expect(
        page.get_by_test_id("decisions-table").or_(page.get_by_text("has not paused"))
    ).to_be_visible()
    screenshot("alert history")


def _decision(
    number: int, pair: str, action: PolicyAction, delivered: int, bound: EvidenceBound | None
) -> PolicyDecision:
    lower, upper = wilson_interval(delivered, 20, 1.96)
    return PolicyDecision(
        id=f"{number:032x}",
        at=datetime(2026, 1, 5, 12, 0, tzinfo=UTC) + timedelta(minutes=number),
        pair=pair,
        country=pair[:2],
        action=action,
        reason=f"{pair} {action.value}: because",
        lower_bound=lower,
        upper_bound=upper,
        decided_on=bound,
        success_ratio=delivered / 20,
        samples=20,
        delivered=delivered,
        pause_threshold=0.5,
        resume_threshold=0.7,
        window="last 30 min, at most 50 attempts",
    )


# The policy's decisions as the API would serve them: no route here is bad enough to be
# paused for real within a test.
DECISIONS = [
    _decision(3, "UZ_bravo", PolicyAction.paused, 4, EvidenceBound.upper_bound),
    _decision(2, "UZ_charlie", PolicyAction.probing, 4, None),
    _decision(1, "UZ_alpha", PolicyAction.resumed, 20, EvidenceBound.lower_bound),
]


def _percent(text: str) -> float | None:
    """'upper bound 41.6%' → 41.6; '—' → None."""
    found = re.search(r"([\d.]+)%", text)
    return float(found.group(1)) if found else None


@VIEWPORTS
def test_alerts_and_decisions_sort_by_the_clicked_column(
    page: Page, control_plane: ControlPlane, admin_api: httpx.Client, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    served = json.dumps([decision.model_dump(mode="json") for decision in DECISIONS])

    def serve_decisions(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=served)

    page.route(DECISIONS_URL, serve_decisions)
    with raised_alerts(admin_api, SORT_ALERTS) as ids:
        open_logged_in(page, "/alerts", control_plane.admin_password)
        table = page.get_by_test_id("alerts-table")
        for alert_id in ids:
            expect(table.locator(f"[data-alert-id='{alert_id}']")).to_be_visible()

        def ours() -> list[tuple[str, str, str]]:
            """(id, subject, started) of the alerts raised here, in the order shown; other
            alerts may come and go meanwhile."""
            rows = table.get_by_test_id("alert-row").evaluate_all(
                """rows => rows.map(row => [
                    row.dataset.alertId,
                    row.querySelector("code").textContent,
                    row.querySelector("td[title]").title,
                ])"""
            )
            return [(str(a), str(s), str(t)) for a, s, t in rows if a in ids]

        expect_sorts_by(
            table.get_by_test_id("sort-subject"), lambda: [natural(s) for _, s, _ in ours()]
        )
        expect_sorts_by(
            table.get_by_test_id("sort-started"),
            lambda: [datetime.fromisoformat(t) for _, _, t in ours()],
        )

    decisions = page.get_by_test_id("decisions-table")
    rows = decisions.get_by_test_id("decision-row")
    expect(rows).to_have_count(len(DECISIONS))
    expect(decisions.locator("thead")).not_to_contain_text("Lower bound")
    # Under 1,500 px the thresholds fold into the success cell: the column they leave
    # holds nothing that could lay its text out a letter a line, rows stay a few lines tall.
    inline = rows.first.get_by_test_id("decision-success").locator(
        ".decisions-table__thresholds-inline"
    )
    expect(inline).to_be_visible()
    expect(inline).to_have_text("lines: pause 50.0% · resume 70.0%")
    heights = rows.evaluate_all("rows => rows.map(row => row.getBoundingClientRect().height)")
    assert all(float(height) <= 120 for height in heights), heights

    def cells(selector: str) -> list[str]:
        """Each row's text in `selector`, in the order shown."""
        texts = rows.evaluate_all(
            "(rows, selector) => rows.map(row => row.querySelector(selector).textContent)",
            selector,
        )
        return [str(text) for text in texts]

    # Paused on the upper bound (41.6 % under the 50 % line), resumed on the lower one
    # (83.9 % over the 70 % line), a probe on neither.
    assert cells("[data-testid='decision-bound']") == [
        "upper bound 41.6%",
        "—",
        "lower bound 83.9%",
    ]
    expect_sorts_by(
        decisions.get_by_test_id("sort-pair"), lambda: [natural(pair) for pair in cells("code")]
    )
    expect_sorts_by(
        decisions.get_by_test_id("sort-bound"),
        lambda: [_percent(text) for text in cells("[data-testid='decision-bound']")],
    )


def test_the_country_filter_narrows_the_policy_decisions_too(
    page: Page, control_plane: ControlPlane
) -> None:
    asked: list[str] = []

    def serve_decisions(route: Route) -> None:
        asked.append(route.request.url)
        country = "country=UZ" in route.request.url
        body = [d.model_dump(mode="json") for d in DECISIONS] if country else []
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(DECISIONS_URL, serve_decisions)
    open_logged_in(page, "/alerts", control_plane.admin_password)
    expect(page.get_by_test_id("decisions-title")).to_have_text("Policy decisions")
    page.get_by_test_id("filter-country").fill("uz")
    expect(page.get_by_test_id("decisions-title")).to_have_text("Policy decisions in UZ")
    rows = page.get_by_test_id("decisions-table").get_by_test_id("decision-row")
    expect(rows).to_have_count(len(DECISIONS))
    assert any("country=UZ" in url for url in asked), asked
