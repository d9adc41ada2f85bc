"""A control plane with its supervisor on real GNU screen, configured as in production:
its secrets in its environment, programs only from its program directory. And the
config store as another replica has it open, for changes made at once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.core.clock import SystemClock
from smsfleet.core.settings import Settings
from smsfleet.sessions.screen import ScreenBackend
from smsfleet.stores import ConfigStore, open_config_store
from tests.integration.api.test_sessions_api import sessions
from tests.support.api import Api, add_users, program_dir
from tests.support.fleet import short_dir
from tests.support.programs import install_program
from tests.support.security import HP_SESSION, PROGRAM_SENTRY_DSN, SECRETS, Live, running
from tests.support.sessions import TICKING, require_screen
from tests.support.sqlite_schemas import migrated_stores
from tests.support.telegram import TelegramStandIn
from tests.support.waiting import eventually


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """Secrets in the environment; `ticker` installed and defined by the admin, run by the
    high-priority pair IN_vi, whose session runs."""
    require_screen()
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SMSFLEET_PROGRAM_SENTRY_DSN", PROGRAM_SENTRY_DSN)
    screen_dir = short_dir("sf-sec-")
    settings = Settings(
        data_dir=tmp_path,
        web_dir=tmp_path / "no-web",
        screen_dir=screen_dir,
        supervisor_interval_seconds=0.1,
        start_seconds=0.2,
        stop_grace_seconds=1,
        program_dirs=[program_dir(tmp_path)],
        # Taken from the environment in production; the test's own stores and users here.
        config_url=None,
        metrics_url=None,
        redis_url=None,
        admin_password=None,
        telegram_bot_token=None,
    )
    store = open_config_store(migrated_stores(settings).resolved_config_url)
    clock = SystemClock()
    add_users(store, clock)
    backend = ScreenBackend(settings.sessions_dir, screen_dir=screen_dir)
    try:
        with TestClient(create_app(settings, store=store, clock=clock)) as client:
            api = Api(client=client, store=store, clock=clock, settings=settings)
            live = Live(api=api, programs=settings.program_dirs[0], screens=backend)
            admin = live.headers()
            command = install_program(live.programs, "ticker", TICKING)
            created = client.post(
                "/api/v1/programs", json={"name": "ticker", "command": command}, headers=admin
            )
            assert created.status_code == 201, created.text
            pair = {
                "country": "IN",
                "operator": "Vi India",
                "slug": "vi",
                "is_high_priority": True,
                "programs": ["ticker"],
                "phone_numbers": ["+919812345678", "+919812345679"],
            }
            made = client.post("/api/v1/pairs", json=pair, headers=admin)
            assert made.status_code == 201, made.text
            eventually(lambda: running(live, HP_SESSION), timeout=20)
            yield live
            client.post(
                "/api/v1/sessions/actions",
                json={"action": "stop", "all": True, "force": True},
                headers=admin,
            )
            eventually(lambda: all(s["state"] != "running" for s in sessions(api)), timeout=15)
    finally:
        for entry in backend.list():
            backend.stop(entry.name, grace_seconds=0)
        store.close()
        shutil.rmtree(screen_dir, ignore_errors=True)


@pytest.fixture
def elsewhere(config_store_url: str, config_store: ConfigStore) -> Iterator[ConfigStore]:
    """The test's store as another replica has it open."""
    store = open_config_store(config_store_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    """A Telegram stand-in on loopback, for a control plane given its `token`."""
    with TelegramStandIn(token="4242:security") as stand_in:
        yield stand_in
