"""uvicorn's options for the servers this package runs: its httptools protocol, with
limits it lacks on what a client may send before a request reaches the app.

- A request line and headers larger than `SMSFLEET_HTTP_MAX_HEADER_BYTES` are answered
  431 and the connection closed: the bytes of a header block are counted as they are
  read, and no more of them than the cap is handed to the parser.
- Headers not all in within `SMSFLEET_HTTP_HEADER_TIMEOUT_SECONDS` of the connection
  opening (or, on a connection kept alive, of their first byte) are answered 408 and
  the connection closed. Waiting between requests is uvicorn's keep-alive timeout.
- A body not all in within `SMSFLEET_HTTP_BODY_TIMEOUT_SECONDS` of its headers' end
  closes the connection (answered 408 when nothing was answered yet): a client trickling
  a body holds its place no longer than one trickling headers.
- One client address (IPv4; IPv6 by its /64; a trusted proxy's not counted) holds at
  most `SMSFLEET_HTTP_MAX_CONNECTIONS_PER_CLIENT` connections at once, WebSockets
  included; a connection past it is answered 429 and closed as it opens, so no one
  client takes the places every other one needs.
- Past `SMSFLEET_HTTP_MAX_CONNECTIONS` connections and requests at once, uvicorn answers
  each request 503 (`limit_concurrency`).

Bodies are the edge's to cap in size (`smsfleet.edge`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Iterable
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from smsfleet.core.http_errors import HTTP_CODES, error_body
from smsfleet.core.settings import HttpSettings

__all__ = ["HeaderLimitedProtocol", "client_key", "server_options"]

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_key(address: str) -> str:
    """The address as counted: an IPv6 client by its /64, an IPv4-mapped one as IPv4."""
    try:
        found = ipaddress.ip_address(address)
    except ValueError:  # not an IP (a test client's name): as it is
        return address
    if isinstance(found, ipaddress.IPv6Address):
        if found.ipv4_mapped is not None:
            return str(found.ipv4_mapped)
        return str(ipaddress.IPv6Network((found, 64), strict=False))
    return str(found)


def _exempt(address: str, networks: Iterable[IPNetwork]) -> bool:
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(found in network for network in networks)


class HeaderLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on a header block's bytes, deadlines for
    the headers and the body, and a cap on one client's connections. A subclass sets
    them (`server_options` makes one per settings, with its own count of clients).

    A header block that starts part-way through a read (a request pipelined behind
    another) is counted from the next read: it may pass the cap by less than the cap."""

    # The settings' defaults, not the environment's: read at import, a bad value there
    # would break the import rather than the server's start.
    max_header_bytes: ClassVar[int] = HttpSettings.model_fields["max_header_bytes"].default
    header_timeout_seconds: ClassVar[float] = HttpSettings.model_fields[
        "header_timeout_seconds"
    ].default
    body_timeout_seconds: ClassVar[float] = HttpSettings.model_fields[
        "body_timeout_seconds"
    ].default
    max_connections_per_client: ClassVar[int] = HttpSettings.model_fields[
        "max_connections_per_client"
    ].default
    # Addresses whose connections are not counted (trusted proxies: many clients each).
    uncounted: ClassVar[tuple[IPNetwork, ...]] = ()
    # Open connections per client key, and the keys refused since they were last under
    # the cap (told once in the log); one server's, in its event loop only.
    clients: ClassVar[dict[str, int]] = {}
    refusing: ClassVar[set[str]] = set()

    # Bytes the header block being read may still take; None while none is being read
    # (a body, or a request being answered).
    _header_room: int | None = None
    # What is being read against a deadline ("headers", "body" or None) and since when
    # (loop time).
    _reading: str | None = None
    _began: float = 0.0
    # One pending check per connection, moved on when it finds a later deadline, rather
    # than a timer made and cancelled for each request of a kept-alive connection.
    _deadline_check: asyncio.TimerHandle | None = None
    # The client key this connection counts under, until it is lost.
    _counted: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self._count_client():
            return
        self._header_room = self.max_header_bytes
        self._read("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline_check is not None:
            self._deadline_check.cancel()
            self._deadline_check = None
        self._release_client()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        room = self._header_room
        if room is None:
            super().data_received(data)
            return
        if self._reading is None:  # a request's first bytes on a kept-alive connection
            self._read("headers")
        if len(data) <= room:
            self._header_room = room - len(data)
            super().data_received(data)
            return
        # Only the room is parsed: the headers end within it, or they are too large.
        self._header_room = 0
        super().data_received(memoryview(data)[:room])  # type: ignore[arg-type]
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # refused as malformed, or handed to the WebSocket protocol
        if self._header_room == 0:
            self._refuse(431, "Request header fields too large")
            return
        self.data_received(data[room:])

    def on_headers_complete(self) -> None:
        self._header_room = None
        self._read("body")  # ended at once by the message's end when it has none
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = None
        self._header_room = self.max_header_bytes

    def handle_websocket_upgrade(self) -> None:
        self._reading = None
        super().handle_websocket_upgrade()
        # The socket's protocol holds the connection from here: it gives the count back.
        socket = self.transport.get_protocol()
        lost = socket.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            try:
                lost(exc)
            finally:
                self._release_client()

        socket.connection_lost = connection_lost  # type: ignore[method-assign]

    # --- deadlines --------------------------------------------------------------------

    def _read(self, what: str) -> None:
        """Start reading `what` against its deadline."""
        self._reading, self._began = what, self.loop.time()
        due = self._began + self._timeout()
        check = self._deadline_check
        if check is None or check.when() > due:
            if check is not None:
                check.cancel()
            self._deadline_check = self.loop.call_at(due, self._check_deadline)

    def _timeout(self) -> float:
        if self._reading == "headers":
            return self.header_timeout_seconds
        return self.body_timeout_seconds

    def _check_deadline(self) -> None:
        self._deadline_check = None
        if self._reading is None or self.transport.get_protocol() is not self:
            return  # none being read: the next read checks itself
        due = self._began + self._timeout()
        if self.loop.time() < due:
            self._deadline_check = self.loop.call_at(due, self._check_deadline)
        else:
            self._refuse(408, "Request timeout")

    # --- clients ----------------------------------------------------------------------

    def _count_client(self) -> bool:
        """Count this connection against its client; False: refused, one too many."""
        if self.client is None or _exempt(self.client[0], self.uncounted):
            return True
        key = client_key(self.client[0])
        held = self.clients.get(key, 0)
        if held >= self.max_connections_per_client:
            if key not in self.refusing:
                self.refusing.add(key)
                log.warning(
                    "%s holds %d connections, the most one client may: refusing more",
                    key,
                    held,
                )
            self._refuse(429, "Too many connections from this address")
            return False
        self.clients[key] = held + 1
        self._counted = key
        return True

    def _release_client(self) -> None:
        key, self._counted = self._counted, None
        if key is None:
            return
        left = self.clients[key] - 1
        if left:
            self.clients[key] = left
        else:
            del self.clients[key]
        if left < self.max_connections_per_client:
            self.refusing.discard(key)

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status` and close. While a request's body is being read, or an earlier
        request's answer is being written (pipelining), close only: the app may answer
        that request, and an answer of ours would break into it."""
        answer = self._reading != "body" and (self.cycle is None or self.cycle.response_complete)
        self._header_room = 0
        self._reading = None
        if self.transport.is_closing():
            return
        if status == 431:
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
            self.logger.warning("%s: %s", reason, client)
        if answer:
            # The one error shape of every answer, this one made before any route runs.
            body = json.dumps(error_body(HTTP_CODES[status], reason)).encode()
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n\r\n",
                body,
            ]
            self.transport.write(b"".join(head))
        self.transport.close()


def server_options(http: HttpSettings, uncounted: Iterable[IPNetwork] = ()) -> dict[str, Any]:
    """uvicorn.Config's options for these limits; `uncounted`: addresses whose connections
    no client cap counts (trusted proxies)."""
    protocol = type(
        "HeaderLimitedProtocol",
        (HeaderLimitedProtocol,),
        {
            "max_header_bytes": http.max_header_bytes,
            "header_timeout_seconds": http.header_timeout_seconds,
            "body_timeout_seconds": http.body_timeout_seconds,
            "max_connections_per_client": http.max_connections_per_client,
            "uncounted": tuple(uncounted),
            "clients": {},
            "refusing": set(),
        },
    )
    return {"http": protocol, "limit_concurrency": http.max_connections}
