"""A scripted control plane and gateway behind `httpx.MockTransport`, plus program classes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from smsfleet.worker import (
    COUNTRY_CAP_HEADER,
    Attempt,
    ControlPlane,
    Gateway,
    Sent,
    Worker,
    WorkerSettings,
)

TOKEN = "worker-token-for-tests"
SESSION = "program1_UZ_uzmobile"
PHONE = "+998991234567"


@dataclass
class FakeControlPlane:
    """Answers leases from a script; `down` makes every request fail to connect."""

    leases: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    reports: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    lease_calls: int = 0
    heartbeats: int = 0
    report_status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_lease: Callable[[int], None] | None = None
    # The country caps the heartbeats' answers name, in turn (the last one again after).
    caps: list[int] = field(default_factory=list)
    # What heartbeats told of sent SMS, in order; set once one told any.
    told_sent: list[dict[str, Any]] = field(default_factory=list)
    sent_told: threading.Event = field(default_factory=threading.Event)
    # A heartbeat telling sent SMS is refused with this status (422), or not reached.
    refuse_sent: int | None = None
    sent_unreachable: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        body = json.loads(request.content) if request.content else {}
        assert body["session"] == SESSION
        path = request.url.path
        with self.lock:
            if path == "/api/v1/worker/lease":
                self.lease_calls += 1
                if self.on_lease is not None:
                    self.on_lease(self.lease_calls)
                answer = self.leases.pop(0) if self.leases else {"action": "stop", "reason": "done"}
                return httpx.Response(200, json=answer)
            if path == "/api/v1/worker/report":
                if self.report_status != 200:
                    error = {"code": "invalid", "message": "no", "details": None}
                    return httpx.Response(self.report_status, json={"error": error})
                seen = any(r["trigger_id"] == body["trigger_id"] for r in self.reports)
                status = "duplicate" if seen else "recorded"
                if not seen:
                    self.reports.append(body)
                self.statuses.append(status)
                return httpx.Response(200, json={"status": status})
            if path == "/api/v1/worker/heartbeat":
                self.heartbeats += 1
                if body.get("sent") and self.sent_unreachable:
                    self.sent_unreachable -= 1
                    raise httpx.ConnectError("connection refused", request=request)
                if body.get("sent") and self.refuse_sent is not None:
                    error = {"code": "validation_error", "message": "no", "details": None}
                    return httpx.Response(self.refuse_sent, json={"error": error})
                self.told_sent += body.get("sent", [])
                if self.told_sent:
                    self.sent_told.set()
                if not self.caps:
                    return httpx.Response(204)
                cap = self.caps.pop(0) if len(self.caps) > 1 else self.caps[0]
                return httpx.Response(204, headers={COUNTRY_CAP_HEADER: str(cap)})
        return httpx.Response(404, json={"error": {"code": "not_found", "message": path}})

    def client(self) -> ControlPlane:
        return ControlPlane(
            "http://cp.test",
            token=TOKEN,
            session=SESSION,
            transport=httpx.MockTransport(self.handler),
        )


@dataclass
class FakeGateway:
    """`states[trigger_id]` is a list of answers, the last one repeated."""

    states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    polls: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.polls += 1
        trigger_id = request.url.path.rsplit("/", 1)[-1]
        answers = self.states.get(trigger_id)
        if answers is None:
            error = {"code": "unknown_trigger", "message": "no such trigger", "details": None}
            return httpx.Response(404, json={"error": error})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return httpx.Response(200, json={"trigger_id": trigger_id, **answer})

    def client(self) -> Gateway:
        return Gateway("http://gateway.test", transport=httpx.MockTransport(self.handler))


DELIVERED = {"status": "delivered", "code": "123456", "delivered_at": "2030-01-01T00:00:01+00:00"}
PENDING = {"status": "pending"}
NOT_DELIVERED = {"status": "not_delivered"}


def grant(trigger_id: str) -> dict[str, Any]:
    return {
        "action": "send",
        "trigger_id": trigger_id,
        "phone": PHONE,
        "message": "test",
        "pair": "UZ_uzmobile",
        "program": "program1",
        "expires_at": "2030-01-01T00:01:00+00:00",
    }


@dataclass
class Calls:
    sent: list[tuple[str, str | None, str]] = field(default_factory=list)
    submitted: list[tuple[str, str, str | None]] = field(default_factory=list)
    fail_with: Exception | None = None
    # How long the program takes to get ready to send (its constructor).
    ready_after: float = 0.0


def stop_once_sent(request_stop: Callable[[], None], calls: Calls) -> None:
    """Call `request_stop` (as SIGTERM's handler does) once the program has sent, from
    another thread: a stop asked before the first lease would leave nothing to test."""

    def when_sent() -> None:
        deadline = time.monotonic() + 30
        while not calls.sent and time.monotonic() < deadline:
            time.sleep(0.005)
        request_stop()

    threading.Thread(target=when_sent, daemon=True).start()


def program_classes(calls: Calls) -> tuple[type[Any], type[Any]]:
    """SendSMS/SubmitSMS in the programs' shape, recording what they were asked."""

    class SendSMS:
        def __init__(self, phone: str, proxy: str | None = None, *, attempt: Attempt) -> None:
            self.phone, self.proxy, self.attempt = phone, proxy, attempt
            time.sleep(calls.ready_after)

        def SendOtp(self) -> Sent:  # noqa: N802
            calls.sent.append((self.phone, self.proxy, self.attempt.trigger_id))
            if calls.fail_with is not None:
                raise calls.fail_with
            return Sent(provider="provider1")

    class SubmitSMS:
        def __init__(self, *, attempt: Attempt) -> None:
            self.attempt = attempt

        def SumitOtp(self, trigger_id: str, code: str) -> str:  # noqa: N802
            calls.submitted.append((trigger_id, code, self.attempt.provider))
            return "submitted successfully"

    return SendSMS, SubmitSMS


def settings(spool: Path, **overrides: Any) -> WorkerSettings:
    values: dict[str, Any] = {
        "url": "http://cp.test",
        "session": SESSION,
        "token": TOKEN,
        "pair": "UZ_uzmobile",
        "program": "program1",
        "country": "UZ",
        "simulator_url": "http://gateway.test",
        "spool_dir": spool,
        "heartbeat_interval": 0.05,
        "stop_grace": 0.3,
    }
    values.update(overrides)
    return WorkerSettings(**values)


def make_worker(
    tmp_path: Path,
    cp: FakeControlPlane,
    gateway: FakeGateway,
    calls: Calls,
    out: Any,
    *,
    stop_grace: float = 0.3,
    heartbeat_interval: float = 0.05,
    send_cls: type[Any] | None = None,
    **kwargs: Any,
) -> Worker:
    """`send_cls`: a program's own SendSMS instead of the one recording in `calls`."""
    recording, submit_cls = program_classes(calls)
    send_cls = send_cls or recording
    options: dict[str, Any] = {
        "code_timeout": 1.0,
        "poll_interval": 0.01,
        "poll_max_interval": 0.05,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
    }
    options.update(kwargs)
    return Worker(
        send_cls,
        submit_cls,
        settings=settings(
            tmp_path / "spool", stop_grace=stop_grace, heartbeat_interval=heartbeat_interval
        ),
        control_plane=cp.client(),
        gateway=gateway.client(),
        out=out,
        **options,
    )
