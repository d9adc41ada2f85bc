"""The seed services' routes and the inbound webhook over HTTP, metrics on SQLite and MariaDB."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.auth.models import Role
from smsfleet.core.sql import create_sql_engine
from tests.support.api import Api, running_api
from tests.support.messages import sms

GATEWAY_TOKEN = "gateway-token-for-tests-0123456789"
A, B = "+998901234567", "+998907654321"


@pytest.fixture(params=["sqlite", "mariadb"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    settings: dict[str, Any] = {"inbound_token": GATEWAY_TOKEN}
    if request.param == "mariadb":
        settings["metrics_url"] = request.getfixturevalue("migrated_mariadb_url")
    with running_api(tmp_path, **settings) as running:
        yield running


def test_the_seed_sms_service_routes(web: Api) -> None:
    headers = web.headers(Role.operator)
    sent = web.client.post(
        "/api/send-sms", json=sms(A, B, "second", "2026-01-05T10:00:05Z"), headers=headers
    )
    assert (sent.status_code, sent.json()) == (200, {"message": "SMS sent successfully"})
    received = web.client.post(
        "/api/receive-sms", json=sms(B, A, "first", "2026-01-05T10:00:00Z"), headers=headers
    )
    assert (received.status_code, received.json()) == (
        200,
        {"message": "SMS received successfully"},
    )
    web.client.post(
        "/api/receive-sms", json=sms(B, A, "third", "2026-01-05T10:01:00+00:00"), headers=headers
    )
    thread = web.client.get(f"/api/get-conversation/{A}", headers=web.headers(Role.operator))
    assert thread.status_code == 200
    assert thread.json() == {
        "messages": [
            {
                "phone_number": A,
                "message_text": "first",
                "timestamp": 1767607200,
                "direction": "received",
            },
            {
                "phone_number": A,
                "message_text": "second",
                "timestamp": 1767607205,
                "direction": "sent",
            },
            {
                "phone_number": A,
                "message_text": "third",
                "timestamp": 1767607260,
                "direction": "received",
            },
        ]
    }
    unknown = web.client.get("/api/get-conversation/+15550000000", headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


def test_a_repeated_uuid_is_409_and_changes_nothing(web: Api) -> None:
    headers = web.headers(Role.operator)
    body = sms(A, B, "once", "2026-01-05T10:00:00Z")
    assert web.client.post("/api/send-sms", json=body, headers=headers).status_code == 200
    for route, done in (("send-sms", "sent"), ("receive-sms", "received")):
        again = web.client.post(f"/api/{route}", json=body | {"messageText": "x"}, headers=headers)
        assert again.status_code == 409
        assert again.json()["error"]["message"] == (
            f"a message with uuid {body['uuid']} was already {done}"
        )
    thread = web.client.get(f"/api/get-conversation/{A}", headers=headers).json()
    assert [m["message_text"] for m in thread["messages"]] == ["once"]


@pytest.mark.parametrize("route", ["send-sms", "receive-sms"])
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"receiverPhone": "+0987654321"}, "receiverPhone"),
        ({"senderPhone": "+999123456789"}, "senderPhone"),
        ({"senderPhone": "+44123"}, "senderPhone"),
        ({"receiverPhone": "+9989012345678901"}, "receiverPhone"),
    ],
)
def test_a_number_written_with_plus_that_is_not_e164_is_422(
    web: Api, route: str, change: dict[str, str], field: str
) -> None:
    headers = web.headers(Role.operator)
    response = web.client.post(
        f"/api/{route}", json=sms(A, B, "x", "2026-01-05T10:00:00Z") | change, headers=headers
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == [field]
    assert "E.164" in error["details"][0]["message"]
    number = change[field].removeprefix("+")
    assert web.client.get(f"/api/get-conversation/{number}", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"senderPhone": None}, "senderPhone"),
        ({"receiverPhone": 998901234567}, "receiverPhone"),
        ({"messageText": ""}, "messageText"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"uuid": "not-a-uuid"}, "uuid"),
        ({"senderPhone": "call me"}, "senderPhone"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_missing_or_mistyped_field_is_422(web: Api, change: dict[str, Any], field: str) -> None:
    body = {
        k: v for k, v in (sms(A, B, "x", "2026-01-05T10:00:00Z") | change).items() if v is not None
    }
    response = web.client.post("/api/send-sms", json=body, headers=web.headers(Role.operator))
    assert response.status_code == 422
    assert field in {d["field"] for d in response.json()["error"]["details"]}


def test_the_inbound_webhook_takes_the_gateways_token_and_links_the_attempt(web: Api) -> None:
    engine = create_sql_engine(web.settings.resolved_metrics_url)
    AttemptStore(engine).add(
        Attempt(
            id="a" * 32,
            session="program1_UZ_uzmobile",
            pair="UZ_uzmobile",
            country="UZ",
            operator="uzmobile",
            program="program1",
            phone=A,
            leased_at=web.clock.now() - timedelta(seconds=20),
        )
    )
    engine.dispose()
    body = {
        "from": "+998000000000",
        "to": A,
        "text": "smsfleet test aaaaaaaa",
        "timestamp": web.clock.now().isoformat(),
        "uuid": str(uuid.uuid4()),
    }
    assert web.client.post("/api/v1/messages/inbound", json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert web.client.post("/api/v1/messages/inbound", json=body, headers=wrong).status_code == 401
    users = web.headers(Role.admin)  # a person's token is not the gateway's
    assert web.client.post("/api/v1/messages/inbound", json=body, headers=users).status_code == 401
    gateway = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
    stored = web.client.post("/api/v1/messages/inbound", json=body, headers=gateway)
    assert stored.status_code == 201, stored.text
    assert stored.json()["attempt_id"] == "a" * 32
    again = web.client.post("/api/v1/messages/inbound", json=body, headers=gateway)
    assert again.status_code == 409
    thread = web.client.get(f"/api/v1/messages/conversations/{A}", headers=web.headers()).json()
    assert [(i["kind"], i["direction"]) for i in thread["items"]] == [
        ("attempt", "outbound"),
        ("sms", "inbound"),
    ]


def test_a_conversation_is_paged_from_the_newest(web: Api) -> None:
    """Five SMS and two attempts, three a page: the newest three in time order, then the
    three before them, then the last one with no older page."""
    headers = web.headers(Role.operator)
    for minute in range(5):
        at = f"2026-01-05T10:0{minute}:00Z"
        posted = web.client.post(
            "/api/send-sms", json=sms(A, B, f"sms {minute}", at), headers=headers
        )
        assert posted.status_code == 200, posted.text
    engine = create_sql_engine(web.settings.resolved_metrics_url)
    # 10:00:30, broken off by a stop; 10:02:30, still open.
    for index, (seconds, code) in enumerate(((30, "interrupted"), (150, None))):
        leased_at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC) + timedelta(seconds=seconds)
        AttemptStore(engine).add(
            Attempt(
                id=f"{index}" * 32,
                session="program1_UZ_uzmobile",
                pair="UZ_uzmobile",
                country="UZ",
                operator="uzmobile",
                program="program1",
                phone=A,
                leased_at=leased_at,
                **(
                    {"outcome": Outcome.error, "error_code": code, "completed_at": leased_at}
                    if code
                    else {}
                ),
            )
        )
    engine.dispose()

    def page(**query: Any) -> dict[str, Any]:
        answer = web.client.get(
            f"/api/v1/messages/conversations/{A}", params={"limit": 3, **query}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def texts(body: dict[str, Any]) -> list[str]:
        return [item["text"] or item["kind"] for item in body["items"]]

    first = page()
    assert texts(first) == ["attempt", "sms 3", "sms 4"]
    second = page(before=first["older"])
    assert texts(second) == ["attempt", "sms 1", "sms 2"]
    # Each attempt says how it ended: broken off is no failure of the route.
    attempts = [i for body in (first, second) for i in body["items"] if i["kind"] == "attempt"]
    assert [(i["status"], i["error_code"], i["broken_off"]) for i in attempts] == [
        (None, None, False),
        ("error", "interrupted", True),
    ]
    last = page(before=second["older"])
    assert (texts(last), last["older"]) == (["sms 0"], None)
    bad = web.client.get(
        f"/api/v1/messages/conversations/{A}", params={"limit": 0}, headers=headers
    )
    assert bad.status_code == 422


def test_a_send_through_a_pair_none_of_whose_sessions_is_started_is_refused_at_once(
    web: Api,
) -> None:
    """Nothing would lease it: refused with what to do, not left to fail minutes later."""
    headers = web.headers(Role.operator)
    program = {"name": "program1", "command": [sys.executable, "programs/program1.py"]}
    made = web.client.post("/api/v1/programs", json=program, headers=web.headers(Role.admin))
    assert made.status_code == 201, made.text
    pair = {"country": "UZ", "operator": "UzMobile", "programs": ["program1"]}
    made = web.client.post(
        "/api/v1/pairs", json={**pair, "phone_numbers": ["+998991234500"]}, headers=headers
    )
    assert made.status_code == 201, made.text
    body = {"phone": A, "text": "a code"}
    refused = web.client.post("/api/v1/messages/send", json=body, headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["message"] == (
        "none of pair UZ_uzmobile's sessions is started, so nothing would send it: start one"
        " first (program1_UZ_uzmobile, say)"
    )
    assert web.client.get("/api/v1/messages/sends", headers=headers).json() == []
    started = web.client.post(
        "/api/v1/sessions/program1_UZ_uzmobile/start", json={"reason": "test"}, headers=headers
    )
    assert started.status_code == 200, started.text
    queued = web.client.post("/api/v1/messages/send", json=body, headers=headers)
    assert (queued.status_code, queued.json()["pair"]) == (202, "UZ_uzmobile"), queued.text
    # Sent by country, it goes through a pair whose sessions are started.
    stopped = web.client.post(
        "/api/v1/sessions/program1_UZ_uzmobile/stop", json={"reason": "test"}, headers=headers
    )
    assert stopped.status_code == 200, stopped.text
    other = {**pair, "operator": "Zet", "phone_numbers": ["+998991234501"]}
    made = web.client.post("/api/v1/pairs", json={**other, "start_sessions": True}, headers=headers)
    assert made.status_code == 201, made.text
    queued = web.client.post("/api/v1/messages/send", json=body, headers=headers)
    assert (queued.status_code, queued.json()["pair"]) == (202, "UZ_zet"), queued.text
    # Its country halted by an admin (cap 0): nothing would lease it either.
    admin = web.headers(Role.admin)
    halted = web.client.patch("/api/v1/countries/UZ", json={"cap": 0}, headers=admin)
    assert (halted.status_code, halted.json()["cap"]) == (200, 0), halted.text
    refused = web.client.post("/api/v1/messages/send", json=body, headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["message"] == (
        "country UZ is halted (its cap is 0): nothing is sent until an admin raises it, so"
        " nothing would send it"
    )
    below = web.client.patch("/api/v1/countries/UZ", json={"cap": -1}, headers=admin)
    assert below.status_code == 422, below.text


def test_the_seed_verification_route_queues_a_send(web: Api) -> None:
    headers = web.headers(Role.operator)
    program = {"name": "program1", "command": [sys.executable, "programs/program1.py"]}
    pair = web.client.post(
        "/api/v1/programs",
        json={**program, "provider": "provider1"},
        headers=web.headers(Role.admin),  # only an admin defines programs
    )
    assert pair.status_code == 201
    made = web.client.post(
        "/api/v1/pairs",
        json={
            "country": "UZ",
            "operator": "UzMobile",
            "phone_numbers": ["+998991234500"],
            "programs": ["program1"],
            "start_sessions": True,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    template = web.client.post(
        "/api/v1/messages/templates",
        json={"id": "otp", "name": "Code", "body": "Your code: {token}"},
        headers=headers,
    )
    assert template.status_code == 201, template.text
    queued = web.client.post(
        "/sendsms/", json={"phone": A, "token_value": "777", "template_id": "otp"}, headers=headers
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "PENDING" and queued.json()["pair"] == "UZ_uzmobile"
    one = web.client.get(f"/api/v1/messages/sends/{queued.json()['id']}", headers=headers).json()
    assert (one["phone"], one["params"], one["programs"]) == (A, {"token": "777"}, ["program1"])
    listed = web.client.get(
        "/api/v1/messages/sends", params={"status": "PENDING"}, headers=headers
    ).json()
    assert [s["id"] for s in listed] == [queued.json()["id"]]
    for body, code in (
        ({"phone": A, "token_value": "1", "template_id": "nope"}, 404),
        ({"phone": A, "token_value": "1"}, 422),
        ({"phone": "12", "token_value": "1", "template_id": "otp"}, 422),
    ):
        assert web.client.post("/sendsms/", json=body, headers=headers).status_code == code
    cancelled = web.client.post(
        f"/api/v1/messages/sends/{queued.json()['id']}/cancel", headers=headers
    )
    assert cancelled.json()["status"] == "CANCELLED"
    viewer = web.client.post("/sendsms/", json={}, headers=web.headers(Role.viewer))
    assert viewer.status_code == 403


def test_an_empty_gateway_token_turns_the_webhook_off_not_open(tmp_path: Path) -> None:
    body = {"from": "+998000000000", "to": A, "text": "hi", "uuid": str(uuid.uuid4())}
    with running_api(tmp_path, inbound_token="  ") as web:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer   "}):
            refused = web.client.post("/api/v1/messages/inbound", json=body, headers=headers)
            assert refused.status_code == 401
            assert "SMSFLEET_INBOUND_TOKEN" in refused.text


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_a_time_beyond_the_calendar_in_utc_is_refused_not_a_server_error(
    tmp_path: Path, at: str
) -> None:
    with running_api(tmp_path, inbound_token=GATEWAY_TOKEN) as web:
        seed = web.client.post(
            "/api/receive-sms", json=sms(B, A, "edge", at), headers=web.headers(Role.operator)
        )
        gateway = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
        body = {"from": B, "to": A, "text": "edge", "timestamp": at, "uuid": str(uuid.uuid4())}
        inbound = web.client.post("/api/v1/messages/inbound", json=body, headers=gateway)
        for refused in (seed, inbound):
            assert refused.status_code == 422
            assert "out of range" in refused.text
        thread = web.client.get(f"/api/get-conversation/{A}", headers=web.headers(Role.viewer))
        assert thread.status_code == 404  # nothing was kept


def test_a_pending_send_says_why_it_waits(web: Api) -> None:
    """A send to a number awaiting another code (a routine test's) says so, and when
    the number is free at the latest; one to a free number waits for its program. A
    viewer reads the same words, which hold no code."""
    headers = web.headers(Role.operator)
    test_number = "+998991234500"
    program = {"name": "program1", "command": [sys.executable, "programs/program1.py"]}
    made = web.client.post(
        "/api/v1/programs", json={**program, "provider": "provider1"}, headers=web.headers()
    )
    assert made.status_code == 201, made.text
    pair = {
        "country": "UZ",
        "operator": "UzMobile",
        "phone_numbers": [test_number],
        "programs": ["program1"],
        "start_sessions": True,
    }
    assert web.client.post("/api/v1/pairs", json=pair, headers=headers).status_code == 201
    leased_at = web.clock.now() - timedelta(seconds=36)
    engine = create_sql_engine(web.settings.resolved_metrics_url)
    AttemptStore(engine).add(
        Attempt(
            id="c0de1234" + "0" * 24,
            session="program1_UZ_uzmobile",
            pair="UZ_uzmobile",
            country="UZ",
            operator="uzmobile",
            program="program1",
            phone=test_number,
            leased_at=leased_at,
        )
    )
    engine.dispose()
    busy = web.client.post(
        "/api/v1/messages/send", json={"phone": test_number, "text": "hi"}, headers=headers
    )
    free = web.client.post(
        "/api/v1/messages/send", json={"phone": A, "text": "hi"}, headers=headers
    )
    assert busy.status_code == free.status_code == 202, busy.text + free.text

    def hms(moment: datetime) -> str:
        return f"{moment.astimezone(UTC):%H:%M:%S} UTC"

    now, ttl = web.clock.now(), timedelta(seconds=web.settings.lease_ttl_seconds)
    one = web.client.get(f"/api/v1/messages/sends/{busy.json()['id']}", headers=headers).json()
    assert one["waiting_reason"] == (
        f"waiting since {hms(now)}: {test_number} awaits another code (a test SMS handed out"
        f" at {hms(leased_at)}), until it comes or {hms(leased_at + ttl)} at the latest;"
        " once free it is kept for this send (no routine test is handed it), and program1"
        " takes it, unless it is still busy at"
        f" {hms(now + timedelta(minutes=2))}: it fails, no program of its pair left to try"
    )
    for role in (Role.operator, Role.viewer):
        listed = web.client.get("/api/v1/messages/sends", headers=web.headers(role)).json()
        reasons = {s["id"]: s["waiting_reason"] for s in listed}
        assert reasons[busy.json()["id"]] == one["waiting_reason"]
        assert reasons[free.json()["id"]] == (
            f"waiting since {hms(now)} for program1 of UZ_uzmobile to ask for work; if it has"
            f" not by {hms(now + timedelta(minutes=2))}: it fails, no program of its pair left"
            " to try"
        )
        assert "c0de1234" not in str(reasons)  # a routine test's code is its id's start
    cancelled = web.client.post(
        f"/api/v1/messages/sends/{free.json()['id']}/cancel", headers=headers
    )
    assert cancelled.status_code == 200
    again = web.client.get(f"/api/v1/messages/sends/{free.json()['id']}", headers=headers).json()
    assert again["waiting_reason"] is None
