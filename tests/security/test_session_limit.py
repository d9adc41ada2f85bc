"""The fleet holds at most SMSFLEET_MAX_SESSIONS sessions: each is a program running on a
host, and an operator (or a leaked control key) adding pairs without end would run the
hosts out of memory."""

from __future__ import annotations

import sys
from pathlib import Path

from smsfleet.auth.models import Role
from tests.support.api import Api, running_api


def _programs(api: Api, *names: str) -> None:
    for name in names:
        program = {"name": name, "command": [sys.executable, "programs/program1.py"]}
        made = api.client.post("/api/v1/programs", json=program, headers=api.headers(Role.admin))
        assert made.status_code == 201, made.text


def test_pairs_and_changes_that_would_pass_the_session_cap_are_refused(tmp_path: Path) -> None:
    with running_api(tmp_path, max_sessions=3) as api:
        operator = api.headers(Role.operator)
        _programs(api, "program1", "program2")
        both = ["program1", "program2"]
        first = {"country": "UZ", "operator": "UzMobile", "programs": both}
        assert api.client.post("/api/v1/pairs", json=first, headers=operator).status_code == 201
        second = {"country": "TJ", "operator": "MegaFon", "programs": both}
        refused = api.client.post("/api/v1/pairs", json=second, headers=operator)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["message"].startswith(
            "the fleet would hold 4 sessions, more than the 3 SMSFLEET_MAX_SESSIONS allows"
        )
        assert [pair.key for pair in api.store.pairs.list()] == ["UZ_uzmobile"]
        # The last place, then a change that would add one more.
        one = {"country": "TJ", "operator": "MegaFon", "programs": ["program1"]}
        assert api.client.post("/api/v1/pairs", json=one, headers=operator).status_code == 201
        grow = api.client.patch(
            "/api/v1/pairs/TJ_megafon", json={"programs": both}, headers=operator
        )
        assert grow.status_code == 409, grow.text
        assert api.store.pairs.get("TJ_megafon").programs == ["program1"]  # type: ignore[union-attr]
        # A pair without programs holds no session; a change that adds none passes.
        empty = {"country": "AZ", "operator": "Azercell"}
        assert api.client.post("/api/v1/pairs", json=empty, headers=operator).status_code == 201
        same = api.client.patch(
            "/api/v1/pairs/TJ_megafon",
            json={"programs": ["program1"], "region": "Dushanbe"},
            headers=operator,
        )
        assert same.status_code == 200, same.text
        # Room made is room to use.
        assert api.client.delete("/api/v1/pairs/UZ_uzmobile", headers=operator).status_code == 204
        grown = api.client.patch(
            "/api/v1/pairs/TJ_megafon", json={"programs": both}, headers=operator
        )
        assert grown.status_code == 200, grown.text
