"""The HTTP edge: one pure ASGI layer that every request passes once, and that

- caps request bodies before any of the body is read or anyone is authenticated: a
  declared length over the cap is refused at once, and a streamed (chunked) body is
  counted as it arrives and cut off as soon as it passes the cap;
- sets the security headers on every answer (no caching, but for the built files), and
  a content policy on the dashboard's pages;
- times each request and hands it, with its status, to `finished` (the request log);
- answers only the Host names it is given, when it is given any (a server on a loopback
  address: a page elsewhere that points a name of its own at 127.0.0.1, DNS rebinding,
  must not reach it): any other gets 400, and a WebSocket is closed before it opens;
- answers HEAD as GET without the body (the routes declare GET alone; an uptime check
  or `curl -I` asks HEAD).

One layer, not one per job: each layer costs every request an await and a wrapper per
message, and three of them took about a sixth of a worker request's CPU
(docs/benchmarks.md).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsfleet.core.hosts import host_allowed, host_header, json_answer, refuse_host

__all__ = ["Edge", "Finished"]

# Called once per HTTP request, answered or not: the scope (with its matched route, if
# any), the status sent (500 when none was) and when the request arrived (perf_counter).
Finished = Callable[[Scope, int, float], None]

_EVERYWHERE = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_CONTENT_POLICY = b"content-security-policy"
# The dashboard loads only its own files; charts set inline styles; the live feed
# is a WebSocket to the page's own host, named (`ws:` alone would allow any host).
_DASHBOARD_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'{sockets}; font-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# A Host header fit to be written into the policy; anything else gets 'self' alone.
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
# Answers that are no page. The interactive API docs (/docs, /swagger/, /redoc) set a
# policy of their own (smsfleet.apidocs); their assets get the dashboard's.
_OWN_PAGES = ("/api/", "/openapi.json", "/metrics")


_CACHE_CONTROL = b"cache-control"
# The dashboard's and the API docs' built files: named by their content, the same for
# everyone, and cached as the browser sees fit.
_BUILT_FILES = ("/assets/", "/docs/assets/")


class _TooLarge(Exception):
    pass


def _dashboard_policy(scope: Scope) -> bytes:
    host = host_header(scope) or ""  # the one the host check read
    sockets = f" ws://{host} wss://{host}" if _HOST.fullmatch(host) else ""
    return _DASHBOARD_POLICY.format(sockets=sockets).encode()


def _with_security_headers(scope: Scope, message: Message) -> None:
    """The headers the answer does not set itself, added to its start message."""
    headers = list(message.get("headers", ()))
    present = {name.lower() for name, _ in headers}
    headers.extend(header for header in _EVERYWHERE if header[0] not in present)
    path = str(scope["path"])
    if _CONTENT_POLICY not in present and not path.startswith(_OWN_PAGES):
        headers.append((_CONTENT_POLICY, _dashboard_policy(scope)))
    if _CACHE_CONTROL not in present and not path.startswith(_BUILT_FILES):
        # Tokens, users, figures: kept by no browser or proxy cache, nor shown again by
        # the back button after a logout.
        headers.append((_CACHE_CONTROL, b"no-store"))
    message["headers"] = headers


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared body length, and whether the body is streamed (chunked). Without a
    Transfer-Encoding the server delivers at most the declared length (RFC 9112 6.3)."""
    declared: int | None = None
    streamed = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None
        elif name == b"transfer-encoding":
            streamed = True
    return (None if streamed else declared), streamed


# Longer than any route's path, ids included: a path past it is no request of this API's,
# and what an error message echoes of it stays short.
MAX_PATH_CHARS = 2048


def _refusal(
    scope: Scope, status: int, code: str, message: str, details: dict[str, int]
) -> tuple[Message, Message]:
    body = json.dumps({"error": {"code": code, "message": message, "details": details}})
    start, end = json_answer(status, body.encode())
    _with_security_headers(scope, start)
    return start, end


def _too_large(scope: Scope, max_bytes: int) -> tuple[Message, Message]:
    said = f"the request body is larger than the {max_bytes} bytes allowed"
    return _refusal(scope, 413, "payload_too_large", said, {"max_bytes": max_bytes})


def _too_long(scope: Scope) -> tuple[Message, Message]:
    said = f"the request path is longer than the {MAX_PATH_CHARS} characters allowed"
    return _refusal(scope, 414, "uri_too_long", said, {"max_chars": MAX_PATH_CHARS})


class Edge:
    """Pure ASGI: the body cap (413 with the JSON error shape over `max_bytes`), the path's
    (414 past `MAX_PATH_CHARS`), the security headers, `finished` called for each HTTP
    request, and, given `hosts`, the Host names answered (400 for any other)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        finished: Finished,
        hosts: Collection[str] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._finished = finished
        self._hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        foreign = kind != "lifespan" and not host_allowed(scope, self._hosts)
        if kind != "http":
            await (refuse_host(scope, send) if foreign else self.app(scope, receive, send))
            return
        started = time.perf_counter()
        if foreign:
            await refuse_host(scope, send, _with_security_headers)
            self._finished(scope, 400, started)
            return
        if len(scope["path"]) > MAX_PATH_CHARS:
            for message in _too_long(scope):
                await send(message)
            self._finished(scope, 414, started)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        limit = self.max_bytes
        status: int | None = None  # until the answer starts
        received = 0
        refused = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _TooLarge
            return message

        async def answer(message: Message) -> None:
            nonlocal status
            if refused:
                return  # what the app answers to a body cut short is dropped
            if message["type"] == "http.response.start":
                status = message["status"]
                _with_security_headers(scope, message)
            elif head:
                message = {**message, "body": b""}  # its length stays in the headers
            await send(message)

        try:
            declared, streamed = _body_framing(scope)
            if declared is not None and declared > limit:
                refused = True
            else:
                try:
                    await self.app(scope, counted if streamed else receive, answer)
                except Exception:
                    if not refused:
                        raise
            if refused and status is None:
                status = 413
                for message in _too_large(scope, limit):
                    await send(message)
        finally:
            self._finished(scope, status or 500, started)
