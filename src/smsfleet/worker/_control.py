"""Client of the control plane's worker API: lease, report, heartbeat."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx

Outcome = Literal["delivered", "not_delivered", "send_failed", "error"]
RETRYABLE_STATUSES = frozenset({408, 425, 429})
# The heartbeat's answer names the session's country cap here: a raise seen, a program
# waiting for its turn at the old, lower pace asks again at once.
COUNTRY_CAP_HEADER = "X-Country-Cap"
# The control plane (uvicorn) closes a connection idle for 5 s, and a program often waits
# about that long (a busy pair's wait is up to 5 s): reusing a connection as the server
# closes it fails the request (a false "unreachable", a backoff, a spooled report). An
# idle connection is dropped here first, well before.
KEEPALIVE_SECONDS = 2.0


class ControlPlaneUnavailable(Exception):
    """The control plane did not answer usefully (connection error, timeout, 5xx, 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ControlPlaneRejected(Exception):
    """The control plane refused the request (4xx): retrying the same request will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class SendGrant:
    trigger_id: str
    phone: str
    pair: str
    program: str
    message: str | None = None
    expires_at: datetime | None = None
    max_in_flight: int = 1
    # Seconds after the grant within which the SMS must leave, or not at all; None: no
    # bound said. Counted from `asked_at`, when the lease was asked for (this process's
    # monotonic clock), less `waited`, the seconds the control plane said the request
    # waited there before its grant (at most the time until its answer came): the
    # request's way there, an answer slow to come back, or read late by a stalled
    # program, count against the bound.
    send_within: float | None = None
    asked_at: float = field(default_factory=time.monotonic, compare=False)
    waited: float = field(default=0.0, compare=False)

    def age(self) -> float:
        """Seconds since the grant, or more: never less."""
        return time.monotonic() - self.asked_at - self.waited

    def send_by(self) -> float | None:
        """When (`time.monotonic()`) its SMS must have left, or not at all; None: no bound."""
        if self.send_within is None:
            return None
        return self.asked_at + self.waited + self.send_within


@dataclass(frozen=True)
class Wait:
    retry_after: float
    max_in_flight: int = 1
    reason: str | None = None


@dataclass(frozen=True)
class Stop:
    reason: str


Lease = SendGrant | Wait | Stop


@dataclass(frozen=True)
class Report:
    trigger_id: str
    session: str
    outcome: Outcome
    error_code: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    provider: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "trigger_id": self.trigger_id,
            "session": self.session,
            "outcome": self.outcome,
            "error_code": self.error_code,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "provider": self.provider,
        }


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _in_flight(body: dict[str, Any]) -> int:
    # An older control plane says nothing: one attempt at a time, as it expects. None
    # (a pair paused while its attempts in flight finish) is no new one.
    allowed = body.get("max_in_flight")
    return 1 if allowed is None else max(0, int(allowed))


def _seconds_or_none(value: object) -> float | None:
    # Not a number (an older control plane says nothing): no bound.
    return max(0.0, float(value)) if isinstance(value, int | float) else None


def parse_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class ControlPlane:
    """Blocking client; `transport` lets tests answer with `httpx.MockTransport`."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        session: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.session = session
        self._timeout = timeout
        self._client = httpx.Client(
            base_url=url.rstrip("/") + "/api/v1/worker",
            headers={"Authorization": f"Bearer {token}", "User-Agent": "smsfleet-worker"},
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _post(
        self, path: str, body: dict[str, Any], *, timeout: float | None = None
    ) -> httpx.Response:
        try:
            if timeout is None:
                response = self._client.post(path, json=body)
            else:
                response = self._client.post(path, json=body, timeout=min(timeout, self._timeout))
        except httpx.TransportError as exc:
            raise ControlPlaneUnavailable(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status >= 500 or status in RETRYABLE_STATUSES:
            raise ControlPlaneUnavailable(
                f"HTTP {status} from {path}", retry_after=_retry_after(response)
            )
        if status >= 400:
            code, message = "http_error", response.text[:200]
            try:
                error = response.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                pass
            raise ControlPlaneRejected(status, code, message)
        return response

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise ControlPlaneUnavailable("the control plane answered with invalid JSON") from exc
        if not isinstance(body, dict):
            raise ControlPlaneUnavailable("the control plane answered with an unexpected body")
        return body

    def lease(self, in_flight: list[str] | None = None) -> Lease:
        """`in_flight`: the trigger ids this program carries or has yet to report."""
        request: dict[str, Any] = {"session": self.session}
        if in_flight is not None:
            request["in_flight"] = in_flight
        asked_at = time.monotonic()
        body = self._json(self._post("/lease", request))
        answered = time.monotonic()
        action = body.get("action")
        try:
            if action == "send":
                return SendGrant(
                    trigger_id=str(body["trigger_id"]),
                    phone=str(body["phone"]),
                    pair=str(body.get("pair") or ""),
                    program=str(body.get("program") or ""),
                    message=body.get("message"),
                    expires_at=parse_datetime(body.get("expires_at")),
                    max_in_flight=_in_flight(body),
                    send_within=_seconds_or_none(body.get("send_within")),
                    asked_at=asked_at,
                    # Never more than the whole time until the answer came.
                    waited=min(_seconds_or_none(body.get("waited")) or 0.0, answered - asked_at),
                )
            if action == "wait":
                reason = body.get("reason")
                return Wait(
                    retry_after=max(0.0, float(body.get("retry_after") or 0.0)),
                    max_in_flight=_in_flight(body),
                    reason=None if reason is None else str(reason),
                )
            if action == "stop":
                return Stop(reason=str(body.get("reason") or "stopped by the control plane"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ControlPlaneUnavailable(f"malformed lease answer: {exc}") from exc
        raise ControlPlaneUnavailable(f"unknown lease action {action!r}")

    def report(self, report: dict[str, Any], *, timeout: float | None = None) -> str:
        """Send one report (as `Report.to_json()` made it); answers `recorded` or `duplicate`.

        `timeout` (seconds) shortens the client's for this request: a stopping program has
        only what is left of its grace. Safe from several threads at once.
        """
        body = self._json(self._post("/report", report, timeout=timeout))
        status = body.get("status")
        if status not in ("recorded", "duplicate"):
            raise ControlPlaneUnavailable(f"unexpected report status {status!r}")
        return str(status)

    def heartbeat(self, sent: list[dict[str, str]] | None = None) -> int | None:
        """Says the program is alive, and which SMS it `sent` since its last beat
        (`{trigger_id, sent_at, provider?}` each); the country's cap as the control plane
        answers it (None from one that does not say)."""
        body: dict[str, Any] = {"session": self.session}
        if sent:
            body["sent"] = sent
        told = self._post("/heartbeat", body).headers.get(COUNTRY_CAP_HEADER)
        return int(told) if told is not None and told.isdigit() else None
