"""A small stand-in control plane: the three worker routes over an in-memory grant counter.

State lives in `Fleet`, outside the app, so the HTTP server can be stopped and started
again on the same port while the grants and reports it recorded survive.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from smsfleet.core.security import verify_worker_token

SECRET = "standin-secret-0123456789abcdef"


class LeaseBody(BaseModel):
    session: str


class ReportBody(BaseModel):
    trigger_id: str
    session: str
    outcome: str
    error_code: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    provider: str | None = None


@dataclass
class Fleet:
    phones: dict[str, str]
    per_second: int = 4  # per country: the grant counter every send goes through
    lock: threading.Lock = field(default_factory=threading.Lock)
    grants: dict[str, str] = field(default_factory=dict)  # trigger id -> session
    reports: dict[str, ReportBody] = field(default_factory=dict)
    recorded: Counter[str] = field(default_factory=Counter)
    posts: Counter[str] = field(default_factory=Counter)
    heartbeats: Counter[str] = field(default_factory=Counter)
    stopped: set[str] = field(default_factory=set)
    down: bool = False  # answer 503 to everything, as a control plane in trouble would
    _windows: dict[str, deque[float]] = field(default_factory=dict)

    def go_down_mid_attempt(self) -> bool:
        """Go down at a moment some granted SMS is not reported yet (its report must wait)."""
        with self.lock:
            if set(self.grants) - set(self.reports):
                self.down = True
            return self.down

    def reports_of(self, session: str) -> list[ReportBody]:
        with self.lock:
            return [r for r in self.reports.values() if r.session == session]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": None}}, status)


def create_app(fleet: Fleet) -> FastAPI:
    app = FastAPI()

    def authorised(session: str, authorization: str | None) -> bool:
        token = (authorization or "").removeprefix("Bearer ")
        return verify_worker_token(secret=SECRET, session=session, token=token) is not None

    @app.post("/api/v1/worker/lease", response_model=None)
    def lease(body: LeaseBody, authorization: str | None = Header(None)) -> Any:
        if not authorised(body.session, authorization):
            return _error(401, "unauthorized", "invalid worker token")
        program, pair = body.session.split("_", 1)
        with fleet.lock:
            if fleet.down:
                return _error(503, "unavailable", "control plane down")
            if body.session in fleet.stopped:
                return {"action": "stop", "reason": "session stopped"}
            window = fleet._windows.setdefault(pair[:2], deque())
            now = time.monotonic()
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= fleet.per_second:
                return {"action": "wait", "retry_after": round(window[0] + 1.0 - now, 3)}
            window.append(now)
            trigger_id = f"t-{uuid.uuid4().hex[:16]}"
            fleet.grants[trigger_id] = body.session
        return {
            "action": "send",
            "trigger_id": trigger_id,
            "phone": fleet.phones[pair],
            "message": "smsfleet test",
            "pair": pair,
            "program": program,
            "expires_at": (datetime.now(UTC) + timedelta(seconds=60)).isoformat(),
        }

    @app.post("/api/v1/worker/report", response_model=None)
    def report(body: ReportBody, authorization: str | None = Header(None)) -> Any:
        if not authorised(body.session, authorization):
            return _error(401, "unauthorized", "invalid worker token")
        with fleet.lock:
            if fleet.down:
                return _error(503, "unavailable", "control plane down")
            fleet.posts[body.trigger_id] += 1
            if fleet.grants.get(body.trigger_id) != body.session:
                return _error(404, "unknown_trigger", "no such grant for this session")
            if body.trigger_id in fleet.reports:
                return {"status": "duplicate"}
            fleet.reports[body.trigger_id] = body
            fleet.recorded[body.trigger_id] += 1
        return {"status": "recorded"}

    @app.post("/api/v1/worker/heartbeat", status_code=204)
    def heartbeat(body: LeaseBody, authorization: str | None = Header(None)) -> Response:
        if not authorised(body.session, authorization):
            return _error(401, "unauthorized", "invalid worker token")
        with fleet.lock:
            fleet.heartbeats[body.session] += 1
        return Response(status_code=204)

    return app
