"""A removed session's worker token still verifies (it is derived from the name), but its
heartbeat and its runner's `ended` find nothing: 404 `not_found`, as its lease answers
`stop`; nothing is recorded, and `ended` naming a new pid each time does not wake the
supervisor's reconcile. Answered from the config in memory, as a lease is: no store
query per heartbeat. The SDK shrugs a refused heartbeat off at its own pace."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.core.settings import Settings
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.supervisor import LaunchFactory, Supervisor
from smsfleet.stores import open_config_store
from smsfleet.worker import ControlPlane, Worker
from tests.integration.dispatch.test_worker_api import SESSION
from tests.integration.dispatch.test_worker_api import Worker as Api
from tests.support.fakes import FakeClock
from tests.support.sqlite_schemas import migrated_stores
from tests.support.statements import outside_jobs, sql_statements
from tests.unit.worker.fakes import Calls, FakeGateway, program_classes, settings

OTHER = "program2_UZ_uzmobile"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """Two sessions of one pair; the first then removed, as a pair's deletion does."""
    app_settings = Settings(
        data_dir=tmp_path,
        web_dir=tmp_path / "no-web",
        supervise=False,
        redis_url=None,
        config_max_age_seconds=30,  # this process's own changes are seen at once
    )
    store = open_config_store(migrated_stores(app_settings).resolved_config_url)
    clock = FakeClock()
    app = create_app(app_settings, store=store, clock=clock)
    try:
        with TestClient(app) as client:
            ready = Api(client, store, clock, app_settings, app.state.services.dispatcher)
            ready.add_pair()
            ready.add_session("program1")
            ready.add_session("program2")
            assert store.session_specs.delete(SESSION)
            yield ready
    finally:
        store.close()


def _post(api: Api, route: str, session: str, **fields: object) -> httpx2.Response:
    return api.client.post(
        f"/api/v1/worker/{route}", json={"session": session, **fields}, headers=api.headers(session)
    )


def test_a_removed_sessions_heartbeat_and_ended_are_not_found(api: Api) -> None:
    assert api.lease(SESSION) == {"action": "stop", "reason": f"unknown session {SESSION!r}"}
    for route, fields in [("heartbeat", {}), ("ended", {}), ("ended", {"pid": 4242})]:
        answer = _post(api, route, SESSION, **fields)
        assert answer.status_code == 404, (route, answer.text)
        error = answer.json()["error"]
        assert (error["code"], error["message"]) == ("not_found", f"unknown session {SESSION!r}")
    assert SESSION not in api.dispatcher.heartbeats()
    # A session that exists is answered as before.
    assert _post(api, "heartbeat", OTHER).status_code == 204
    assert _post(api, "ended", OTHER, pid=4242).status_code == 204
    assert OTHER in api.dispatcher.heartbeats()


def test_heartbeats_read_no_store_while_the_config_is_fresh(api: Api) -> None:
    assert _post(api, "heartbeat", OTHER).status_code == 204  # the config looked at once
    with sql_statements(outside_jobs) as seen:
        for _ in range(10):
            assert _post(api, "heartbeat", OTHER).status_code == 204
            assert _post(api, "heartbeat", SESSION).status_code == 404
    # Only the heartbeats' own timer, writing the beats to SQL, may have run meanwhile.
    assert [statement for statement in seen if "session_heartbeats" not in statement] == []


def test_ended_for_a_session_with_no_spec_does_not_wake_the_supervisor(api: Api) -> None:
    supervisor = Supervisor(
        store=api.store,
        hosts=cast(Hosts, None),  # not reached: no reconcile runs here
        clock=api.clock,
        launch=cast(LaunchFactory, None),
    )
    supervisor.leading = True
    try:
        for pid in range(1000, 1050):  # a new run each time: each would be heard
            supervisor.program_ended(SESSION, pid)
        assert not supervisor._wake.is_set()
        supervisor.program_ended(OTHER, 1000)  # a session that exists: heard
        assert supervisor._wake.is_set()
    finally:
        supervisor.close()


def test_the_sdk_keeps_its_pace_when_its_heartbeats_are_not_found(tmp_path: Path) -> None:
    """The heartbeat thread shrugs the 404 off and beats at its interval; the lease's stop
    ends the program as usual."""
    beats: list[float] = []
    leases = 0
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal leases
        error = {"code": "not_found", "message": f"unknown session {SESSION!r}", "details": None}
        with lock:
            if request.url.path.endswith("/heartbeat"):
                beats.append(time.monotonic())
                return httpx.Response(404, json={"error": error})
            leases += 1
            if leases < 5:
                return httpx.Response(200, json={"action": "wait", "retry_after": 0.1})
            return httpx.Response(200, json={"action": "stop", "reason": "unknown session"})

    out = io.StringIO()
    worker = Worker(
        *program_classes(Calls()),
        settings=settings(tmp_path / "spool", heartbeat_interval=0.1),
        control_plane=ControlPlane(
            "http://cp.test", token="t", session=SESSION, transport=httpx.MockTransport(handler)
        ),
        gateway=FakeGateway().client(),
        out=out,
    )
    assert worker.run() == 0
    # About 0.4 s of waits at a beat each 0.1 s: a handful, not a spin.
    assert 1 <= len(beats) <= 10, len(beats)
    assert "Traceback" not in out.getvalue()
