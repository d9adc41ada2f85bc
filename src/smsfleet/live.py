"""The live WebSocket: session events as they happen, and log lines as they are written."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from smsfleet.auth import service as auth_service
from smsfleet.core.errors import Unauthorized
from smsfleet.deps import AppContext
from smsfleet.sessions.names import InvalidSessionName, parse_session_name

router = APIRouter()

TOPICS = frozenset({"sessions"})
LOG_POLL_SECONDS = 0.25
MAX_FOLLOWED = 8
MAX_CHUNK = 256 * 1024
UNAUTHORIZED_CLOSE = 4401


class _LogFollower:
    """New lines of followed session logs, read from where each file ended when followed."""

    def __init__(self, context: AppContext) -> None:
        self._context = context
        self._offsets: dict[str, int] = {}

    def follow(self, name: str) -> None:
        if len(self._offsets) >= MAX_FOLLOWED or name in self._offsets:
            return
        path = self._path(name)
        self._offsets[name] = path.stat().st_size if path.exists() else 0

    def unfollow(self, name: str) -> None:
        self._offsets.pop(name, None)

    def _path(self, name: str) -> Path:
        return self._context.sessions.backend.log_path(name)

    def read_new(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, offset in list(self._offsets.items()):
            path = self._path(name)
            if not path.exists():
                continue
            size = path.stat().st_size
            if size < offset:
                offset = 0  # the log was started anew
            if size == offset:
                continue
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(MAX_CHUNK)
            complete = chunk.rfind(b"\n") + 1
            if complete == 0:
                continue  # wait for the end of the line
            self._offsets[name] = offset + complete
            text = chunk[:complete].decode("utf-8", errors="replace")
            found[name] = text.splitlines()
        return found


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
                act(name)
