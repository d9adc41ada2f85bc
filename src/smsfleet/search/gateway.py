"""The control plane's side of the search service: a client behind a circuit breaker,
and the feeder that indexes attempts and messages as they happen.

The control plane is the gateway: people ask it, it asks the search service on
their behalf (their name as the job's owner), with short timeouts, one retry of an
idempotent call, and a breaker, so a search service that is down costs the API a
clear 503 in milliseconds and nothing else.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any
from urllib.parse import quote

import httpx
import pybreaker

from smsfleet.core.errors import Conflict, NotFound, Unavailable, ValidationFailed
from smsfleet.dispatch.models import Attempt
from smsfleet.messages.models import Direction, Message
from smsfleet.search.models import Document, DocumentKind, Job, JobCreate, JobPage, JobQuery

__all__ = ["SearchFeeder", "SearchGateway", "document_of_attempt", "document_of_message"]

log = logging.getLogger("smsfleet.search")

TIMEOUT = httpx.Timeout(2.0, connect=1.0)
FEED_BATCH = 500
FEED_QUEUE = 100_000


class _ServiceFault(Exception):
    """The search service answered 5xx: it counts against the breaker."""


class SearchGateway:
    def __init__(
        self,
        *,
        base_url: str | None,
        token: str | None,
        breaker: pybreaker.CircuitBreaker,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._enabled = base_url is not None and token is not None
        self._client = httpx.Client(
            base_url=base_url or "http://search.invalid",
            headers={"Authorization": f"Bearer {token or ''}"},
            timeout=TIMEOUT,
            transport=transport,
        )
        self.breaker = breaker

    def close(self) -> None:
        self._client.close()

    # --- jobs --------------------------------------------------------------------------

    def create_job(self, data: JobCreate, *, owner: str) -> Job:
        body = self._call("POST", "/v1/jobs", owner=owner, json=data.model_dump(mode="json"))
        return Job.model_validate(body)

    def jobs(self, query: JobQuery, *, owner: str | None) -> JobPage:
        params = query.model_dump(mode="json", exclude_none=True)
        return JobPage.model_validate(self._call("GET", "/v1/jobs", owner=owner, params=params))

    def job(self, job_id: str, *, owner: str | None) -> Job:
        return Job.model_validate(self._call("GET", f"/v1/jobs/{quote(job_id)}", owner=owner))

    def cancel(self, job_id: str, *, owner: str | None) -> Job:
        return Job.model_validate(
            self._call("POST", f"/v1/jobs/{quote(job_id)}/cancel", owner=owner)
        )

    def retry(self, job_id: str, *, owner: str | None) -> Job:
        return Job.model_validate(
            self._call("POST", f"/v1/jobs/{quote(job_id)}/retry", owner=owner)
        )

    def index(self, documents: list[Document]) -> None:
        body = {"documents": [d.model_dump(mode="json") for d in documents]}
        self._call("POST", "/v1/documents", json=body)

    # --- the call ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        owner: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        if not self._enabled:
            raise Unavailable(
                "search is off: set SMSFLEET_SEARCH_URL and SMSFLEET_SEARCH_TOKEN", retry_after=60
            )
        headers = {"X-Owner": owner} if owner is not None else {}

        def request() -> httpx.Response:
            tries = 2 if method == "GET" else 1  # only an idempotent call is repeated
            for attempt in range(tries):
                try:
                    response = self._client.request(
                        method, path, json=json, params=params, headers=headers
                    )
                except httpx.TransportError:
                    if attempt + 1 == tries:
                        raise
                    continue
                if response.status_code >= 500:
                    raise _ServiceFault(f"the search service answered {response.status_code}")
                return response
            raise AssertionError("unreachable")

        reset = int(self.breaker.reset_timeout)
        try:
            response = self.breaker.call(request)
        except pybreaker.CircuitBreakerError:
            raise Unavailable(
                f"the search service is unavailable; the gateway tries it again within {reset} s",
                retry_after=reset,
            ) from None
        except (httpx.HTTPError, _ServiceFault) as error:
            raise Unavailable(
                f"the search service did not answer ({type(error).__name__})", retry_after=5
            ) from None
        return _answer(response)


def _answer(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code < 400:
        return body
    error = body.get("error", {}) if isinstance(body, dict) else {}
    message = str(error.get("message", response.text[:200]))
    if response.status_code == 404:
        raise NotFound(message)
    if response.status_code == 409:
        raise Conflict(message)
    if response.status_code == 422:
        raise ValidationFailed(message, details=error.get("details"))
    # 401 or anything else: the two sides disagree on how they talk.
    log.error("the search service refused the gateway: %s %s", response.status_code, message)
    raise Unavailable("the search service refused the control plane; see its log", retry_after=60)


def document_of_attempt(attempt: Attempt) -> Document:
    words = [attempt.pair, attempt.program, attempt.outcome or "open"]
    words += [w for w in (attempt.error_code, attempt.provider) if w]
    return Document(
        id=attempt.id,
        kind=DocumentKind.attempt,
        phone=attempt.phone,
        text=" ".join(str(w) for w in words),
        at=attempt.completed_at or attempt.leased_at,
    )


def document_of_message(message: Message) -> Document:
    other = message.sender if message.direction is Direction.inbound else message.receiver
    return Document(
        id=message.uuid,
        kind=DocumentKind.message,
        phone=other,
        text=f"{message.sender} {message.receiver} {message.text}"[:2000],
        at=message.at,
    )


class SearchFeeder:
    """Indexes what happens, in batches, off the request path; waits while search is down."""

    def __init__(self, gateway: SearchGateway, *, interval: float = 1.0) -> None:
        self._gateway = gateway
        self._queue: deque[Document] = deque(maxlen=FEED_QUEUE)
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, document: Document) -> None:
        self._queue.append(document)

    def flush(self) -> int:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(FEED_BATCH, len(self._queue)))]
            if not batch:
                return 0
            try:
                self._gateway.index(batch)
            except Unavailable:
                self._queue.extendleft(reversed(batch))
                raise
            return len(batch)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="smsfleet-search-feed", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                while self.flush():
                    pass
            except Unavailable as error:
                log.debug("search indexing waits: %s", error)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
