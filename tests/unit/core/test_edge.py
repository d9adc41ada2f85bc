"""The HTTP edge, called directly: the body cap, the security headers and the request
handed on as finished, each on its own and together."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from starlette.types import Message, Receive, Scope, Send

from smsfleet.edge import MAX_PATH_CHARS, Edge

App = Callable[[Scope, Receive, Send], Awaitable[None]]
LIMIT = 100


def _scope(path: str = "/api/v1/pairs", *headers: tuple[bytes, bytes]) -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"host", b"x:8000"), *headers],
    }


class Exchange:
    """One request through the edge: what the app saw and what went out."""

    def __init__(self, app: App, scope: Scope, body: list[bytes]) -> None:
        self.sent: list[Message] = []
        self.finished: list[tuple[str, int]] = []
        self._body = list(body)
        self._edge = Edge(
            app,
            max_bytes=LIMIT,
            finished=lambda scope, status, _: self.finished.append((scope["path"], status)),
        )
        self._scope = scope

    async def _receive(self) -> Message:
        if not self._body:
            return {"type": "http.disconnect"}
        chunk = self._body.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self._body)}

    async def _send(self, message: Message) -> None:
        self.sent.append(message)

    def run(self) -> Exchange:
        asyncio.run(self._edge(self._scope, self._receive, self._send))
        return self

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, list[bytes]]:
        found: dict[bytes, list[bytes]] = {}
        for name, value in self.sent[0]["headers"]:
            found.setdefault(name.lower(), []).append(value)
        return found


def reading_app(headers: list[tuple[bytes, bytes]] | None = None) -> App:
    """Reads the whole body, then answers 200 with its length."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": headers or []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    return app


def test_a_body_within_the_cap_reaches_the_app_and_the_answer_gets_the_headers() -> None:
    scope = _scope("/api/v1/pairs", (b"content-length", b"60"))
    done = Exchange(reading_app(), scope, [b"x" * 60]).run()
    assert done.status == 200
    assert done.sent[1]["body"] == b"60"
    assert done.headers[b"x-content-type-options"] == [b"nosniff"]
    assert done.headers[b"x-frame-options"] == [b"DENY"]
    assert b"content-security-policy" not in done.headers  # an API answer is no page
    assert done.finished == [("/api/v1/pairs", 200)]


def test_a_declared_length_over_the_cap_is_refused_without_calling_the_app() -> None:
    called = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal called
        called = True

    scope = _scope("/api/v1/pairs", (b"content-length", str(LIMIT + 1).encode()))
    done = Exchange(app, scope, []).run()
    assert not called
    assert done.status == 413
    assert json.loads(done.sent[1]["body"])["error"]["details"] == {"max_bytes": LIMIT}
    assert done.headers[b"connection"] == [b"close"]
    assert done.headers[b"x-frame-options"] == [b"DENY"]
    assert done.finished == [("/api/v1/pairs", 413)]


def test_a_streamed_body_is_cut_off_once_past_the_cap_and_the_apps_answer_dropped() -> None:
    scope = _scope("/api/v1/pairs", (b"transfer-encoding", b"chunked"))
    chunks = [b"x" * 40] * 10  # 400 bytes in all, over the cap after the third chunk
    done = Exchange(reading_app(), scope, chunks).run()
    assert [message["type"] for message in done.sent] == [
        "http.response.start",
        "http.response.body",
    ]
    assert done.status == 413
    assert done.headers[b"x-content-type-options"] == [b"nosniff"]
    assert done.finished == [("/api/v1/pairs", 413)]


def test_a_stream_declaring_a_small_length_is_still_counted() -> None:
    """With Transfer-Encoding the declared length means nothing (RFC 9112 6.3)."""
    scope = _scope("/api/v1/pairs", (b"content-length", b"10"), (b"transfer-encoding", b"chunked"))
    done = Exchange(reading_app(), scope, [b"x" * 80, b"x" * 80]).run()
    assert done.status == 413


def test_a_path_past_the_cap_is_refused_without_calling_the_app() -> None:
    """No route's path is that long: what a 404 would echo of it stays short."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not be called")

    long = "/api/v1/pairs/" + "x" * MAX_PATH_CHARS
    exchange = Exchange(app, _scope(long), [b""]).run()
    assert exchange.status == 414
    error = json.loads(exchange.sent[1]["body"])["error"]
    assert (error["code"], error["details"]) == ("uri_too_long", {"max_chars": MAX_PATH_CHARS})
    assert len(exchange.sent[1]["body"]) < 200
    assert exchange.finished == [(long, 414)]
    assert b"x-content-type-options" in exchange.headers
    # At the cap, the app answers.
    at_cap = "/" + "x" * (MAX_PATH_CHARS - 1)

    async def found(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    assert Exchange(found, _scope(at_cap), [b""]).run().status == 404


def test_the_dashboard_gets_a_content_policy_naming_its_own_host_only() -> None:
    done = Exchange(reading_app(), _scope("/pairs"), [b""]).run()
    (policy,) = done.headers[b"content-security-policy"]
    assert b"connect-src 'self' ws://x:8000 wss://x:8000;" in policy
    spoofed = _scope("/pairs")
    spoofed["headers"] = [(b"host", b"x; script-src *")]
    (policy,) = Exchange(reading_app(), spoofed, [b""]).run().headers[b"content-security-policy"]
    assert b"connect-src 'self';" in policy
    assert b"script-src *" not in policy


def test_headers_the_answer_sets_itself_are_kept_and_never_doubled() -> None:
    own = [(b"Content-Security-Policy", b"default-src 'none'"), (b"X-Frame-Options", b"SAMEORIGIN")]
    done = Exchange(reading_app(own), _scope("/docs"), [b""]).run()
    assert done.headers[b"content-security-policy"] == [b"default-src 'none'"]
    assert done.headers[b"x-frame-options"] == [b"SAMEORIGIN"]
    assert done.headers[b"referrer-policy"] == [b"no-referrer"]


def test_a_failing_app_is_finished_as_500_and_its_error_goes_on() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    exchange = Exchange(app, _scope(), [b""])
    with pytest.raises(RuntimeError, match="boom"):
        exchange.run()
    assert exchange.finished == [("/api/v1/pairs", 500)]


def test_other_connections_pass_untouched() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "websocket.close", "code": 1000})

    exchange = Exchange(app, {"type": "websocket", "path": "/api/v1/ws", "headers": []}, [])
    exchange.run()
    assert exchange.sent == [{"type": "websocket.close", "code": 1000}]
    assert exchange.finished == []
    assert len(seen) == 1
