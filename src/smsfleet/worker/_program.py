"""What a program's own classes see and return: the attempt, a send result, a send failure."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx


@dataclass(frozen=True)
class Attempt:
    """One granted SMS: passed to `SendSMS(phone, proxy, attempt=...)` and `SubmitSMS(...)`.

    `trigger_id` is the control plane's id for this SMS; give it to the provider as its
    idempotency id, so a retried send can never become a second SMS. `provider` is set for
    `SubmitSMS`: the provider that actually sent it. `send_by` is when (this process's
    `time.monotonic()`) the SMS must have left, or not at all: ask `may_send()` before any
    send after the first (a retry, another provider); the harness asks before the first.
    """

    trigger_id: str
    phone: str
    pair: str
    program: str
    country: str
    session: str
    simulator_url: str
    message: str | None = None
    expires_at: datetime | None = None
    provider: str | None = None
    stopping: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    send_by: float | None = field(default=None, compare=False)

    def may_send(self, after: float = 0.0) -> bool:
        """Whether an SMS sent `after` seconds from now keeps to the country's cap: sent
        later than its grant allows, the gateway's own minute could count one more than
        the cap (another program's SMS granted after it may already have left)."""
        return self.send_by is None or time.monotonic() + after <= self.send_by

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the program is asked to stop; False means give up now."""
        return not self.stopping.wait(max(0.0, seconds))

    def seconds_left(self, now: datetime | None = None) -> float | None:
        """Seconds until the grant expires (None: no expiry given): until when its outcome
        may be reported, not until when its SMS may leave (`may_send`)."""
        if self.expires_at is None:
            return None
        return (self.expires_at - (now or datetime.now(UTC))).total_seconds()


@dataclass(frozen=True)
class Sent:
    """What `SendOtp` returns when the provider accepted the SMS.

    `trigger_id` is only needed when the provider assigned its own id instead of ours.
    """

    provider: str | None = None
    trigger_id: str | None = None


class SendFailed(Exception):
    """`SendOtp` raises it when the provider refused or failed to send; `code` is reported."""

    def __init__(
        self,
        code: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        message: str = "",
    ) -> None:
        super().__init__(f"{provider or 'provider'}: {code}" + (f" ({message})" if message else ""))
        self.code = code
        self.provider = provider
        self.status = status
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response, *, provider: str | None) -> SendFailed:
        """Reads `{"error": {"code", "message"}}` and `Retry-After` from a failed answer."""
        code, message = f"HTTP_{response.status_code}", ""
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error.get("message") or "")
        except (ValueError, KeyError, TypeError):
            pass
        retry_after: float | None
        try:
            retry_after = float(response.headers["Retry-After"])
        except (KeyError, ValueError):
            retry_after = None
        return cls(
            code,
            provider=provider,
            status=response.status_code,
            retry_after=retry_after,
            message=message,
        )
