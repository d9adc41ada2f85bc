"""The Host names a server answers to. A server on a loopback address answers to the
loopback names only (and to those it is told of): a web page that points a name of its
own at 127.0.0.1 (DNS rebinding) must not reach it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from ipaddress import ip_address

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "AllowedHosts",
    "host_allowed",
    "host_name",
    "is_loopback",
    "json_answer",
    "loopback_hosts",
]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# A Host field as RFC 9110 (7.2) has it: a name or IPv4 address, or an IPv6 one in
# brackets, and an optional port of at most five digits (below 65536, checked apart).
# Anything else (`name:8000@other`) is answered 400, as RFC 9112 (3.2) asks, rather
# than read by the name before the colon.
_WELL_FORMED = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._~%!$&'()*+,;=-]*)(?::([0-9]{0,5}))?", re.I)
_REFUSED = json.dumps(
    {
        "error": {
            "code": "host_not_allowed",
            "message": "this server does not answer to that Host",
            "details": {},
        }
    }
).encode()


def host_name(host: str) -> str:
    """A host as a Host header names it, compared: lower case, IPv6 without brackets,
    no port (`[::1]:8000` is `::1`, `Example.org:80` is `example.org`)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host if host.count(":") > 1 else host.partition(":")[0]


def loopback_hosts(*more: str) -> list[str]:
    """The Host names a server on a loopback address answers to: the loopback names, and
    `more` (the one it listens on, the one programs are told)."""
    return sorted({*LOOPBACK_NAMES, *(host_name(host) for host in more)})


def is_loopback(host: str) -> bool:
    """Whether listening on `host` is listening on this machine's loopback only."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


def host_header(scope: Scope) -> str | None:
    """The request's one well-formed Host header; None when it has none, several, or one
    not well formed, which no two readers could be trusted to read alike (RFC 9112 3.2:
    answered 400)."""
    found = [value for name, value in scope.get("headers", ()) if name == b"host"]
    if len(found) != 1:
        return None
    host: str = found[0].decode("latin-1")
    formed = _WELL_FORMED.fullmatch(host.strip())
    if formed is None or int(formed.group(2) or 0) > 65535:
        return None
    return host


def host_allowed(scope: Scope, hosts: frozenset[str]) -> bool:
    """Whether the request names one of `hosts`; with none given (listening on every
    address), any one Host is, or none (HTTP/1.0), but never several."""
    host = host_header(scope)
    if not hosts:
        return host is not None or not any(name == b"host" for name, _ in scope.get("headers", ()))
    return host is not None and host_name(host) in hosts


def json_answer(status: int, body: bytes) -> tuple[Message, Message]:
    """A JSON answer as its two ASGI messages, closing the connection: for an answer
    given before the app has read the request."""
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


async def refuse_host(
    scope: Scope, send: Send, headers: Callable[[Scope, Message], None] | None = None
) -> None:
    """400 with the JSON error shape to a request (`headers` adds to its start), a close
    (403) to a WebSocket, for a Host not answered to."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    start, body = json_answer(400, _REFUSED)
    if headers is not None:
        headers(scope, start)
    await send(start)
    await send(body)


class AllowedHosts:
    """Pure ASGI, for the servers without the control plane's edge (the simulator, the
    search service): only the Host names given are answered, as the edge does."""

    def __init__(self, app: ASGIApp, *, hosts: Collection[str]) -> None:
        self.app = app
        self._hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not host_allowed(scope, self._hosts):
            await refuse_host(scope, send)
            return
        await self.app(scope, receive, send)
