"""The README's screenshots, taken from a running demo in headless Chromium.

    make run            # in one terminal; wait at least 5 minutes for the charts to fill
    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8000] [--password ...]

Signs in as admin and saves the dashboard (at its default time range, as a user first
sees it) and the Programs page at 1440x900 into docs/images/ (dashboard.png, programs.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from smsfleet.cli import DEMO_ADMIN_PASSWORD

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"


def _without_toasts(page: Page) -> None:
    """The alerts the fleet raises meanwhile pop up as toasts: kept out, they would hide a chart."""
    page.add_style_tag(content=".toast-region { display: none !important; }")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default=DEMO_ADMIN_PASSWORD)
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900}, base_url=args.url)
        page.goto("/login")
        page.get_by_test_id("login-username").fill("admin")
        page.get_by_test_id("login-password").fill(args.password)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url(f"{args.url}/")
        page.get_by_test_id("chart-caps").wait_for()
        page.wait_for_timeout(2000)  # the charts draw their lines
        _without_toasts(page)
        page.screenshot(path=IMAGES / "dashboard.png")
        page.goto("/programs")
        page.get_by_test_id("country-section-IN").wait_for()
        _without_toasts(page)
        page.screenshot(path=IMAGES / "programs.png")
        browser.close()
    print(f"saved {IMAGES / 'dashboard.png'} and {IMAGES / 'programs.png'}")


if __name__ == "__main__":
    main()
