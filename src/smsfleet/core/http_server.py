"""uvicorn's options for the servers this package runs: its httptools protocol, with
limits it lacks on what a client may send before a request reaches the app.

- A request line and headers larger than `SMSFLEET_HTTP_MAX_HEADER_BYTES` are answered
  431 and the connection closed: the bytes of a header block are counted as they are
  read, and no more of them than the cap is handed to the parser.
- Headers not all in within `SMSFLEET_HTTP_HEADER_TIMEOUT_SECONDS` of the connection
  opening (or, on a connection kept alive, of their first byte) are answered 408 and
  the connection closed. Waiting between requests is uvicorn's keep-alive timeout.
- Past `SMSFLEET_HTTP_MAX_CONNECTIONS` connections and requests at once, uvicorn answers
  each request 503 (`limit_concurrency`).

Bodies are the edge's to cap (`smsfleet.edge`).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from smsfleet.core.settings import HttpSettings

__all__ = ["HeaderLimitedProtocol", "server_options"]


class HeaderLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on a header block's bytes and a deadline
    for it. A subclass sets the two (`server_options` makes one per settings).

    A header block that starts part-way through a read (a request pipelined behind
    another) is counted from the next read: it may pass the cap by less than the cap."""

    # The settings' defaults, not the environment's: read at import, a bad value there
    # would break the import rather than the server's start.
    max_header_bytes: ClassVar[int] = HttpSettings.model_fields["max_header_bytes"].default
    header_timeout_seconds: ClassVar[float] = HttpSettings.model_fields[
        "header_timeout_seconds"
    ].default

    # Bytes the header block being read may still take; None while none is being read
    # (a body, or a request being answered).
    _header_room: int | None = None
    # When the header block being read began (loop time); None while none is being read.
    _header_began: float | None = None
    # One pending check per connection, moved on when it finds a later header block,
    # rather than a timer made and cancelled for each request of a kept-alive connection.
    _header_check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_room = self.max_header_bytes
        self._header_began = self.loop.time()
        self._check_headers_in(self.header_timeout_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_check is not None:
            self._header_check.cancel()
            self._header_check = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        room = self._header_room
        if room is None:
            super().data_received(data)
            return
        if self._header_began is None:  # a request's first bytes on a kept-alive connection
            self._header_began = self.loop.time()
            if self._header_check is None:
                self._check_headers_in(self.header_timeout_seconds)
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
        self._header_room = self._header_began = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._header_room = self.max_header_bytes

    def _check_headers_in(self, seconds: float) -> None:
        self._header_check = self.loop.call_later(seconds, self._check_headers)

    def _check_headers(self) -> None:
        self._header_check = None
        if self._header_began is None:
            return  # none being read: the next header block checks itself
        waited = self.loop.time() - self._header_began
        if waited < self.header_timeout_seconds:
            self._check_headers_in(self.header_timeout_seconds - waited)
        else:
            self._refuse(408, "Request timeout")

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status` and close; while an earlier request's answer is still being
        written (pipelining), close only: an answer of ours would break into it."""
        self._header_room = 0
        if self.transport.is_closing():
            return
        if status == 431:
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
            self.logger.warning("%s: %s", reason, client)
        if self.cycle is None or self.cycle.response_complete:
            body = reason.encode("ascii")
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n\r\n",
                body,
            ]
            self.transport.write(b"".join(head))
        self.transport.close()


def server_options(http: HttpSettings) -> dict[str, Any]:
    """uvicorn.Config's options for these limits."""
    protocol = type(
        "HeaderLimitedProtocol",
        (HeaderLimitedProtocol,),
        {
            "max_header_bytes": http.max_header_bytes,
            "header_timeout_seconds": http.header_timeout_seconds,
        },
    )
    return {"http": protocol, "limit_concurrency": http.max_connections}
