"""The event loop's Redis client against the real Redis: replies in order, scripts by
SHA1, errors as redis-py's, a lost connection made again, a silent one timed out."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
import uvloop

from smsfleet.core.loop_redis import LoopRedis
from tests.support.redis_commands import redis_commands

ECHO = "return {KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]}"


Run = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """Runs a coroutine on asyncio's own loop, then (a second test) on uvloop's, which
    the servers run."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else None

    def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coroutine)

    return run


def _fresh(source: str) -> str:
    """`source` as a script Redis has never seen (its SHA1 is new)."""
    return f"-- {secrets.token_hex(8)}\n{source}"


def test_a_script_gets_its_keys_and_arguments_and_answers_in_order(
    run: Run, redis_url: str
) -> None:
    async def calls() -> list[Any]:
        client = LoopRedis.from_url(redis_url)
        echo = client.register_script(ECHO)
        try:
            return await asyncio.gather(
                *(echo(keys=[f"k{i}"], args=[i, f"é{i}", b"\x00\xff", 1.5]) for i in range(300))
            )
        finally:
            await client.aclose()

    replies = run(calls())

    assert replies == [
        [f"k{i}".encode(), str(i).encode(), f"é{i}".encode(), b"\x00\xff", b"1.5"]
        for i in range(300)
    ]


def test_a_script_redis_does_not_know_is_sent_whole_once(run: Run, redis_url: str) -> None:
    naming = f"loop-redis-{secrets.token_hex(4)}"
    source = _fresh(ECHO)

    async def twice() -> list[Any]:
        client = LoopRedis.from_url(redis_url)
        script = client.register_script(source)
        try:
            return [await script(keys=[naming], args=[1, 2, 3, 4]) for _ in range(2)]
        finally:
            await client.aclose()

    with redis_commands(redis_url, naming=naming) as seen:
        replies = run(twice())

    assert replies == [[naming.encode(), b"1", b"2", b"3", b"4"]] * 2
    assert [command.split()[0].strip('"').upper() for command in seen] == [
        "EVALSHA",
        "EVAL",
        "EVALSHA",
    ]


def test_an_error_reply_is_raised_and_the_connection_goes_on(run: Run, redis_url: str) -> None:
    async def calls() -> tuple[str, Any]:
        client = LoopRedis.from_url(redis_url)
        failing = client.register_script("return redis.error_reply('NOPE the route is shut')")
        try:
            with pytest.raises(redis.ResponseError) as raised:
                await failing()
            return str(raised.value), await client.execute("PING")
        finally:
            await client.aclose()

    said, pong = run(calls())

    assert said == "NOPE the route is shut"
    assert pong == b"PONG"


def test_a_connection_killed_by_redis_is_made_again(run: Run, redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url)

    async def calls() -> tuple[int, int]:
        client = LoopRedis.from_url(redis_url)
        try:
            first = int(await client.execute("CLIENT", "ID"))
            admin.client_kill_filter(_id=str(first))
            await asyncio.sleep(0.1)  # the close reaches the client
            return first, int(await client.execute("CLIENT", "ID"))
        finally:
            await client.aclose()

    try:
        first, second = run(calls())
    finally:
        admin.close()

    assert second != first


def test_an_account_and_database_in_the_url_are_used_and_a_wrong_password_refused(
    run: Run,
    redis_url: str,
) -> None:
    admin = redis.Redis.from_url(redis_url)
    user, password = f"loop-{secrets.token_hex(4)}", secrets.token_hex(16)
    admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+@all"]
    )
    key = f"loop-redis-{secrets.token_hex(4)}"
    host = redis_url.split("//", 1)[1].split("/", 1)[0]

    async def calls() -> tuple[Any, Exception]:
        client = LoopRedis.from_url(f"redis://{user}:{password}@{host}/5")
        wrong = LoopRedis.from_url(f"redis://{user}:not-{password}@{host}/5")
        try:
            await client.execute("SET", key, "here", "EX", 60)
            whoami = await client.execute("ACL", "WHOAMI")
            with pytest.raises(redis.AuthenticationError) as refused:
                await wrong.execute("PING")
            return whoami, refused.value
        finally:
            await client.aclose()
            await wrong.aclose()

    try:
        whoami, refused = run(calls())
        in_db5 = redis.Redis.from_url(f"redis://{host}/5")
        try:
            assert in_db5.get(key) == b"here"
            in_db5.delete(key)
        finally:
            in_db5.close()
    finally:
        admin.acl_deluser(user)
        admin.close()

    assert whoami == user.encode()
    assert "WRONGPASS" in str(refused)
    assert isinstance(refused, redis.ConnectionError)  # the API answers it 503


@contextmanager
def stand_in_server(answer: bytes | None) -> Iterator[int]:
    """A TCP server on loopback whose connections get `answer` to their first request
    (None: nothing, ever); its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    done = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                connection = listener.accept()[0]
            except TimeoutError:
                continue
            held.append(connection)
            if answer is not None:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def _two_pings(run: Run, port: int) -> list[BaseException | Any]:
    async def calls() -> list[BaseException | Any]:
        client = LoopRedis(port=port, host="127.0.0.1", reply_timeout=0.3)
        try:
            async with asyncio.timeout(5):
                return list(
                    await asyncio.gather(
                        client.execute("PING"), client.execute("PING"), return_exceptions=True
                    )
                )
        finally:
            await client.aclose()

    return run(calls())  # type: ignore[no-any-return]


def test_requests_a_server_never_answers_fail_with_a_timeout(run: Run) -> None:
    with stand_in_server(None) as port:
        replies = _two_pings(run, port)

    assert [type(reply) for reply in replies] == [redis.TimeoutError] * 2
    assert "did not answer within 0.3 s" in str(replies[0])


def test_a_reply_that_is_not_redis_fails_the_requests_of_its_connection(run: Run) -> None:
    with stand_in_server(b"HTTP/1.1 400 Bad Request\r\n\r\n") as port:
        replies = _two_pings(run, port)

    assert [type(reply) for reply in replies] == [redis.ConnectionError] * 2
    assert "Redis's reply could not be read" in str(replies[0])


def test_no_server_is_a_connection_error_and_a_closed_client_refuses(run: Run) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    # Nothing listens on `port` now.

    async def calls() -> tuple[BaseException, BaseException]:
        client = LoopRedis(port=port, host="127.0.0.1")
        with pytest.raises(redis.ConnectionError) as unreachable:
            await client.execute("PING")
        await client.aclose()
        with pytest.raises(redis.ConnectionError) as closed:
            await client.execute("PING")
        return unreachable.value, closed.value

    unreachable, closed = run(calls())

    assert "cannot connect to Redis" in str(unreachable)
    assert "closed" in str(closed)


@pytest.mark.parametrize("argument", [True, None, ["a"]])
def test_an_argument_redis_cannot_take_is_refused_before_sending(
    run: Run, argument: object
) -> None:
    async def call() -> None:
        client = LoopRedis(port=1)  # never reached
        try:
            await client.execute("SET", "k", argument)  # type: ignore[arg-type]
        finally:
            await client.aclose()

    with pytest.raises(redis.DataError):
        run(call())
