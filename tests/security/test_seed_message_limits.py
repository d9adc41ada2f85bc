"""SMS recorded through the seed routes (`POST /api/send-sms`, `/api/receive-sms`) are
capped per user: an operator or a `control` key made 600 of 1,600 characters, 20 at once,
all 200: 600 stored, search-indexed messages and 601 audit entries, each kept a year. One
user (with their API keys) records at most `SMSFLEET_SEED_MESSAGES_PER_HOUR` an hour; the
next is a 429 with `Retry-After`, and nothing of it is written."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smsfleet.auth.models import Role
from tests.security.test_programs_trust import api_key, audit
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock
from tests.support.messages import sms

CAP = 4
FLEET, PHONE = "998901111111", "998902222222"


def _record(api: Api, route: str, headers: dict[str, str], text: str = "code 1234") -> Any:
    sender, receiver = (PHONE, FLEET) if route == "receive-sms" else (FLEET, PHONE)
    body = sms(sender, receiver, text, "2026-01-05T10:00:00Z")
    return api.client.post(f"/api/{route}", json=body, headers=headers)


def _kept(api: Api) -> int:
    """How many SMS `PHONE`'s conversation holds."""
    answer = api.client.get(f"/api/get-conversation/{PHONE}", headers=api.headers())
    if answer.status_code == 404:
        return 0
    assert answer.status_code == 200, answer.text
    return len(answer.json()["messages"])


def test_one_user_records_at_most_so_many_sms_an_hour(tmp_path: Path) -> None:
    with running_api(tmp_path, seed_messages_per_hour=CAP) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        operator = api.headers(Role.operator)
        # Sent and received alike, by the person and by their control key.
        key = api_key(api, Role.operator, ["read", "control"])
        for route, headers in [
            ("send-sms", operator),
            ("receive-sms", operator),
            ("send-sms", key),
            ("receive-sms", key),
        ]:
            clock.advance(60)
            answer = _record(api, route, headers)
            assert answer.status_code == 200, answer.text
        for route, headers in [("send-sms", operator), ("receive-sms", key)]:
            refused = _record(api, route, headers, "x" * 1600)
            assert refused.status_code == 429, refused.text
            error = refused.json()["error"]
            assert error["code"] == "too_many_requests"
            assert error["message"] == (
                "you recorded 4 SMS through the seed routes in the last 60 min,"
                " the most one user may (SMSFLEET_SEED_MESSAGES_PER_HOUR)"
            )
            # The first was recorded 3 min ago: 57 min until it is an hour old.
            assert refused.headers["Retry-After"] == str(57 * 60)
            assert error["details"] == {"retry_after": 57 * 60}
        # Nothing refused was written: neither the SMS nor an audit entry.
        assert _kept(api) == CAP
        assert len(audit(api, action="message.recorded")) == CAP
        # Another user has room of their own.
        assert _record(api, "send-sms", api.headers(Role.admin)).status_code == 200
        # Once the first is an hour old, one more.
        clock.advance(57 * 60 - 1)
        api.tokens.clear()  # theirs expired meanwhile
        operator = api.headers(Role.operator)
        assert _record(api, "send-sms", operator).status_code == 429
        clock.advance(1)
        assert _record(api, "send-sms", operator).status_code == 200
        assert _record(api, "send-sms", operator).status_code == 429
        assert _kept(api) == CAP + 2


def test_sms_recorded_at_once_cannot_all_pass_the_cap(tmp_path: Path) -> None:
    at_once = 20
    with running_api(tmp_path, seed_messages_per_hour=CAP) as api:
        headers = api_key(api, Role.operator, ["read", "control"])

        def record(n: int) -> int:
            route = "send-sms" if n % 2 else "receive-sms"
            return int(_record(api, route, headers, f"burst {n}").status_code)

        with ThreadPoolExecutor(at_once) as pool:
            codes = list(pool.map(record, range(at_once)))
        assert sorted(codes) == [200] * CAP + [429] * (at_once - CAP)
        assert _kept(api) == CAP
        assert len(audit(api, action="message.recorded")) == CAP
