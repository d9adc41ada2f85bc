"""A control plane on a fresh SQLite store, with a user of each role (a plugin of
tests/conftest.py, so its fixture serves every suite).

- `api`: `running_api(tmp_path)`, the in-process control plane on SQLite.
- `Api`, `running_api`, `add_users`, `PASSWORDS`, `program_dir`: its building blocks, for
  tests that run the control plane with settings of their own.
- `SignsInByRole`: `token(role)` and `headers(role)` for any client of such a control
  plane (in process here, over HTTP in `tests/support/live_server.py`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.auth.models import Role, User
from smsfleet.core.clock import Clock
from smsfleet.core.security import hash_password
from smsfleet.core.settings import PROGRAM_DIR_DEFAULT, Settings
from smsfleet.stores import ConfigStore, open_config_store
from smsfleet.wiring import Services
from tests.support.fakes import FakeClock
from tests.support.sqlite_schemas import migrated_stores

ADMIN_PASSWORD = "admin-password-for-tests"
PASSWORDS = {role: f"{role.value}-password-for-tests" for role in Role}


class _Response(Protocol):
    status_code: int

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class _Client(Protocol):
    """What signing in needs of a client: the test client's and httpx's alike."""

    def post(self, url: str, *, json: Any) -> _Response: ...


class SignsInByRole:
    """Tokens of the users `add_users` makes, through `client`, for a control plane's tests."""

    client: _Client
    tokens: dict[Role, str]

    def token(self, role: Role) -> str:
        """An access token for the user of `role` (cached: argon2 is slow on purpose)."""
        if role in self.tokens:
            return self.tokens[role]
        response = self.client.post(
            "/api/v1/auth/login",
            json={"username": role.value, "password": PASSWORDS[role]},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        self.tokens[role] = token
        return token

    def headers(self, role: Role = Role.admin) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}


@dataclass
class Api(SignsInByRole):
    client: TestClient
    store: ConfigStore
    clock: Clock
    settings: Settings
    tokens: dict[Role, str] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        """What the running control plane was composed of (`create_app` keeps it there)."""
        app = self.client.app
        assert isinstance(app, FastAPI), app
        services: Services = app.state.services
        return services


@functools.cache
def _password_hashes() -> dict[Role, str]:
    # Hashed once per run: argon2 is slow on purpose.
    return {role: hash_password(password) for role, password in PASSWORDS.items()}


def add_users(store: ConfigStore, clock: Clock) -> None:
    """One user per role, named after it, with the password of `PASSWORDS`."""
    for role in Role:
        store.users.add(
            User(
                username=role.value,
                role=role,
                password_hash=_password_hashes()[role],
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )


def program_dir(tmp_path: Path) -> Path:
    """Where a test installs its programs when it runs the control plane in `tmp_path`."""
    path = tmp_path / "programs"
    path.mkdir(exist_ok=True)
    return path


@contextmanager
def serving(config: Settings, clock: Clock) -> Iterator[Api]:
    """The control plane of `config` in this process on `clock`, with the test users."""
    store = open_config_store(config.resolved_config_url)
    add_users(store, clock)
    try:
        with TestClient(create_app(config, store=store, clock=clock)) as client:
            yield Api(client=client, store=store, clock=clock, settings=config)
    finally:
        store.close()


@contextmanager
def running_api(tmp_path: Path, **settings: Any) -> Iterator[Api]:
    """The control plane in this process, on SQLite, with `settings` over the test defaults."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "web_dir": tmp_path / "no-web",
        "login_failures_per_user": 3,
        "login_failures_per_address": 10,
        "login_failure_window_seconds": 60,
        "supervise": False,
        # The checkout's programs, and the test's own (`program_dir`, see `install_program`).
        "program_dirs": [PROGRAM_DIR_DEFAULT, program_dir(tmp_path)],
    }
    values.update(settings)
    with serving(migrated_stores(Settings(**values)), FakeClock()) as running:
        yield running


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path) as running:
        yield running
