"""A Sentry stand-in: a real HTTP server on loopback that takes envelopes as Sentry does.

It answers `POST /api/<project>/envelope/` (gzip or plain, as the SDK sends them) with
`{"id": ...}`, and keeps every item of type `event` in `events`, with the raw text of the
envelope in `raw` (to look for what must never leave a process).

    with SentryStandIn() as sentry:
        settings = Settings(sentry_dsn=sentry.dsn, ...)
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.servers import ThreadedServer

__all__ = ["SentryStandIn"]

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"


class SentryStandIn:
    def __init__(self, project: int = 42) -> None:
        self.project = project
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._lock = threading.Lock()
        app = Starlette(
            routes=[Route("/api/{project}/envelope/", self._envelope, methods=["POST"])]
        )
        self._server = ThreadedServer(app)

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self._server.port}/{self.project}"

    async def _envelope(self, request: Request) -> JSONResponse:
        if request.path_params["project"] != str(self.project):
            return JSONResponse({"detail": "unknown project"}, 404)
        if PUBLIC_KEY not in request.headers.get("x-sentry-auth", ""):
            return JSONResponse({"detail": "bad auth"}, 401)
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        text = body.decode()
        lines = text.split("\n")
        header = json.loads(lines[0])
        events = []
        index = 1
        while index + 1 < len(lines):
            item = json.loads(lines[index])
            if item.get("type") == "event":
                events.append(json.loads(lines[index + 1]))
            index += 2
        with self._lock:
            self.raw.append(text)
            self.events.extend(events)
        return JSONResponse({"id": header.get("event_id")})

    def wait_for_events(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.events) >= count:
                    return list(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"the Sentry stand-in got {len(self.events)} of {count}")
            time.sleep(0.05)

    def __enter__(self) -> SentryStandIn:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.stop()
