"""A revocation that comes to a live socket with other events: the socket closes having
sent none of them, since they would be read with the role the revocation took away."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from smsfleet import live
from smsfleet.auth.models import AUTH_TOPIC, Role
from tests.support.api import running_api


class _Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def _batch(api_services: Any, identity: Any, messages: list[dict[str, Any]]) -> Any:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for message in messages:
        queue.put_nowait(message)
    socket = _Socket()
    sockets = live.LiveSockets(
        per_user=5,
        total=10,
        signing_in_per_address=5,
        signing_in=10,
        command_rate=20,
        command_burst=60,
    )
    follower = live._LogFollower(api_services)
    revoked = asyncio.run(
        live._send_pending(socket, api_services, queue, follower, identity, sockets)  # type: ignore[arg-type]
    )
    return revoked, socket.sent


def test_events_that_came_with_a_revocation_are_not_sent(tmp_path: Path) -> None:
    with running_api(tmp_path) as api:
        services = api.services
        identity = live._authenticate(services, api.token(Role.operator))
        lowered = api.client.patch(
            "/api/v1/users/operator", json={"role": "viewer"}, headers=api.headers(Role.admin)
        )
        assert lowered.status_code == 200, lowered.text
        event = {"topic": "sessions", "data": {"name": "program1_US_verizon"}}
        revocation = {"topic": AUTH_TOPIC, "data": {"username": "operator"}}

        assert _batch(services, identity, [revocation, event]) == (True, [])


def test_a_revocation_of_someone_else_sends_the_events_and_keeps_the_socket(
    tmp_path: Path,
) -> None:
    with running_api(tmp_path) as api:
        services = api.services
        identity = live._authenticate(services, api.token(Role.operator))
        event = {"topic": "sessions", "data": {"name": "program1_US_verizon"}}
        others = {"topic": AUTH_TOPIC, "data": {"username": "viewer"}}

        assert _batch(services, identity, [others, event]) == (False, [event])
