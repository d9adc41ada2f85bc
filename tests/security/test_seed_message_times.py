"""`POST /api/send-sms` and `/api/receive-sms` refuse a `timestamp` before 2000-01-01 or
more than a day ahead of now, as Unix seconds or as ISO 8601: a year-9999 message stayed
on top of its conversation, and a year-0001 one was taken too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from smsfleet.auth.models import Role
from smsfleet.messages.inbound import TEXT_NOT_AUDITED
from tests.support.api import Api
from tests.support.fakes import FakeClock
from tests.support.messages import sms

A, B = "998901111111", "998902222222"
ROUTES = ["send-sms", "receive-sms"]


def _post(api: Api, route: str, timestamp: Any) -> Any:
    body = sms(A, B, "hello", "2026-01-05T10:00:00Z") | {"timestamp": timestamp}
    return api.client.post(f"/api/{route}", json=body, headers=api.headers(Role.operator))


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "timestamp",
    [
        "9999-12-31T23:59:59Z",
        253402300799,  # 9999-12-31, Unix seconds
        "0001-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        946684799,  # 1999-12-31T23:59:59Z, Unix seconds
        0,
    ],
)
def test_a_time_out_of_range_is_422_naming_the_field(api: Api, route: str, timestamp: Any) -> None:
    refused = _post(api, route, timestamp)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == ["timestamp"]
    conversation = api.client.get(f"/api/get-conversation/{A}", headers=api.headers())
    assert conversation.status_code == 404, conversation.text


@pytest.mark.parametrize("route", ROUTES)
def test_a_time_a_day_ahead_is_422_and_one_within_is_taken(api: Api, route: str) -> None:
    clock = api.clock
    assert isinstance(clock, FakeClock)
    ahead = clock.now() + timedelta(days=1, seconds=1)
    assert _post(api, route, ahead.isoformat()).status_code == 422
    assert _post(api, route, int(ahead.timestamp())).status_code == 422
    within = clock.now() + timedelta(hours=23)
    assert _post(api, route, within.isoformat()).status_code == 200
    assert _post(api, route, int(within.timestamp())).status_code == 200
    assert _post(api, route, "2000-01-01T00:00:00Z").status_code == 200
    assert _post(api, route, 946684800).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_who_recorded_an_sms_through_the_seed_routes_is_audited(api: Api, route: str) -> None:
    """A "received" code put in a number's conversation by hand is someone's: the audit log
    names who, with the message as kept; a refused one records nothing."""
    assert _post(api, route, 0).status_code == 422
    body = sms(A, B, "Your code is 123456", "2026-01-05T10:00:00Z")
    taken = api.client.post(f"/api/{route}", json=body, headers=api.headers(Role.operator))
    assert taken.status_code == 200, taken.text
    response = api.client.get(
        "/api/v1/audit", params={"action": "message.recorded"}, headers=api.headers(Role.admin)
    )
    [entry] = response.json()
    assert (entry["actor_role"], entry["target"]) == ("operator", body["uuid"])
    # Its text, a code, is the SMS's, kept for the messages' retention, not the audit's.
    assert (entry["after"]["text"], entry["after"]["sender"]) == (TEXT_NOT_AUDITED, f"+{A}")
    assert "123456" not in response.text
