"""What the search suite's service and the control plane using it share."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.auth.models import Role
from smsfleet.core.clock import Clock
from smsfleet.core.settings import Settings
from smsfleet.search.app import create_search_app
from smsfleet.search.gateway import SearchFeeder
from tests.support.api import Api, running_api
from tests.support.servers import ThreadedServer

SEARCH_TOKEN = "search-token-for-tests-0123456789"

# A search job as the search document shows it (`/api/v1/users/<id>/search…`).
JOB_FIELDS = {
    "id",
    "owner",
    "query",
    "algorithm",
    "kinds",
    "limit",
    "status",
    "matched",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "results",
}


@contextmanager
def search_service(
    tmp_path: Path, *, clock: Clock | None = None, **settings: Any
) -> Iterator[ThreadedServer]:
    """The search service, served by a thread on a free port, its data in `tmp_path`, with
    `settings` over the defaults (and `clock`, else the system's)."""
    config = Settings(data_dir=tmp_path / "search", search_token=SEARCH_TOKEN, **settings)
    config.data_dir.mkdir()
    server = ThreadedServer(create_search_app(config, clock=clock))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def sending_api(tmp_path: Path, *, pair: dict[str, Any], template: dict[str, Any]) -> Iterator[Api]:
    """A control plane that sends (`pair`, run by program1, and `template`) and searches
    (the search service on loopback)."""
    with (
        search_service(tmp_path) as search,
        running_api(tmp_path, search_url=search.url, search_token=SEARCH_TOKEN) as api,
    ):
        admin = api.headers(Role.admin)
        program = {"name": "program1", "command": [sys.executable, "programs/program1.py"]}
        for path, body in (
            ("/api/v1/programs", program),
            ("/api/v1/pairs", {**pair, "programs": ["program1"], "start_sessions": True}),
            ("/api/v1/messages/templates", template),
        ):
            made = api.client.post(path, json=body, headers=admin)
            assert made.status_code == 201, made.text
        yield api


def index_one_attempt(api: Api) -> str:
    """One undelivered SMS to +998901234567 reported, and fed to the search service at once:
    its attempt's id."""
    attempt = Attempt(
        id="e" * 32,
        session="program4_UZ_uzmobile",
        pair="UZ_uzmobile",
        country="UZ",
        operator="uzmobile",
        program="program4",
        phone="+998901234567",
        leased_at=api.clock.now(),
        completed_at=api.clock.now(),
        outcome=Outcome.not_delivered,
        error_code="NO_ROUTE",
    )
    state = api.services
    assert state.dispatcher.on_report is not None  # wired: to the search feeder and metrics
    state.dispatcher.on_report(attempt)
    feeder: SearchFeeder = state.search_feeder
    feeder.flush()
    return attempt.id
