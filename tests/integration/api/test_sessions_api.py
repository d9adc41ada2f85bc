"""Sessions over HTTP and the WebSocket, with the supervisor running real screens."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from smsfleet.api import create_app
from smsfleet.auth.models import Role
from smsfleet.core.clock import SystemClock
from smsfleet.core.settings import Settings
from smsfleet.sessions.models import SessionEvent
from smsfleet.stores import open_config_store
from tests.support.api import Api, add_users, program_dir
from tests.support.fleet import quit_screens
from tests.support.live import live_socket
from tests.support.programs import install_program
from tests.support.sessions import TICKING, require_screen
from tests.support.sqlite_schemas import migrated_stores
from tests.support.tokens import issued_token
from tests.support.waiting import eventually


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[Api]:
    with _live_api(tmp_path) as api:
        yield api


@contextmanager
def _live_api(tmp_path: Path, **changed: Any) -> Iterator[Api]:
    """The control plane with its supervisor over real screens, `changed` its settings."""
    require_screen()
    screen_dir = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp"))
    settings = Settings(
        data_dir=tmp_path,
        web_dir=tmp_path / "no-web",
        screen_dir=screen_dir,
        supervisor_interval_seconds=0.1,
        start_seconds=0.2,
        stop_grace_seconds=2,
        program_dirs=[program_dir(tmp_path)],
        **changed,
    )
    store = open_config_store(migrated_stores(settings).resolved_config_url)
    clock = SystemClock()
    add_users(store, clock)
    app = create_app(settings, store=store, clock=clock)
    with TestClient(app) as client:
        api = Api(client=client, store=store, clock=clock, settings=settings)
        yield api
        admin = api.headers(Role.admin)
        client.post(
            "/api/v1/sessions/actions",
            json={"action": "stop", "all": True, "force": True},
            headers=admin,
        )
        eventually(lambda: all(s["state"] == "stopped" for s in sessions(api)), timeout=15)
    store.close()
    # A start in flight as the app shut down outlives its supervisor (a control plane's
    # sessions keep running when it stops): ended here, not left running after the test.
    quit_screens(screen_dir)
    shutil.rmtree(screen_dir, ignore_errors=True)


def sessions(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get("/api/v1/sessions", params=params, headers=api.headers(Role.viewer))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def state(api: Api, name: str) -> str:
    response = api.client.get(f"/api/v1/sessions/{name}", headers=api.headers(Role.viewer))
    value: str = response.json()["state"]
    return value


def await_state(api: Api, name: str, wanted: str, timeout: float = 10.0) -> None:
    """Wait for session `name` to be in state `wanted`; a timeout says where it is instead
    and what happened to it."""

    def seen() -> str:
        headers = api.headers(Role.viewer)
        events = api.client.get(f"/api/v1/sessions/{name}/events", headers=headers).json()
        return f"{name} {wanted} (it is {state(api, name)}; its events: {events})"

    eventually(lambda: state(api, name) == wanted, timeout, what=seen)


def add_ticker(api: Api) -> None:
    """Program `ticker`, installed in the program directory and defined by the admin."""
    command = install_program(api.settings.program_dirs[0], "ticker", TICKING)
    program = {"name": "ticker", "command": command}
    response = api.client.post("/api/v1/programs", json=program, headers=api.headers(Role.admin))
    assert response.status_code == 201, response.text


def setup_pairs(api: Api) -> None:
    operator, admin = api.headers(Role.operator), api.headers(Role.admin)
    add_ticker(api)
    for country, slug, high, number in (
        ("UZ", "uzmobile", False, "+998901234567"),
        ("TJ", "megafon", False, "+992901234567"),
        ("IN", "vi", True, "+919812345678"),
    ):
        body = {
            "country": country,
            "operator": slug,
            "slug": slug,
            "programs": ["ticker"],
            "is_high_priority": high,
            "phone_numbers": [number],  # without one, its session is held stopped
        }
        role = admin if high else operator  # only an admin marks a pair high priority
        assert api.client.post("/api/v1/pairs", json=body, headers=role).status_code == 201


KE_AIRTEL_STARTED = {
    "country": "KE",
    "operator": "Airtel",
    "programs": ["ticker"],
    "phone_numbers": ["+254712345678"],
    "start_sessions": True,
}


def create_ke_airtel_started(api: Api) -> None:
    """KE Airtel created with its ticker session asked to start, as the pair form does."""
    add_ticker(api)
    response = api.client.post(
        "/api/v1/pairs", json=KE_AIRTEL_STARTED, headers=api.headers(Role.operator)
    )
    assert response.status_code == 201, response.text


def test_start_follow_logs_and_stop_through_the_api(live_api: Api) -> None:
    api = live_api
    setup_pairs(api)
    operator = api.headers(Role.operator)
    eventually(
        lambda: (
            {s["name"] for s in sessions(api)}
            == {"ticker_UZ_uzmobile", "ticker_TJ_megafon", "ticker_IN_vi"}
        )
    )
    # The high-priority pair's session runs without being asked.
    await_state(api, "ticker_IN_vi", "running")
    assert state(api, "ticker_UZ_uzmobile") == "stopped"
    token = api.token(Role.viewer)
    with live_socket(api.client, token) as socket:
        started = api.client.post("/api/v1/sessions/ticker_UZ_uzmobile/start", headers=operator)
        assert started.status_code == 200
        assert started.json()["desired"] == "running"
        kinds = []
        while "running" not in kinds:
            message = socket.receive_json()
            if (
                message["topic"] == "sessions"
                and message["data"]["session"] == "ticker_UZ_uzmobile"
            ):
                kinds.append(message["data"]["kind"])
        assert kinds[:3] == ["start_requested", "starting", "running"]
        socket.send_json({"follow_logs": "ticker_UZ_uzmobile"})
        while True:
            message = socket.receive_json()
            if message["topic"] == "logs":
                assert message["data"]["name"] == "ticker_UZ_uzmobile"
                assert any(line.endswith("tick") for line in message["data"]["lines"])
                break
    view = api.client.get("/api/v1/sessions/ticker_UZ_uzmobile", headers=operator).json()
    assert view["pid"] > 0
    assert view["uptime_seconds"] >= 0
    assert view["memory_bytes"] > 0
    again = api.client.post("/api/v1/sessions/ticker_UZ_uzmobile/start", headers=operator).json()
    assert again == {
        "name": "ticker_UZ_uzmobile",
        "ok": True,
        "state": "running",
        "desired": "running",
        "error": None,
        "note": None,
    }
    url = "/api/v1/sessions/ticker_UZ_uzmobile/logs?lines=5"
    eventually(lambda: len(api.client.get(url, headers=operator).json()["lines"]) == 5)
    assert api.client.get(url, headers=operator).json()["lines"][-1].endswith("tick")
    stopped = api.client.post(
        "/api/v1/sessions/ticker_UZ_uzmobile/stop", json={"reason": "maintenance"}, headers=operator
    )
    assert stopped.status_code == 200
    await_state(api, "ticker_UZ_uzmobile", "stopped")
    events_url = "/api/v1/sessions/ticker_UZ_uzmobile/events"
    # The state is written just before its event is logged: the event follows at once.
    eventually(lambda: api.client.get(events_url, headers=operator).json()[0]["kind"] == "stopped")
    events = api.client.get(events_url, headers=operator).json()
    requested = next(e for e in events if e["kind"] == "stop_requested")
    assert requested["actor"] == "operator"
    assert requested["reason"] == "maintenance"


def test_high_priority_sessions_need_an_admin_and_force_to_stop(live_api: Api) -> None:
    api = live_api
    setup_pairs(api)
    await_state(api, "ticker_IN_vi", "running")
    url = "/api/v1/sessions/ticker_IN_vi/stop"
    assert api.client.post(url, headers=api.headers(Role.operator)).status_code == 403
    no_force = api.client.post(url, headers=api.headers(Role.admin))
    assert no_force.status_code == 409
    assert no_force.json()["error"]["code"] == "force_required"
    assert state(api, "ticker_IN_vi") == "running"
    forced = api.client.post(
        url, json={"force": True, "reason": "provider maintenance"}, headers=api.headers(Role.admin)
    )
    assert forced.status_code == 200
    await_state(api, "ticker_IN_vi", "stopped")


def test_bulk_actions_answer_per_session(live_api: Api) -> None:
    api = live_api
    setup_pairs(api)
    operator = api.headers(Role.operator)
    eventually(lambda: len(sessions(api)) == 3)
    nothing = api.client.post(
        "/api/v1/sessions/actions", json={"action": "start"}, headers=operator
    )
    assert nothing.status_code == 422
    started = api.client.post(
        "/api/v1/sessions/actions", json={"action": "start", "all": True}, headers=operator
    ).json()
    assert {r["name"] for r in started} == {
        "ticker_UZ_uzmobile",
        "ticker_TJ_megafon",
        "ticker_IN_vi",
    }
    assert all(r["ok"] for r in started)
    eventually(lambda: {s["state"] for s in sessions(api)} == {"running"})
    assert {s["name"] for s in sessions(api, country="UZ")} == {"ticker_UZ_uzmobile"}
    stop_all = api.client.post(
        "/api/v1/sessions/actions", json={"action": "stop", "all": True}, headers=operator
    ).json()
    outcome = {r["name"]: r for r in stop_all}
    assert outcome["ticker_IN_vi"]["ok"] is False
    assert "admin" in outcome["ticker_IN_vi"]["error"]
    assert outcome["ticker_UZ_uzmobile"]["ok"] is True
    await_state(api, "ticker_TJ_megafon", "stopped")
    assert state(api, "ticker_IN_vi") == "running"
    # Restarting them all restarts those wanted running: those stopped on purpose stay so.
    restart_all = api.client.post(
        "/api/v1/sessions/actions",
        json={"action": "restart", "all": True, "force": True},
        headers=api.headers(Role.admin),
    ).json()
    outcome = {r["name"]: r for r in restart_all}
    assert outcome["ticker_IN_vi"]["ok"] is True
    assert outcome["ticker_UZ_uzmobile"]["ok"] is False
    assert outcome["ticker_UZ_uzmobile"]["error"] == (
        "stopped on purpose: not restarted; start it to run it"
    )
    desired = {s["name"]: s["desired"] for s in sessions(api)}
    assert desired == {
        "ticker_UZ_uzmobile": "stopped",
        "ticker_TJ_megafon": "stopped",
        "ticker_IN_vi": "running",
    }


def test_a_bulk_action_names_an_operator_as_shown_and_says_when_nothing_matches(
    live_api: Api,
) -> None:
    """An emergency stop by the operator's name as the pages show it stops its sessions;
    one by a name that matches nothing says so, rather than answering an empty success."""
    api = live_api
    add_ticker(api)
    pair = {**KE_AIRTEL_STARTED, "start_sessions": False}
    assert api.client.post("/api/v1/pairs", json=pair, headers=api.headers()).status_code == 201
    # Its session is made at the supervisor's next look (a tenth of a second here).
    eventually(lambda: [s["name"] for s in sessions(api)] == ["ticker_KE_airtel"])
    operator = api.headers(Role.operator)
    actions = "/api/v1/sessions/actions"
    for name in ("Airtel", "AIRTEL", "airtel", "ke_airtel"):
        assert [s["name"] for s in sessions(api, operator=name)] == ["ticker_KE_airtel"]
        stopped = api.client.post(
            actions, json={"action": "stop", "operator": name}, headers=operator
        )
        assert stopped.status_code == 200, stopped.text
        assert [r["name"] for r in stopped.json()] == ["ticker_KE_airtel"]
    for filters, said in (
        ({"country": "XX"}, "country 'XX'"),
        ({"operator": "Airtel", "program": "nosuch"}, "operator 'Airtel', program 'nosuch'"),
    ):
        refused = api.client.post(actions, json={"action": "stop", **filters}, headers=operator)
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["message"] == f"no session matches {said}"


@pytest.mark.parametrize(
    "name",
    ["x;rm -rf /", "$(id)", "a b", "program1_UZ_uzmobile\n", "p" * 300, "progr\u0430m1_UZ_x"],
)
def test_hostile_session_names_never_reach_screen(live_api: Api, name: str) -> None:
    response = live_api.client.post(
        f"/api/v1/sessions/{quote(name, safe='')}/start", headers=live_api.headers(Role.operator)
    )
    assert response.status_code in (404, 405, 422)
    assert "error" in response.json()
    assert live_api.store.session_specs.list() == []


def test_the_websocket_needs_a_valid_token(live_api: Api) -> None:
    with live_api.client.websocket_connect("/api/v1/ws") as socket:
        socket.send_json({"type": "auth", "token": "forged"})
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4401


def test_a_new_session_is_announced_on_the_live_topic(live_api: Api) -> None:
    api = live_api
    operator = api.headers(Role.operator)
    published: list[SessionEvent] = []
    api.services.bus.listen("sessions", SessionEvent, published.append)
    add_ticker(api)
    body = {"country": "KE", "operator": "Safaricom", "programs": ["ticker"]}
    assert api.client.post("/api/v1/pairs", json=body, headers=operator).status_code == 201
    eventually(lambda: published)
    (event,) = published
    assert (event.session, event.kind, event.to_state) == (
        "ticker_KE_safaricom",
        "created",
        "stopped",
    )
    assert event.reason == "ticker assigned to KE_safaricom" and event.actor == "system"
    events = api.client.get("/api/v1/sessions/ticker_KE_safaricom/events", headers=operator)
    assert [e["kind"] for e in events.json()] == ["created"]


def test_a_pair_created_with_start_sessions_runs_them_at_once(live_api: Api) -> None:
    """What the dashboard's pair form asks by default: no stopped session left to find."""
    api = live_api
    operator = api.headers(Role.operator)
    create_ke_airtel_started(api)
    (session,) = sessions(api, operator="KE_airtel")
    assert session["desired"] == "running"
    assert session["desired_actor"] == "operator"
    await_state(api, "ticker_KE_airtel", "running")
    events = api.client.get("/api/v1/sessions/ticker_KE_airtel/events", headers=operator)
    assert [e["kind"] for e in events.json()][-2:] == ["start_requested", "created"]


def test_a_running_session_of_a_deleted_pair_is_stopped_and_then_gone(live_api: Api) -> None:
    api = live_api
    operator = api.headers(Role.operator)
    create_ke_airtel_started(api)
    await_state(api, "ticker_KE_airtel", "running")
    assert api.client.delete("/api/v1/pairs/KE_airtel", headers=operator).status_code == 204
    eventually(lambda: sessions(api, operator="KE_airtel") == [], what="the session to go")
    kinds = [event.kind for event in api.store.session_events.recent(limit=5)]
    assert kinds[:2] == ["stopped", "stopping"]


def test_a_pair_created_again_while_its_old_session_still_runs_gets_its_own_wishes(
    live_api: Api,
) -> None:
    api = live_api
    operator, admin = api.headers(Role.operator), api.headers(Role.admin)
    create_ke_airtel_started(api)
    await_state(api, "ticker_KE_airtel", "running")
    assert api.client.delete("/api/v1/pairs/KE_airtel", headers=operator).status_code == 204
    # Created again high priority, before its old session is stopped: it is wanted running.
    again = {**KE_AIRTEL_STARTED, "start_sessions": False, "is_high_priority": True}
    assert api.client.post("/api/v1/pairs", json=again, headers=admin).status_code == 201
    session = api.client.get("/api/v1/sessions/ticker_KE_airtel", headers=operator).json()
    assert (session["desired"], session["desired_reason"]) == ("running", "high-priority pair")
    await_state(api, "ticker_KE_airtel", "running")


def test_a_sessions_last_heartbeat_is_its_last_sign_of_life(live_api: Api) -> None:
    api = live_api
    setup_pairs(api)
    name = "ticker_UZ_uzmobile"
    await_state(api, "ticker_IN_vi", "running")  # the high-priority pair's, started at once
    eventually(lambda: name in {s["name"] for s in sessions(api)})
    viewer = api.headers(Role.viewer)
    assert (
        api.client.get(f"/api/v1/sessions/{name}", headers=viewer).json()["last_heartbeat"] is None
    )
    token = issued_token(api.store, secret=api.settings.jwt_secret, session=name)
    beat = api.client.post(
        "/api/v1/worker/heartbeat",
        json={"session": name},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert beat.status_code == 204, beat.text
    one = api.client.get(f"/api/v1/sessions/{name}", headers=viewer).json()
    (listed,) = sessions(api, program="ticker", operator="UZ_uzmobile")
    assert one["last_heartbeat"] is not None and listed["last_heartbeat"] == one["last_heartbeat"]
    beaten = datetime.fromisoformat(one["last_heartbeat"])
    assert abs((beaten - api.clock.now()).total_seconds()) < 5


def test_overdue_heartbeats_show_in_the_listing_before_the_hang_restarts_the_program(
    tmp_path: Path,
) -> None:
    with _live_api(tmp_path, heartbeat_timeout_seconds=6) as api:
        setup_pairs(api)
        name = "ticker_IN_vi"  # the high-priority pair's, started at once
        await_state(api, name, "running")
        token = issued_token(api.store, secret=api.settings.jwt_secret, session=name)

        def beat() -> None:
            answered = api.client.post(
                "/api/v1/worker/heartbeat",
                json={"session": name},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answered.status_code == 204, answered.text

        def kinds() -> list[str]:
            listed = api.client.get(
                f"/api/v1/sessions/{name}/events", headers=api.headers(Role.operator)
            )
            return [event["kind"] for event in listed.json()]  # newest first

        beat()
        eventually(lambda: kinds()[0] == "silent", what="its heartbeats told overdue", timeout=10)
        view = api.client.get(f"/api/v1/sessions/{name}", headers=api.headers(Role.viewer)).json()
        beaten = datetime.fromisoformat(view["last_heartbeat"])
        assert datetime.fromisoformat(view["hang_restart_at"]) == beaten + timedelta(seconds=6)
        assert view["note"].startswith(f"no heartbeat since {beaten:%H:%M:%S} UTC"), view["note"]

        beat()  # within the 3 s left before the hang: it runs on
        eventually(lambda: kinds()[0] == "heard", what="its heartbeat heard again")
        view = api.client.get(f"/api/v1/sessions/{name}", headers=api.headers(Role.viewer)).json()
        assert (view["state"], view["hang_restart_at"], view["note"]) == ("running", None, None)

        # A tick late on a loaded machine may find it past the hang at once, unsaid as silent.
        eventually(lambda: "hung" in kinds(), what="the hang", timeout=15)
