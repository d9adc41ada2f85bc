"""The live WebSocket: session events as they happen, and log lines as they are written."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from smsfleet.auth import service as auth_service
from smsfleet.core.errors import Unauthorized
from smsfleet.deps import AppContext
from smsfleet.sessions.logtail import LogCursor
from smsfleet.sessions.names import InvalidSessionName, parse_session_name

router = APIRouter()
log = logging.getLogger(__name__)

TOPICS = frozenset({"sessions", "attempts", "policy", "alerts", "sends"})
LOG_POLL_SECONDS = 0.25
MAX_FOLLOWED = 8
UNAUTHORIZED_CLOSE = 4401


class _LogFollower:
    """New lines of the session logs this socket follows."""

    def __init__(self, context: AppContext) -> None:
        self._context = context
        self._cursors: dict[str, LogCursor] = {}

    def follow(self, name: str) -> None:
        """Blocking (a remote host's log is a round trip away): call it in a thread."""
        if len(self._cursors) < MAX_FOLLOWED and name not in self._cursors:
            try:
                self._cursors[name] = LogCursor(self._context.sessions.backend_of(name), name)
            except Exception as error:  # an unknown or unreachable host: nothing to follow
                log.warning("cannot follow %s: %s", name, error)

    def unfollow(self, name: str) -> None:
        self._cursors.pop(name, None)

    def read_new(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, cursor in list(self._cursors.items()):
            try:
                found[name] = cursor.read_new()
            except Exception as error:  # a host away: try again on the next poll
                log.warning("following %s: %s", name, error)
        return {name: lines for name, lines in found.items() if lines}


def _authenticate(context: AppContext, token: str | None) -> None:
    if not token:
        raise Unauthorized("pass ?token=<access token>")
    auth_service.user_for_access_token(
        users=context.store.users, policy=context.tokens, clock=context.clock, token=token
    )


@router.websocket("/api/v1/ws")
async def live(websocket: WebSocket) -> None:
    """Events `{"topic": "sessions", "data": …}`; send `{"follow_logs": name}` for logs."""
    context: AppContext = websocket.app.state.context
    await websocket.accept()
    try:
        await asyncio.to_thread(_authenticate, context, websocket.query_params.get("token"))
    except Unauthorized as exc:
        await websocket.close(code=UNAUTHORIZED_CLOSE, reason=exc.message)
        return
    subscription = context.bus.subscribe(TOPICS)
    follower = _LogFollower(context)
    reader = asyncio.create_task(_read_commands(websocket, follower))
    try:
        while not reader.done():
            await _send_pending(websocket, subscription.queue, follower)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        context.bus.unsubscribe(subscription)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader


async def _send_pending(
    websocket: WebSocket, queue: asyncio.Queue[dict[str, Any]], follower: _LogFollower
) -> None:
    with contextlib.suppress(TimeoutError):
        message = await asyncio.wait_for(queue.get(), timeout=LOG_POLL_SECONDS)
        await websocket.send_json(message)
        while not queue.empty():
            await websocket.send_json(queue.get_nowait())
    for name, lines in (await asyncio.to_thread(follower.read_new)).items():
        await websocket.send_json({"topic": "logs", "data": {"name": name, "lines": lines}})


async def _read_commands(websocket: WebSocket, follower: _LogFollower) -> None:
    while True:
        try:
            command = json.loads(await websocket.receive_text())
        except json.JSONDecodeError:
            continue
        if not isinstance(command, dict):
            continue
        for key, act in (("follow_logs", follower.follow), ("unfollow_logs", follower.unfollow)):
            name = command.get(key)
            if isinstance(name, str):
                try:
                    parse_session_name(name)
                except InvalidSessionName:
                    continue
                await asyncio.to_thread(act, name)
