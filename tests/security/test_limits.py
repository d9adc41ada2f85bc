"""Request bodies over the cap are refused before they are read, and before anyone is
authenticated: by their declared length at once, streamed ones as soon as they pass it."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.live_server import LiveServer, live_server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("limits")) as running:
        yield running


def _connect(server: LiveServer) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _answer(sock: socket.socket) -> tuple[int, dict[str, object]]:
    """The status and JSON body of the answer (the server may close before we finish)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), json.loads(body[:length])


def _head(path: str, *lines: str) -> bytes:
    return ("\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *lines]) + "\r\n\r\n").encode()


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_sent(
    server: LiveServer,
) -> None:
    with _connect(server) as sock:
        # Nothing of the body is sent: the answer comes from the headers alone.
        sock.sendall(
            _head("/api/v1/pairs", f"Content-Length: {2 * MiB}", "Content-Type: application/json")
        )
        status, body = _answer(sock)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"  # type: ignore[index]


def test_an_anonymous_2_mib_post_is_413_not_401(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post(
            "/api/v1/auth/login",
            content=b'{"username": "' + b"a" * (2 * MiB) + b'"}',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"max_bytes": MiB}


def test_a_streamed_body_is_cut_off_at_the_cap_and_never_held(server: LiveServer) -> None:
    """60 MiB sent in chunks to a route that needs a login: the server's memory stays put."""
    baseline = server.rss()
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with _connect(server) as sock:
        sock.sendall(
            _head("/api/v1/pairs", "Transfer-Encoding: chunked", "Content-Type: application/json")
        )
        try:
            while sent < 60 * MiB:
                sock.sendall(framed)
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed: it does not read the rest
        status, body = _answer(sock)
    assert status == 413, body
    assert sent < 60 * MiB
    assert server.rss() - baseline < 16 * MiB


JSON = {"Content-Type": "application/json"}


def _padded(body: dict[str, str], size: int) -> bytes:
    """`body` as JSON followed by `size` spaces: as large, and still only its own fields."""
    return json.dumps(body).encode() + b" " * size


def test_bodies_under_the_cap_still_reach_their_route(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post(
            "/api/v1/auth/login",
            content=_padded({"username": "admin", "password": "p" * 200}, MiB // 2),
            headers=JSON,
        )
    assert response.status_code == 401


def test_the_cap_is_a_setting(tmp_path: Path) -> None:
    with (
        live_server(tmp_path, SMSFLEET_MAX_BODY_BYTES=str(4 * MiB)) as server,
        server.client() as client,
    ):
        body = _padded({"username": "admin", "password": "wrong-password!"}, 2 * MiB)
        assert client.post("/api/v1/auth/login", content=body, headers=JSON).status_code == 401


def test_a_websocket_message_over_the_cap_closes_the_socket(server: LiveServer) -> None:
    url = server.url.replace("http://", "ws://") + "/api/v1/ws"
    with connect(url, open_timeout=10) as socket:
        with contextlib.suppress(ConnectionClosed):
            socket.send(json.dumps({"type": "auth", "token": "t" * (2 * MiB)}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big
