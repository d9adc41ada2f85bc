"""Logging out everywhere is never refused, and does not flood the audit log: a viewer
looping `POST /api/v1/auth/login` then `POST /api/v1/auth/logout-all` made 210
`user.logged_out` entries in 15 s, each kept a year. One's own logouts are audited at most
`SELF_LOGOUTS_AUDITED_PER_HOUR` an hour (the rest still log out); an admin's logout of
someone else is audited every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smsfleet.auth.models import Role
from smsfleet.auth.service import SELF_LOGOUTS_AUDITED_PER_HOUR
from tests.security.test_programs_trust import audit
from tests.support.api import PASSWORDS, Api, running_api
from tests.support.fakes import FakeClock

LOOPS = SELF_LOGOUTS_AUDITED_PER_HOUR + 3


def _signed_in(api: Api, role: Role) -> dict[str, str]:
    login = {"username": role.value, "password": PASSWORDS[role]}
    response = api.client.post("/api/v1/auth/login", json=login)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _logged_out(api: Api, headers: dict[str, str]) -> None:
    answer = api.client.post("/api/v1/auth/logout-all", headers=headers)
    assert answer.status_code == 204, answer.text
    # Logged out indeed: the token that asked is refused from now.
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def _logouts_of(api: Api, username: str) -> list[dict[str, Any]]:
    return audit(api, action="user.logged_out", target=username)


def test_a_loop_of_logins_and_logouts_everywhere_is_audited_a_few_times_an_hour(
    tmp_path: Path,
) -> None:
    with running_api(tmp_path) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        for _ in range(LOOPS):
            clock.advance(1)
            _logged_out(api, _signed_in(api, Role.viewer))
        audited = _logouts_of(api, "viewer")
        assert len(audited) == SELF_LOGOUTS_AUDITED_PER_HOUR
        assert {e["actor"] for e in audited} == {"viewer"}
        # Until the first audited is over an hour old, it counts.
        clock.advance(3600 - LOOPS)
        api.tokens.clear()  # the admin's expired meanwhile
        _logged_out(api, _signed_in(api, Role.viewer))
        assert len(_logouts_of(api, "viewer")) == SELF_LOGOUTS_AUDITED_PER_HOUR
        clock.advance(1)
        _logged_out(api, _signed_in(api, Role.viewer))
        assert len(_logouts_of(api, "viewer")) == SELF_LOGOUTS_AUDITED_PER_HOUR + 1


def test_an_admin_logging_someone_out_is_audited_every_time(tmp_path: Path) -> None:
    with running_api(tmp_path) as api:
        for _ in range(LOOPS):
            _logged_out(api, _signed_in(api, Role.operator))
        for _ in range(LOOPS):
            answer = api.client.post("/api/v1/users/operator/logout", headers=api.headers())
            assert answer.status_code == 204, answer.text
        audited = _logouts_of(api, "operator")
        by_admin = [e for e in audited if e["actor"] == "admin"]
        assert len(by_admin) == LOOPS
        assert len(audited) == LOOPS + SELF_LOGOUTS_AUDITED_PER_HOUR
        # One user's own logouts leave another's their own room.
        _logged_out(api, _signed_in(api, Role.viewer))
        assert len(_logouts_of(api, "viewer")) == 1
