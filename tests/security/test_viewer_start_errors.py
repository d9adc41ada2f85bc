"""A failed start's raw error (this host's paths and commands, an SSH host's answer) is an
operator's to read: a viewer's session events, over HTTP and on the live socket, say only
that the start failed, as their session logs and hosts say only that a host does not
answer; the alert it raises, which everyone reads, does not hold it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smsfleet.auth.models import Role
from smsfleet.core.records import event_id
from smsfleet.sessions.models import EventKind, SessionEvent, SessionState
from smsfleet.sessions.service import VIEWERS_START_FAILED
from tests.security.test_programs_trust import api_key
from tests.support.api import running_api
from tests.support.live import add_sessions, live_socket

RAW = (
    "screen session program1_AZ_azercell did not report a start within 5 s; check that"
    " `/srv/fleet/.venv/bin/python /srv/fleet/src/smsfleet/sessions/runner.py` runs"
)


def _failed_start(session: str, at: Any) -> SessionEvent:
    return SessionEvent(
        id=event_id(),
        at=at,
        session=session,
        kind=EventKind.start_failed,
        from_state=SessionState.starting,
        to_state=SessionState.exited,
        actor="supervisor",
        reason=RAW,
    )


def _session_messages(socket: Any, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = socket.receive_json()
        if message["topic"] == "sessions":
            found.append(message["data"])
    return found


def test_a_viewer_reads_that_a_start_failed_not_its_raw_error(tmp_path: Path) -> None:
    with running_api(tmp_path) as api:
        (name,) = add_sessions(api, ("AZ", "Azercell"))
        api.store.session_events.append(_failed_start(name, api.clock.now()))
        url = f"/api/v1/sessions/{name}/events"
        reasons = {
            role: {
                e["reason"]
                for e in api.client.get(url, headers=api.headers(role)).json()
                if e["kind"] == "start_failed"
            }
            for role in Role
        }
        assert reasons[Role.viewer] == {VIEWERS_START_FAILED}
        assert reasons[Role.operator] == reasons[Role.admin] == {RAW}
        # An admin's read key acts as a viewer.
        by_key = api.client.get(url, headers=api_key(api, Role.admin, ["read"]))
        assert by_key.status_code == 200, by_key.text
        assert "/srv/fleet" not in by_key.text

        with (
            live_socket(api.client, api.token(Role.viewer)) as viewer,
            live_socket(api.client, api.token(Role.operator)) as operator,
        ):
            api.services.publish_session_event(_failed_start(name, api.clock.now()))
            (seen,) = _session_messages(viewer, 1)
            (told,) = _session_messages(operator, 1)
        assert seen["kind"] == "start_failed" and seen["session"] == name
        assert seen["reason"] == VIEWERS_START_FAILED
        assert told["reason"] == RAW


def test_the_alert_of_a_failed_start_holds_no_raw_error(tmp_path: Path) -> None:
    with running_api(tmp_path) as api:
        (name,) = add_sessions(api, ("AZ", "Azercell"))
        api.services.publish_session_event(_failed_start(name, api.clock.now()))
        viewer = api.headers(Role.viewer)
        alerts = api.client.get("/api/v1/alerts", headers=viewer)
        assert alerts.status_code == 200, alerts.text
        (alert,) = [a for a in alerts.json() if a["subject"] == name]
        # Resolved meanwhile or not (the fleet's sweep may find its session not running):
        # what it says of the start is the same.
        assert alert["summary"].startswith(
            f"{name} failed to start (why: its events, for operators); restarting with backoff"
        )
        assert "/srv/fleet" not in alerts.text
        one = api.client.get(f"/api/v1/alerts/{alert['id']}", headers=viewer)
        assert "/srv/fleet" not in one.text
