"""The control plane's side of the search service: a client behind a circuit breaker,
and the feeder that indexes attempts and messages as they happen.

The feeder's queue lives in memory, so on start (and whenever its queue overflowed)
it first catches up: it asks the index for its newest document of each kind and
indexes again, in batches, what the stores hold since then (less an overlap), before
anything queued. What was recorded while search was down, or left in the queue when
the control plane stopped, is indexed that way.

The control plane is the gateway: people ask it, it asks the search service on
their behalf (their name, and when their account was made, as the job's owner), with
short timeouts, one retry of an idempotent call, and a breaker, so a search service that
is down costs the API a clear 503 in milliseconds and nothing else.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pybreaker

from smsfleet.attempts.models import Attempt
from smsfleet.core.errors import Conflict, NotFound, Throttled, Unavailable, ValidationFailed
from smsfleet.messages.models import Direction, Message
from smsfleet.search.models import (
    Document,
    DocumentKind,
    Job,
    JobCreate,
    JobOwner,
    JobPage,
    JobQuery,
    Newest,
)

__all__ = [
    "Backlog",
    "SearchFeeder",
    "SearchGateway",
    "backlog_of",
    "document_of_attempt",
    "document_of_message",
]

log = logging.getLogger("smsfleet.search")

TIMEOUT = httpx.Timeout(2.0, connect=1.0)
FEED_BATCH = 500
FEED_QUEUE = 100_000
# Caught up from this much before the index's newest document: what was recorded a
# little out of order, or a message whose own time is ahead of when it was recorded.
CATCH_UP_OVERLAP = timedelta(minutes=5)

# The stores' documents of a kind recorded since a time (None: all), page by page.
Backlog = Callable[[DocumentKind, datetime | None], Iterator[list[Document]]]


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

    def create_job(self, data: JobCreate, *, owner: JobOwner) -> Job:
        body = self._call("POST", "/v1/jobs", owner=owner, json=data.model_dump(mode="json"))
        return Job.model_validate(body)

    def jobs(self, query: JobQuery, *, owner: JobOwner | None) -> JobPage:
        params = query.model_dump(mode="json", exclude_none=True)
        return JobPage.model_validate(self._call("GET", "/v1/jobs", owner=owner, params=params))

    def job(self, job_id: str, *, owner: JobOwner | None) -> Job:
        return Job.model_validate(self._call("GET", f"/v1/jobs/{quote(job_id)}", owner=owner))

    def cancel(self, job_id: str, *, owner: JobOwner | None) -> Job:
        return Job.model_validate(
            self._call("POST", f"/v1/jobs/{quote(job_id)}/cancel", owner=owner)
        )

    def retry(self, job_id: str, *, owner: JobOwner | None) -> Job:
        return Job.model_validate(
            self._call("POST", f"/v1/jobs/{quote(job_id)}/retry", owner=owner)
        )

    def index(self, documents: list[Document]) -> None:
        body = {"documents": [d.model_dump(mode="json") for d in documents]}
        self._call("POST", "/v1/documents", json=body)

    def newest(self) -> Newest:
        return Newest.model_validate(self._call("GET", "/v1/documents/newest"))

    # --- the call ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        owner: JobOwner | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        if not self._enabled:
            raise Unavailable(
                "search is off: set SMSFLEET_SEARCH_URL and SMSFLEET_SEARCH_TOKEN", retry_after=60
            )
        headers = {}
        if owner is not None:
            headers["X-Owner"] = owner.name
            if owner.since is not None:
                headers["X-Owner-Since"] = owner.since.isoformat()

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
    if response.status_code == 429:
        retry_after = response.headers.get("Retry-After", "")
        raise Throttled(message, retry_after=int(retry_after) if retry_after.isdigit() else 5)
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


def backlog_of(
    *,
    attempts: Callable[[datetime | None], Iterator[list[Attempt]]],
    messages: Callable[[datetime | None], Iterator[list[Message]]],
) -> Backlog:
    """The feeder's backlog from the attempts ledger and the messages, as documents."""

    def backlog(kind: DocumentKind, since: datetime | None) -> Iterator[list[Document]]:
        if kind is DocumentKind.attempt:
            for page in attempts(since):
                yield [document_of_attempt(attempt) for attempt in page]
        else:
            for messages_page in messages(since):
                yield [document_of_message(message) for message in messages_page]

    return backlog


class SearchFeeder:
    """Indexes what happens, in batches, off the request path; waits while search is down,
    and catches up from the stores (`backlog`) on start and after its queue overflowed."""

    def __init__(
        self,
        gateway: SearchGateway,
        *,
        backlog: Backlog | None = None,
        interval: float = 1.0,
    ) -> None:
        self._gateway = gateway
        self._backlog = backlog
        self._queue: deque[Document] = deque(maxlen=FEED_QUEUE)
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Until caught up, the index may lack what the stores hold.
        self._behind = backlog is not None

    @property
    def behind(self) -> bool:
        return self._behind

    @property
    def queued(self) -> int:
        """Documents waiting to be indexed."""
        return len(self._queue)

    def add(self, document: Document) -> None:
        if len(self._queue) == FEED_QUEUE and self._backlog is not None:
            self._behind = True  # the oldest queued document is dropped: catch up later
        self._queue.append(document)

    def flush(self) -> int:
        """Index one batch of the queue (after catching up, when behind); how many."""
        with self._lock:
            caught_up = self._catch_up() if self._behind else 0
            batch = [self._queue.popleft() for _ in range(min(FEED_BATCH, len(self._queue)))]
            if not batch:
                return caught_up
            try:
                self._gateway.index(batch)
            except Unavailable:
                self._queue.extendleft(reversed(batch))
                raise
            return caught_up + len(batch)

    def _catch_up(self) -> int:
        """Index what the stores hold since the index's newest document of each kind."""
        assert self._backlog is not None
        newest = self._gateway.newest()
        indexed = 0
        for kind in DocumentKind:
            since: datetime | None = getattr(newest, kind.value)
            start = since - CATCH_UP_OVERLAP if since is not None else None
            for page in self._backlog(kind, start):
                for first in range(0, len(page), FEED_BATCH):
                    self._gateway.index(page[first : first + FEED_BATCH])
                indexed += len(page)
        self._behind = False
        if indexed:
            log.info("search index caught up: %d documents indexed again", indexed)
        return indexed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="smsfleet-search-feed", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                while self.flush() and not self._stop.is_set():
                    pass
            except Unavailable as error:
                log.debug("search indexing waits: %s", error)
            except Exception:  # a store's fault: logged, tried again next time
                log.exception("search indexing failed")
            if self._stop.wait(self._interval):
                return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
