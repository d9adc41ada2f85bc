"""Before a request reaches the app (its Host check, its login), the server caps what a
client may send: headers larger than the cap are answered 431, headers not all in within
the timeout 408, and either closes the connection; past the connection limit, 503. Each
of its own answers but the 503 (uvicorn's) is in the one JSON error shape."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

from smsfleet.core.http_server import HeaderLimitedProtocol
from smsfleet.search.__main__ import main as search_main
from smsfleet.simulator import server as simulator_server
from tests.support.live_server import LiveServer, live_server

KiB = 1024
HEADER_CAP = 64 * KiB  # the default
TIMEOUT_SECONDS = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    timeout = {"SMSFLEET_HTTP_HEADER_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS)}
    with live_server(tmp_path_factory.mktemp("http-limits"), **timeout) as running:
        yield running


def _connect(server: LiveServer) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _head(server: LiveServer, request_line: str = "GET /healthz HTTP/1.1") -> bytes:
    return f"{request_line}\r\nHost: {urlsplit(server.url).netloc}\r\n".encode()


def _padding(total: int) -> bytes:
    """Header lines of `total` bytes, 8 KiB or less each."""
    lines = []
    while total > 0:
        size = min(total, 8 * KiB)
        lines.append(b"X-a: " + b"a" * (size - 7) + b"\r\n")
        total -= size
    return b"".join(lines)


def _read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_headers_over_the_cap_are_431_and_the_connection_closed(server: LiveServer) -> None:
    with _connect(server) as sock:
        # Never finished: the server must stop reading at the cap, not buffer all of it.
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(_head(server))
            for _ in range(1024):  # 64 MiB, if the server kept reading
                sock.sendall(_padding(64 * KiB))
                sent += 64 * KiB
        assert sent < 64 * 1024 * KiB
        answer = _read_to_close(sock)
    assert answer == b"" or _status(answer) == 431, answer[:200]
    # The answer itself, when the client stops at once past the cap.
    with _connect(server) as sock:
        sock.sendall(_head(server) + _padding(HEADER_CAP))
        answer = _read_to_close(sock)
    assert _status(answer) == 431, answer[:200]
    assert b"connection: close" in answer.lower()
    # In the one error shape of every answer.
    head, body = answer.split(b"\r\n\r\n", 1)
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {
        "error": {
            "code": "header_fields_too_large",
            "message": "Request header fields too large",
            "details": None,
        }
    }
    with server.client() as client:
        assert client.get("/healthz").status_code == 200


def test_the_cap_counts_the_request_line_and_headers_only(server: LiveServer) -> None:
    head = _head(server)
    at_the_cap = head + _padding(HEADER_CAP - len(head) - 2) + b"\r\n"
    assert len(at_the_cap) == HEADER_CAP
    with _connect(server) as sock:
        sock.sendall(at_the_cap)
        assert _status(sock.recv(65536)) == 200
    with _connect(server) as sock:
        sock.sendall(head + _padding(HEADER_CAP - len(head) - 1) + b"\r\n")
        assert _status(_read_to_close(sock)) == 431
    # Headers and a body larger than the cap, in one write: only the headers count.
    login = _head(server, "POST /api/v1/auth/login HTTP/1.1")
    body = b'{"username": "admin", "password": "' + b"p" * (200 * KiB) + b'"}'
    with _connect(server) as sock:
        sock.sendall(login + b"Content-Type: application/json\r\n")
        sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        assert _status(sock.recv(65536)) not in {408, 431}
    # Requests pipelined in one write: each header block is counted on its own.
    near_the_cap = head + _padding(HEADER_CAP - len(head) - 4 * KiB) + b"\r\n"
    with _connect(server) as sock:
        sock.sendall(head + b"\r\n" + near_the_cap + head + b"Connection: close\r\n\r\n")
        assert _read_to_close(sock).count(b"HTTP/1.1 200 OK\r\n") == 3
    with server.client() as client:
        assert client.get("/healthz", headers={"X-a": "a" * (40 * KiB)}).status_code == 200


def test_headers_not_in_within_the_timeout_are_408_and_the_connection_closed(
    server: LiveServer,
) -> None:
    with _connect(server) as slow, _connect(server) as silent, server.client() as client:
        began = time.monotonic()
        slow.sendall(_head(server))
        slow.sendall(b"X-a: 1\r\n")
        assert client.get("/healthz").status_code == 200  # others are answered meanwhile
        answer = _read_to_close(slow)
        assert _status(answer) == 408, answer[:200]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == {
            "code": "request_timeout",
            "message": "Request timeout",
            "details": None,
        }
        assert _read_to_close(silent).startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - began < TIMEOUT_SECONDS + 2


def test_a_kept_alive_connection_times_its_next_headers_from_their_first_byte(
    server: LiveServer,
) -> None:
    with _connect(server) as sock:
        sock.sendall(_head(server) + b"\r\n")
        assert _status(sock.recv(65536)) == 200
        time.sleep(TIMEOUT_SECONDS + 0.5)  # idle, within uvicorn's keep-alive (5 s)
        sock.sendall(_head(server))
        began = time.monotonic()
        answer = _read_to_close(sock)
        assert _status(answer) == 408, answer[:200]
        assert TIMEOUT_SECONDS - 0.2 < time.monotonic() - began < TIMEOUT_SECONDS + 2


def test_past_the_connection_limit_requests_are_503(tmp_path: Path) -> None:
    with (
        live_server(tmp_path, SMSFLEET_HTTP_MAX_CONNECTIONS="4") as server,
        contextlib.ExitStack() as held,
    ):
        for _ in range(4):
            held.enter_context(_connect(server)).sendall(_head(server))
        with _connect(server) as sock:
            sock.sendall(_head(server) + b"\r\n")
            answer = _read_to_close(sock)
        assert _status(answer) == 503, answer[:200]
        held.close()
        time.sleep(0.2)
        with server.client() as client:
            assert client.get("/healthz").status_code == 200


def test_the_simulator_and_the_search_service_have_the_same_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(options))
    simulator_server.serve("127.0.0.1", 8100, None)
    monkeypatch.setenv("SMSFLEET_SEARCH_TOKEN", "search-token-for-tests")
    monkeypatch.setenv("SMSFLEET_HTTP_MAX_CONNECTIONS", "100")
    assert search_main(["--data-dir", str(tmp_path)]) == 0
    simulator, search = served
    for options, connections in ((simulator, 4096), (search, 100)):
        protocol = options["http"]
        assert isinstance(protocol, type) and issubclass(protocol, HeaderLimitedProtocol)
        assert protocol.max_header_bytes == HEADER_CAP
        assert (protocol.body_timeout_seconds, protocol.max_connections_per_client) == (30, 1024)
        assert options["limit_concurrency"] == connections


def test_a_body_not_in_within_its_timeout_closes_the_connection(tmp_path: Path) -> None:
    """A client trickling a body holds its place no longer than one trickling headers."""
    with live_server(tmp_path, SMSFLEET_HTTP_BODY_TIMEOUT_SECONDS="1") as server:
        with _connect(server) as slow, server.client() as client:
            began = time.monotonic()
            slow.sendall(
                _head(server, "POST /api/v1/auth/login HTTP/1.1")
                + b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
            for _ in range(3):  # a byte now and then: never idle, never done
                time.sleep(0.3)
                slow.sendall(b" ")
                assert client.get("/healthz").status_code == 200  # others are answered
            answer = _read_to_close(slow)
            took = time.monotonic() - began
        # Closed unanswered: the app may have been reading its body.
        assert answer == b"", answer[:200]
        assert 1 - 0.2 < took < 1 + 2, took


def _connect_from(server: LiveServer, source: str) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection(
        (parts.hostname, parts.port), timeout=10, source_address=(source, 0)
    )


def _upgrade(server: LiveServer) -> bytes:
    return _head(server, "GET /api/v1/ws HTTP/1.1") + (
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )


def test_one_client_holds_at_most_its_share_of_connections(tmp_path: Path) -> None:
    """Past its cap an address's new connection is answered 429 and closed as it opens;
    another address is served meanwhile, and a connection closed, a WebSocket's too,
    gives its place back."""
    with (
        live_server(tmp_path, SMSFLEET_HTTP_MAX_CONNECTIONS_PER_CLIENT="3") as server,
        contextlib.ExitStack() as held,
    ):
        idle = [held.enter_context(_connect(server)) for _ in range(2)]
        socket_ = held.enter_context(_connect(server))
        socket_.sendall(_upgrade(server))
        assert socket_.recv(65536).startswith(b"HTTP/1.1 101 "), "the WebSocket opens"
        with _connect(server) as refused:
            answer = _read_to_close(refused)
        assert _status(answer) == 429
        assert answer.endswith(
            b'{"error": {"code": "too_many_requests", "message": "Too many connections from'
            b' this address", "details": null}}'
        )
        with _connect_from(server, "127.0.0.2") as other:
            other.sendall(_head(server) + b"Connection: close\r\n\r\n")
            assert _status(_read_to_close(other)) == 200
        for gone in (idle[0], socket_):
            gone.close()
            time.sleep(0.3)  # the server sees it gone
            with _connect(server) as again:
                again.sendall(_head(server) + b"Connection: close\r\n\r\n")
                assert _status(_read_to_close(again)) == 200


def test_a_trusted_proxys_connections_are_not_counted_as_one_clients(tmp_path: Path) -> None:
    env = {"SMSFLEET_HTTP_MAX_CONNECTIONS_PER_CLIENT": "1", "SMSFLEET_TRUSTED_PROXIES": "127.0.0.1"}
    with live_server(tmp_path, **env) as server, contextlib.ExitStack() as held:
        for _ in range(3):
            sock = held.enter_context(_connect(server))
            sock.sendall(_head(server) + b"\r\n")
            assert _status(sock.recv(65536)) == 200
