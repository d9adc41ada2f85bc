"""Each new audit entry is told on the live socket, to admins only: the audit log is
theirs, and what an entry is about (who changed which target) is not for other roles."""

from __future__ import annotations

import sys
from typing import Any

from starlette.testclient import WebSocketTestSession

from smsfleet.auth.models import Role
from tests.support.api import Api
from tests.support.live import live_socket


def _until_pair_change(socket: WebSocketTestSession) -> list[dict[str, Any]]:
    """The messages that came up to the next change of a pair, which every role is told."""
    seen: list[dict[str, Any]] = []
    while True:
        message: dict[str, Any] = socket.receive_json()
        seen.append(message)
        if message["topic"] == "pairs":
            return seen


def test_a_new_entry_is_told_to_admins_and_to_no_other_role(api: Api) -> None:
    admin = api.headers(Role.admin)
    program = {"name": "program1", "command": [sys.executable, "programs/program1.py"]}
    assert api.client.post("/api/v1/programs", json=program, headers=admin).status_code == 201
    with (
        live_socket(api.client, api.token(Role.admin)) as admins,
        live_socket(api.client, api.token(Role.operator)) as operators,
        live_socket(api.client, api.token(Role.viewer)) as viewers,
    ):
        pair = {"country": "UZ", "operator": "uzmobile", "programs": ["program1"]}
        made = api.client.post("/api/v1/pairs", json=pair, headers=admin)
        assert made.status_code == 201, made.text
        told = [m["data"] for m in _until_pair_change(admins) if m["topic"] == "audit"]
        assert [(n["action"], n["target_kind"], n["target"], n["actor"]) for n in told] == [
            ("pair.created", "pair", "UZ_uzmobile", "admin")
        ]
        # What the notice is about, not the records the entry holds.
        assert set(told[0]) == {"id", "at", "action", "target_kind", "target", "actor"}
        for socket in (operators, viewers):
            assert [m["topic"] for m in _until_pair_change(socket)] == ["pairs"]
