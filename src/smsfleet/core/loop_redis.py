"""A Redis client for the worker routes' scripts on the event loop: one connection, its
requests pipelined, its replies parsed by hiredis.

redis-py's asyncio client takes a pooled connection, a lock and its command layers for
each call: about 60-70 µs of CPU a script call on this stack, a sixth of a worker
request's. Here a call is its command packed, one write and a future the reader
resolves in order: about 10 µs (`benchmarks/loop_redis.py`). Redis runs one command at
a time, so one connection carries them as fast as many.

It raises redis-py's errors (`redis.ConnectionError`, `redis.TimeoutError`,
`redis.ResponseError`), so a caller handles either client alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
import redis
from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url

__all__ = ["LoopRedis", "LoopScript"]

# A request left unanswered this long fails with the connection's other requests.
REPLY_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 1.0

Arg = str | bytes | int | float


def _encoded(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):  # a bool is an int to Python, and a mistake here
        raise redis.DataError(f"a Redis argument cannot be a bool: {arg!r}")
    if isinstance(arg, int):
        return b"%d" % arg
    if isinstance(arg, float):
        return repr(arg).encode()
    raise redis.DataError(f"a Redis argument must be bytes, str, int or float: {arg!r}")


def _command(args: Sequence[Arg]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _encoded(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    """One connection: requests written in order, each answered by the next reply."""

    def __init__(self, on_lost: Any) -> None:
        self._reader = hiredis.Reader(
            protocolError=redis.InvalidResponse, replyError=redis.ResponseError
        )
        # (reply, monotonic time written) of each request not answered yet, oldest first.
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._transport: asyncio.Transport | None = None
        self._unsent: list[bytes] = []
        self._on_lost = on_lost
        self.error: redis.RedisError | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, though they are such.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except redis.InvalidResponse as error:
                self.fail(redis.ConnectionError(f"Redis's reply could not be read: {error}"))
                return
            if reply is False:
                return
            if not self._waiting:  # a reply nobody asked for: the stream is not ours
                self.fail(redis.ConnectionError("Redis answered a request never made"))
                return
            future, _ = self._waiting.popleft()
            if not future.done():
                if isinstance(reply, redis.ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.ConnectionError(f"the connection to Redis was lost: {exc or 'closed'}"))

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if self.error is not None or self._transport is None:
            raise self.error or redis.ConnectionError("not connected to Redis")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((future, time.monotonic()))
        # The requests made in one turn of the loop go out in one write (one system call),
        # at its end: under load the requests of many worker routes share it.
        if not self._unsent:
            loop.call_soon(self._flush)
        self._unsent.append(command)
        return future

    def _flush(self) -> None:
        unsent, self._unsent = self._unsent, []
        if self.error is None and self._transport is not None:
            self._transport.write(b"".join(unsent))

    def oldest_wait(self, now: float) -> float | None:
        """How long the oldest unanswered request has waited; None: none waits."""
        return now - self._waiting[0][1] if self._waiting else None

    def fail(self, error: redis.RedisError) -> None:
        """Close, failing every request not answered yet with `error`."""
        if self.error is None:
            self.error = error
            self._on_lost(self)
        if self._transport is not None:
            self._transport.abort()
        while self._waiting:
            future, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)


class LoopRedis:
    """A client of one event loop. Connects at its first request and again after a
    failure; a request whose connection fails is not sent again (a script may have run)."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        reply_timeout: float = REPLY_TIMEOUT_SECONDS,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        self._address = (host, port, path, tls)
        self._hello: list[bytes] = []
        if password is not None:
            auth: list[Arg] = (
                ["AUTH", password] if username is None else ["AUTH", username, password]
            )
            self._hello.append(_command(auth))
        if db:
            self._hello.append(_command(["SELECT", db]))
        self._reply_timeout = reply_timeout
        self._connect_timeout = connect_timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._watch: asyncio.TimerHandle | None = None
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> LoopRedis:
        """A client of the Redis at `url` (redis://, rediss:// or unix://, as redis-py)."""
        given = parse_url(url)  # type: ignore[no-untyped-call]
        connection_class = given.get("connection_class")
        return cls(
            host=given.get("host", "localhost"),
            port=int(given.get("port", 6379)),
            path=given.get("path") if connection_class is UnixDomainSocketConnection else None,
            db=int(given.get("db", 0)),
            username=given.get("username"),
            password=given.get("password"),
            tls=connection_class is SSLConnection,
            **options,
        )

    def register_script(self, source: str) -> LoopScript:
        return LoopScript(self, source)

    async def execute(self, *args: Arg) -> Any:
        """One command's reply; an error reply is raised as `redis.ResponseError`."""
        command = _command(args)
        connection = self._connection
        if connection is None or connection.error is not None:
            connection = await self._connected()
        return await connection.send(command)

    async def aclose(self) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._connection is not None:
            self._connection.fail(redis.ConnectionError("the Redis client was closed"))

    async def _connected(self) -> _Connection:
        if self._closed:
            raise redis.ConnectionError("the Redis client was closed")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        # Shared by the requests that wait for it; one cancelled does not cancel it.
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _Connection:
        try:
            return await self._open()
        finally:
            self._connecting = None

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        host, port, path, tls = self._address
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                if path is not None:
                    _, connection = await loop.create_unix_connection(
                        lambda: _Connection(self._lost), path
                    )
                else:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(self._lost),
                        host,
                        port,
                        ssl=ssl.create_default_context() if tls else None,
                    )
                for reply in [connection.send(hello) for hello in self._hello]:
                    await reply
        except (redis.RedisError, TimeoutError, OSError) as error:
            failure = _connect_failure(error)
            if connection is not None:
                connection.fail(failure)
            raise failure from error
        self._connection = connection
        if self._watch is None:
            self._watch_replies()
        return connection

    def _lost(self, connection: _Connection) -> None:
        if self._connection is connection:
            self._connection = None

    def _watch_replies(self) -> None:
        """Every half a reply timeout: a connection whose oldest request waited longer
        fails (one timer for all requests, not one each)."""
        connection = self._connection
        if connection is not None and connection.error is None:
            waited = connection.oldest_wait(time.monotonic())
            if waited is not None and waited > self._reply_timeout:
                connection.fail(
                    redis.TimeoutError(f"Redis did not answer within {self._reply_timeout} s")
                )
        if not self._closed:
            self._watch = asyncio.get_running_loop().call_later(
                self._reply_timeout / 2, self._watch_replies
            )


def _connect_failure(error: Exception) -> redis.ConnectionError | redis.TimeoutError:
    if isinstance(error, redis.ResponseError):  # AUTH or SELECT refused
        return redis.AuthenticationError(f"Redis refused the connection: {error}")
    if isinstance(error, TimeoutError):
        return redis.TimeoutError(f"connecting to Redis timed out: {error}")
    return redis.ConnectionError(f"cannot connect to Redis: {error}")


class LoopScript:
    """A Lua script called by its SHA1, sent whole when Redis does not know it yet."""

    def __init__(self, client: LoopRedis, source: str) -> None:
        self._client = client
        self._source = source
        # Redis names a script by its SHA1; nothing here rests on the hash being strong.
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[Arg] = (), args: Sequence[Arg] = ()) -> Any:
        try:
            return await self._client.execute("EVALSHA", self._sha, len(keys), *keys, *args)
        except redis.ResponseError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        # Unknown to Redis (a restart, SCRIPT FLUSH): nothing ran, and EVAL keeps it.
        return await self._client.execute("EVAL", self._source, len(keys), *keys, *args)
