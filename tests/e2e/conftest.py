"""Browser tests: the real control plane in a subprocess, the built web app, headless Chromium.

- `control_plane`: `smsfleet serve` on a free port with its own data dir (where
  it keeps its generated `secret_key`), admin password and screen directory
  (`SMSFLEET_SCREEN_DIR`, so its sessions never meet other screens), seeded
  through the API with programs and the demo pairs (session). At the end every
  session is stopped and no screen is left behind.
- `admin_api`: an httpx client on the control plane, logged in as admin (session).
- `make_user`: adds a user with the given role and returns its password.
- `browser`: Debian's Chromium driven by Playwright (session).
- `page`: a fresh browser context and page whose base URL is the control plane.
- `screenshot`: saves numbered screenshots of the page to `test-artifacts/e2e/`.

Nothing here is skipped: a missing Chromium or an unbuilt web app fails with what to do.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.support.backends import free_port
from tests.support.e2e import ARTIFACTS, AT_REST, ControlPlane
from tests.support.fleet import admin_client, answers, quit_screens, running, short_dir
from tests.support.sshd import start_sshd

REPO = Path(__file__).resolve().parents[2]
WEB_INDEX = REPO / "web" / "dist" / "index.html"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 60.0  # a busy machine starts the control plane slowly
STOP_TIMEOUT = 15.0
SCREEN = shutil.which("screen")

PROGRAMS = [f"program{n}" for n in range(1, 7)]
SEED_PAIRS: list[dict[str, Any]] = [
    {
        "country": "UZ",
        "operator": "UzMobile",
        "slug": "uzmobile",
        "phone_numbers": ["+998901234567"],
    },
    {"country": "UA", "operator": "3Mob", "slug": "3mob", "phone_numbers": ["+380912345678"]},
    {"country": "TJ", "operator": "MegaFon", "slug": "megafon", "phone_numbers": ["+992901234567"]},
    {"country": "IN", "operator": "Reliance", "slug": "reliance", "region": "West Bengal"},
    {"country": "IN", "operator": "TATA DOCOMO", "slug": "docomo"},
    # High priority, its sessions run unasked: they need a test number to.
    {
        "country": "IN",
        "operator": "Vi India",
        "slug": "vi",
        "is_high_priority": True,
        "phone_numbers": ["+919812345678"],
    },
    {"country": "IN", "operator": "AirTel", "slug": "airtel"},
    {
        "country": "AZ",
        "operator": "Azercell",
        "slug": "azercell",
        "phone_numbers": ["+994501234567"],
    },
]


def _smsfleet_command() -> str:
    beside_python = Path(sys.executable).parent / "smsfleet"
    found = str(beside_python) if beside_python.exists() else shutil.which("smsfleet")
    if found is None:
        pytest.fail("the `smsfleet` command is not installed: run `make python`")
    return found


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the control plane exited with code {process.returncode} before it was healthy;"
                f" its output:\n{log.read_text(errors='replace')}"
            )
        if answers(f"{url}/healthz"):
            return
        time.sleep(0.1)
    pytest.fail(
        f"the control plane did not answer {url}/healthz within {START_TIMEOUT:.0f} s;"
        f" its output:\n{log.read_text(errors='replace')}"
    )


def _seed(client: httpx.Client, plane: ControlPlane) -> None:
    # Programs are only listed by the page; one that exits at once keeps them harmless if run.
    command = plane.install("idle", "pass\n")
    for name in PROGRAMS:
        response = client.post(
            "/api/v1/programs",
            json={"name": name, "command": command, "provider": f"provider-{name[-1]}"},
        )
        assert response.status_code == 201, response.text
    for pair in SEED_PAIRS:
        response = client.post("/api/v1/pairs", json={**pair, "programs": PROGRAMS[:2]})
        assert response.status_code == 201, response.text


def _stop_all_sessions(url: str, password: str) -> None:
    """Asks the control plane to stop every session, then waits until none runs."""
    with admin_client(url, password) as client:
        response = client.post(
            "/api/v1/sessions/actions",
            json={"action": "stop", "all": True, "force": True, "reason": "e2e teardown"},
        )
        response.raise_for_status()
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            sessions = client.get("/api/v1/sessions").json()
            if all(session["state"] in AT_REST for session in sessions):
                return
            time.sleep(0.2)


@pytest.fixture(scope="session")
def web_app_built() -> None:
    if not WEB_INDEX.is_file():
        pytest.fail(f"{WEB_INDEX} is missing: build the web app with `make web` first")


@pytest.fixture(scope="session")
def control_plane(
    web_app_built: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    if SCREEN is None:
        pytest.fail("GNU screen is missing: install it with `apt-get install -y screen`")
    data_dir = tmp_path_factory.mktemp("control-plane")
    # Short on purpose: screen's socket paths must fit a Unix socket address.
    screen_dir = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "control-plane.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    password = f"E2e-{secrets.token_urlsafe(18)}"
    search_port = free_port()
    search_token = secrets.token_urlsafe(24)
    search_dir = data_dir / "search"
    search_dir.mkdir()
    programs_dir = data_dir / "programs"
    programs_dir.mkdir()
    search_env = {**os.environ, "SMSFLEET_SEARCH_TOKEN": search_token}
    sshd = start_sshd(data_dir / "sshd")
    edge_screen_dir = short_dir("sf-edge-")
    # This machine: its program directories are the control plane's.
    edge = sshd.host(
        data_dir / "edge1",
        edge_screen_dir,
        programs_dir=str(data_dir),
        program_dirs=[str(REPO / "programs"), str(programs_dir)],
    )
    search_argv = [_smsfleet_command(), "search-service", "--port", str(search_port)]
    env = {
        **os.environ,
        "SMSFLEET_DATA_DIR": str(data_dir),
        "SMSFLEET_ADMIN_PASSWORD": password,
        "SMSFLEET_SCREEN_DIR": str(screen_dir),
        "SMSFLEET_PUBLIC_URL": url,
        "SMSFLEET_SEARCH_URL": f"http://127.0.0.1:{search_port}",
        "SMSFLEET_SEARCH_TOKEN": search_token,
        "SMSFLEET_HOSTS": json.dumps({"edge1": edge.model_dump(mode="json")}),
        "SMSFLEET_PROGRAM_DIRS": f"{REPO / 'programs'},{programs_dir}",
        # Its stand-in programs never lease, so never learn of a policy pause and end
        # themselves: their sessions are stopped a second after it, not 150 s.
        "SMSFLEET_PAUSE_DRAIN_SECONDS": "1",
        # The tests' admin seeds hundreds of SMS, sends and sessions through the API for
        # every page it shows; the budget itself is `tests/security/test_change_budget.py`'s.
        "SMSFLEET_CHANGES_PER_MINUTE": "100000",
    }
    try:
        with running(
            [*search_argv, "--data-dir", str(search_dir)],
            env=search_env,
            work=search_dir,
            ready=f"http://127.0.0.1:{search_port}/healthz",
        ):
            planes = ControlPlane(
                url, password, screen_dir, data_dir, edge_screen_dir, programs_dir
            )
            yield from _serve(planes, env, log)
    finally:
        quit_screens(edge_screen_dir)
        shutil.rmtree(edge_screen_dir, ignore_errors=True)
        sshd.stop()


def _serve(plane: ControlPlane, env: dict[str, str], log: Path) -> Iterator[ControlPlane]:
    url, password = plane.url, plane.admin_password
    port = url.rsplit(":", 1)[1]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [_smsfleet_command(), "serve", "--host", "127.0.0.1", "--port", port],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(url, process, log)
        with admin_client(url, password) as client:
            _seed(client, plane)
        yield plane
    finally:
        try:
            # Only a control plane that answers has sessions to stop; asking one that never
            # came up would hide why it did not.
            if process.poll() is None and answers(f"{url}/healthz"):
                _stop_all_sessions(url, password)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            quit_screens(plane.screen_dir)
            shutil.rmtree(plane.screen_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def admin_api(control_plane: ControlPlane) -> Iterator[httpx.Client]:
    with admin_client(control_plane.url, control_plane.admin_password) as client:
        yield client


@pytest.fixture
def make_user(admin_api: httpx.Client) -> Callable[[str, str], str]:
    """`make_user("ops", "operator")` creates the user and returns its password."""

    def make(username: str, role: str) -> str:
        password = f"E2e-{secrets.token_urlsafe(18)}"
        response = admin_api.post(
            "/api/v1/users", json={"username": username, "password": password, "role": role}
        )
        assert response.status_code == 201, response.text
        return password

    return make


# Package scope: the sync API keeps an event loop running on the main thread while it
# lives, so a test of another package that runs a loop of its own after the browser
# tests on the same worker (`asyncio.run`) would find one running and fail.
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, control_plane: ControlPlane) -> Iterator[Page]:
    context = browser.new_context(
        base_url=control_plane.url, viewport={"width": 1440, "height": 900}
    )
    context.set_default_timeout(10_000)
    # Assertions wait as long as actions do: on a busy machine a page may take seconds to
    # render what it shows at once on an idle one.
    expect.set_options(timeout=10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """`screenshot("added pair")` saves `test-artifacts/e2e/<test>-01-added-pair.png`."""
    counter = iter(range(1, 100))
    test_name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")

    def take(step: str) -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = ARTIFACTS / f"{test_name}-{next(counter):02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
