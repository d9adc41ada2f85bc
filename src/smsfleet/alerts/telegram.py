"""Telegram delivery: the Bot API's `sendMessage`, and the outbox sender that drives it.

The sender takes queued messages oldest first. Per chat, order is kept: while one
message of a chat waits for a retry, the chat's later ones wait behind it. A 429
is retried after its `retry_after`; a 5xx or a network error with exponential
backoff; a 4xx (a wrong chat, a bad token) is recorded as failed and skipped,
since retrying cannot help. A message is marked sent once Telegram accepted it. Each try
is marked as it begins: one the control plane never saw end (killed while sending) goes
out again saying it may have arrived already.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import httpx
import pybreaker

from smsfleet.alerts.store import AlertStore
from smsfleet.alerts.text import sent_again
from smsfleet.core.clock import Clock

__all__ = ["OutboxSender", "TelegramBot", "TelegramError"]

log = logging.getLogger("smsfleet.alerts")

IDLE_POLL_SECONDS = 1.0


class TelegramError(Exception):
    def __init__(self, message: str, *, retry_after: float | None, permanent: bool) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class _ServerFault(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"Telegram answered {response.status_code}")
        self.response = response


class TelegramBot:
    """`sendMessage` in HTML parse mode behind a circuit breaker; errors as `TelegramError`.

    Network errors and 5xx count against the breaker; while it is open, sends fail at
    once (to be retried by the outbox) instead of waiting on a Telegram that is down.
    """

    def __init__(
        self, *, api_url: str, token: str, client: httpx.Client, breaker: pybreaker.CircuitBreaker
    ) -> None:
        self._url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self._client = client
        self._breaker = breaker
        # What the last failure that counts against the breaker was: said while it is open.
        self._last_failure = "no answer"

    def _post(self, chat_id: str, text: str, silent: bool) -> httpx.Response:
        response = self._client.post(
            self._url,
            json={
                "chat_id": chat_id,
                "text": text,
                "parse_mode": "HTML",
                "disable_web_page_preview": True,
                "disable_notification": silent,
            },
        )
        if response.status_code >= 500:
            raise _ServerFault(response)
        return response

    def send_message(self, chat_id: str, text: str, *, silent: bool = False) -> None:
        """Send `text`; `silent`: without a sound (the chat shows it, no one is paged)."""
        try:
            response = self._breaker.call(self._post, chat_id, text, silent)
        except pybreaker.CircuitBreakerError:
            raise TelegramError(
                f"Telegram is failing ({self._last_failure}): not asked again for"
                f" {self._breaker.reset_timeout:g} s",
                retry_after=self._breaker.reset_timeout,
                permanent=False,
            ) from None
        except _ServerFault as fault:
            response = fault.response
            self._last_failure = f"answered {response.status_code}"
        except httpx.HTTPError as error:
            self._last_failure = f"unreachable: {type(error).__name__}"
            raise TelegramError(
                f"Telegram {self._last_failure}", retry_after=None, permanent=False
            ) from error
        if response.status_code == 200:
            return
        try:
            body = response.json()
        except ValueError:
            body = {}
        description = str(body.get("description", response.reason_phrase))[:300]
        message = f"Telegram answered {response.status_code}: {description}"
        if response.status_code == 429:
            retry_after = body.get("parameters", {}).get("retry_after")
            raise TelegramError(
                message,
                retry_after=float(retry_after) if retry_after is not None else None,
                permanent=False,
            )
        permanent = 400 <= response.status_code < 500 and response.status_code != 408
        raise TelegramError(message, retry_after=None, permanent=permanent)


class OutboxSender:
    """Sends the outbox's messages as they are queued; retries until Telegram takes them."""

    def __init__(
        self,
        *,
        store: AlertStore,
        bot: TelegramBot,
        clock: Clock,
        should_run: Callable[[], bool] = lambda: True,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        on_result: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._bot = bot
        self._clock = clock
        self._should_run = should_run
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._on_result = on_result
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def send_due(self) -> float | None:
        """Send what is due now; return the seconds until the next retry, if one waits."""
        now = self._clock.now()
        blocked: set[str] = set()
        next_due: float | None = None
        for item in self._store.pending():
            if item.chat_id in blocked:
                continue
            wait = (item.next_attempt_at - now).total_seconds()
            if wait > 0:
                blocked.add(item.chat_id)
                next_due = wait if next_due is None else min(next_due, wait)
                continue
            text = item.text
            if item.sending_at is not None:
                # A try began and never ended: the control plane stopped while sending.
                log.warning("message %s may have been sent before a stop: sent again", item.id)
                text = sent_again(text)
            self._store.mark_sending(item.id, at=self._clock.now())
            try:
                self._bot.send_message(item.chat_id, text, silent=item.silent)
            except TelegramError as error:
                if error.permanent:
                    log.error("Telegram refused message %s for good: %s", item.id, error)
                    self._store.mark_failed(item.id, at=self._clock.now(), error=str(error))
                    self._result("failed")
                    continue
                delay = error.retry_after or min(
                    self._backoff_initial * 2**item.attempts, self._backoff_max
                )
                log.warning("message %s not sent (%s); retrying in %.1f s", item.id, error, delay)
                self._store.mark_retry(
                    item.id,
                    next_attempt_at=self._clock.now() + timedelta(seconds=delay),
                    error=str(error),
                )
                self._result("retried")
                blocked.add(item.chat_id)
                next_due = delay if next_due is None else min(next_due, delay)
                continue
            self._store.mark_sent(item.id, at=self._clock.now())
            self._result("sent")
        return next_due

    def _result(self, result: str) -> None:
        if self._on_result is not None:
            self._on_result(result)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="smsfleet-telegram", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = IDLE_POLL_SECONDS
            if self._should_run():
                try:
                    next_due = self.send_due()
                except Exception:  # the store may be down for a moment
                    log.exception("sending alerts failed; retrying")
                else:
                    if next_due is not None:
                        wait = min(max(next_due, 0.05), IDLE_POLL_SECONDS)
            self._wake.wait(wait)
            self._wake.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
