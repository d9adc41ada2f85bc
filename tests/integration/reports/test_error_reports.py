"""Unhandled errors reach Sentry (a stand-in speaking its protocol) from the control plane,
the search service and a program, with their context and never a secret or a phone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smsfleet.auth.models import Role
from smsfleet.core.security import worker_token
from smsfleet.core.settings import Settings
from smsfleet.deps import CurrentUser
from smsfleet.search.app import create_search_app
from tests.integration.worker.standin import SECRET, Fleet
from tests.integration.worker.standin import create_app as create_standin_control_plane
from tests.support.api import running_api
from tests.support.sentry import SentryStandIn
from tests.support.servers import ThreadedServer
from tests.support.tokens import ANY_CREATION

PHONE = "+998991234567"
SEARCH_TOKEN = "search-token-for-error-report-tests"


@pytest.fixture
def sentry() -> Iterator[SentryStandIn]:
    with SentryStandIn() as standin:
        yield standin
    assert not sentry_sdk.is_initialized(), "a reporter was left running"


def _assert_clean(standin: SentryStandIn, *secrets: str) -> None:
    raw = "\n".join(standin.raw)
    for secret in (PHONE, PHONE.lstrip("+"), *secrets):
        assert secret not in raw


def _exception(event: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = event["exception"]["values"][-1]
    return value


def _fail(phone: str) -> None:
    raise RuntimeError(f"the route broke while sending to {phone}")


def test_the_control_plane_reports_an_unhandled_error_with_its_request(
    tmp_path: Path, sentry: SentryStandIn
) -> None:
    with running_api(tmp_path, sentry_dsn=sentry.dsn, sentry_environment="staging") as api:
        app = api.client.app
        assert isinstance(app, FastAPI)

        def broken(phone: str, _: CurrentUser) -> None:
            _fail(phone)

        app.add_api_route("/api/v1/broken/{phone}", broken, methods=["POST"])
        token = api.token(Role.operator)
        with pytest.raises(RuntimeError):
            api.client.post(
                f"/api/v1/broken/{PHONE}?token=query-secret",
                headers={"Authorization": f"Bearer {token}", "Cookie": "session=cookie-secret"},
                json={"password": "body-secret"},
            )
        event = sentry.wait_for_events()[0]

    assert _exception(event)["type"] == "RuntimeError"
    assert "[phone]" in _exception(event)["value"]
    assert event["tags"]["service"] == "control-plane"
    assert event["tags"]["role"] == "operator"
    assert event["environment"] == "staging"
    assert event["release"].startswith("smsfleet@")
    request = event["request"]
    assert request["method"] == "POST"
    assert request["url"].endswith("/api/v1/broken/[phone]")
    assert "data" not in request and "cookies" not in request
    frames = _exception(event)["stacktrace"]["frames"]
    assert frames and not [frame for frame in frames if "vars" in frame], "local variables sent"
    assert "user" not in event
    _assert_clean(sentry, token, "query-secret", "cookie-secret", "body-secret")


def test_a_worker_route_names_the_session(tmp_path: Path, sentry: SentryStandIn) -> None:
    """The fleet session a worker route served is on its report (from the worker token)."""
    with running_api(tmp_path, sentry_dsn=sentry.dsn) as api:
        app = api.client.app
        assert isinstance(app, FastAPI)
        secret = api.settings.jwt_secret
        session = "program1_UZ_uzmobile"
        token = worker_token(secret=secret, session=session, created_at=ANY_CREATION)
        dispatcher = app.state.services.dispatcher

        def lease_then_fail(**_: Any) -> None:
            raise RuntimeError("the lease broke")

        dispatcher.lease = lease_then_fail
        with pytest.raises(RuntimeError):
            api.client.post(
                "/api/v1/worker/lease",
                headers={"Authorization": f"Bearer {token}"},
                json={"session": session},
            )
        event = sentry.wait_for_events()[0]
    assert event["tags"]["fleet_session"] == session
    _assert_clean(sentry, token)


def test_the_search_service_reports_with_its_own_name(
    tmp_path: Path, sentry: SentryStandIn
) -> None:
    settings = Settings(data_dir=tmp_path, search_token=SEARCH_TOKEN, sentry_dsn=sentry.dsn)
    app = create_search_app(settings)
    app.add_api_route("/v1/broken/{phone}", _fail, methods=["POST"])
    with TestClient(app) as client, pytest.raises(RuntimeError):
        client.post(f"/v1/broken/{PHONE}", headers={"Authorization": f"Bearer {SEARCH_TOKEN}"})
    event = sentry.wait_for_events()[0]
    assert event["tags"]["service"] == "search"
    assert _exception(event)["type"] == "RuntimeError"
    _assert_clean(sentry, SEARCH_TOKEN)


FAILING_PROGRAM = """
from smsfleet.worker import run_program


class SendSMS:
    def __init__(self, phone, proxy=None):
        self.phone = phone

    def SendOtp(self):
        raise ValueError("the provider refused " + self.phone)


class SubmitSMS:
    def SumitOtp(self, trigger_id, code):
        return True


raise SystemExit(run_program(SendSMS, SubmitSMS, code_timeout=1))
"""


def test_a_programs_bug_is_reported_with_its_session(tmp_path: Path) -> None:
    session = "program9_UZ_uzmobile"
    fleet = Fleet(phones={"UZ_uzmobile": PHONE})
    control_plane = ThreadedServer(create_standin_control_plane(fleet))
    program = tmp_path / "program9.py"
    program.write_text(FAILING_PROGRAM)
    token = worker_token(secret=SECRET, session=session, created_at=ANY_CREATION)
    control_plane.start()
    try:
        with SentryStandIn() as sentry:
            env = {
                "PATH": "/usr/bin:/bin",
                "SMSFLEET_URL": control_plane.url,
                "SMSFLEET_SESSION": session,
                "SMSFLEET_WORKER_TOKEN": token,
                "SMSFLEET_SPOOL_DIR": str(tmp_path / "spool"),
                "SMSFLEET_PROGRAM_SENTRY_DSN": sentry.dsn,
            }
            process = subprocess.Popen(
                [sys.executable, str(program)],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            # A long wait only when it fails: a busy machine starts a program slowly.
            try:
                events = sentry.wait_for_events(timeout=60)
            except AssertionError:
                events = []
            finally:
                process.terminate()
                output = process.communicate(timeout=10)[0].decode()
    finally:
        control_plane.stop()
    assert events, f"no event reached the Sentry stand-in; the program said:\n{output}"
    event = events[0]
    assert process.returncode == 0, output
    assert _exception(event)["type"] == "ValueError", output
    tags = event["tags"]
    assert tags["service"] == "program"
    assert (tags["fleet_session"], tags["program"], tags["pair"], tags["country"]) == (
        session,
        "program9",
        "UZ_uzmobile",
        "UZ",
    )
    assert tags["trigger_id"] in {report.trigger_id for report in fleet.reports_of(session)}
    _assert_clean(sentry, token)
