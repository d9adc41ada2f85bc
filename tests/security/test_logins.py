"""Logins against a running control plane: counted before the password is checked,
a bounded number of password checks at once, throttled per user and address, and
X-Forwarded-For taken only from a trusted proxy."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from smsfleet.auth.throttle import LoginThrottle
from smsfleet.core.errors import Throttled
from tests.support.live_server import ADMIN_PASSWORD, LiveServer, live_server

MiB = 1024 * 1024
USER_PASSWORD = "viewer-password-for-security"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path) as running:
        yield running


def in_parallel(count: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    start = threading.Barrier(count)

    def run(index: int) -> httpx.Response:
        start.wait()
        return call(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_parallel_wrong_passwords_spend_no_more_than_the_limit(server: LiveServer) -> None:
    server.add_user("viewer", USER_PASSWORD)
    with server.client(limits=httpx.Limits(max_connections=40)) as client:
        answers = in_parallel(
            30,
            lambda _: client.post(
                "/api/v1/auth/login", json={"username": "viewer", "password": "wrong-password!"}
            ),
        )
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses[401] <= 5, statuses
    assert statuses[401] + statuses[429] == 30, statuses
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) >= 1


def test_password_checks_run_a_few_at_a_time(server: LiveServer) -> None:
    """32 logins at once: the server's memory grows by a few hashes, not by 32."""
    assert server.login("admin", ADMIN_PASSWORD).status_code == 200
    baseline = server.rss()
    peak = baseline
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.rss())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # From 32 addresses: no throttle stands between them and the password checks.
        answers = in_parallel(
            32, lambda n: server.login("admin", ADMIN_PASSWORD, address=f"127.0.1.{n + 1}")
        )
    finally:
        done.set()
        watcher.join()
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] >= 16, statuses
    for busy in (answer for answer in answers if answer.status_code == 503):
        assert busy.json()["error"]["code"] == "unavailable"
        assert "Retry-After" in busy.headers
    # Four checks of 19 MiB at most at once (the old hashes took 64 MiB each, all at once).
    assert peak - baseline < 200 * MiB, f"grew by {(peak - baseline) / MiB:.0f} MiB"


def test_a_stranger_cannot_lock_a_user_out(server: LiveServer) -> None:
    server.add_user("viewer", USER_PASSWORD)
    with server.client("127.0.0.2") as stranger:
        statuses = Counter(
            stranger.post(
                "/api/v1/auth/login", json={"username": "viewer", "password": f"guess-{n}-pw"}
            ).status_code
            for n in range(50)
        )
    assert statuses == {401: 5, 429: 45}
    # The user, from their own address, with the right password: in at once.
    assert server.login("viewer", USER_PASSWORD).status_code == 200
    # The admin too, whatever strangers tried on it.
    with server.client("127.0.0.2") as stranger:
        for _ in range(6):
            stranger.post("/api/v1/auth/login", json={"username": "admin", "password": "nope-nope"})
    assert server.login("admin", ADMIN_PASSWORD).status_code == 200


def test_failures_from_the_users_own_address_lock_that_address_out(server: LiveServer) -> None:
    server.add_user("viewer", USER_PASSWORD)
    for _ in range(5):
        assert server.login("viewer", "wrong-password!").status_code == 401
    refused = server.login("viewer", USER_PASSWORD)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 900
    # The same user from elsewhere is not affected.
    assert server.login("viewer", USER_PASSWORD, address="127.0.0.4").status_code == 200


def failures_until_refused(client: httpx.Client, forwarded_for: Callable[[int], str]) -> int:
    """Failed logins (each for another unknown user) until the address is refused."""
    for n in range(30):
        answer = client.post(
            "/api/v1/auth/login",
            json={"username": f"nobody{n}", "password": "wrong-password!"},
            headers={"X-Forwarded-For": forwarded_for(n)},
        )
        if answer.status_code == 429:
            return n
        assert answer.status_code == 401, answer.text
    return 30


def test_forwarded_for_is_ignored_from_a_peer_that_is_not_a_trusted_proxy(
    server: LiveServer,
) -> None:
    with server.client() as client:
        # A new made-up address on every attempt: still one address, refused after 20.
        assert failures_until_refused(client, lambda n: f"198.51.100.{n + 1}") == 20


def test_forwarded_for_counts_from_a_trusted_proxy(tmp_path: Path) -> None:
    with (
        live_server(tmp_path, SMSFLEET_TRUSTED_PROXIES="127.0.0.3, 10.0.0.0/8") as server,
        server.client("127.0.0.3") as proxy,
    ):
        assert failures_until_refused(proxy, lambda _: "203.0.113.9") == 20
        # Another client behind the same proxy is another address.
        other = proxy.post(
            "/api/v1/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.10"},
        )
        assert other.status_code == 200
        # Hops added by trusted proxies are skipped; a forged first hop is not believed.
        forged = proxy.post(
            "/api/v1/auth/login",
            json={"username": "nobody", "password": "wrong-password!"},
            headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.9, 10.1.2.3"},
        )
        assert forged.status_code == 429


def test_the_throttle_counts_alike_in_redis(redis_url: str) -> None:
    """With replicas the counts live in Redis: as atomic, with the same lockouts."""
    throttle = LoginThrottle(per_user=5, per_address=20, window_seconds=60, storage_url=redis_url)
    address = f"192.0.2.{secrets.randbelow(250) + 1}-{secrets.token_hex(4)}"
    start = threading.Barrier(30)

    def attempt(_: int) -> bool:
        start.wait()
        try:
            throttle.begin(username="viewer", address=address)
        except Throttled:
            return False
        return True

    with ThreadPoolExecutor(30) as pool:
        admitted = sum(pool.map(attempt, range(30)))
    assert admitted == 5
    with pytest.raises(Throttled) as refused:
        throttle.begin(username="viewer", address=address)
    assert 1 <= refused.value.retry_after <= 60
    # Elsewhere, the same user is not locked out; a success gives its count back.
    for _ in range(8):
        throttle.succeeded(throttle.begin(username="viewer", address=f"{address}-home"))


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_each_further_lockout_lasts_twice_as_long(
    storage: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url") if storage == "redis" else "memory://"
    throttle = LoginThrottle(per_user=2, per_address=100, window_seconds=1, storage_url=url)
    address = f"lockouts-{secrets.token_hex(6)}"
    waits = []
    for _ in range(3):
        for _ in range(2):
            throttle.begin(username="viewer", address=address)
        with pytest.raises(Throttled) as refused:
            throttle.begin(username="viewer", address=address)
        waits.append(refused.value.retry_after)
        time.sleep(waits[-1] + 0.2)
    assert waits == [1, 2, 4]


def test_an_ipv6_client_counts_by_its_64_block() -> None:
    """A fresh address of the same /64 for each guess spends the same budget."""
    throttle = LoginThrottle(per_user=100, per_address=3, window_seconds=60)
    for host in range(1, 4):
        throttle.begin(username=f"user{host}", address=f"2001:db8:0:7::{host:x}")
    with pytest.raises(Throttled):
        throttle.begin(username="user9", address="2001:db8:0:7:ffff:ffff:ffff:ffff")
    # Another /64 has a budget of its own; an IPv4-mapped client counts as its IPv4.
    throttle.begin(username="user1", address="2001:db8:0:8::1")
    for _ in range(3):
        throttle.begin(username="user1", address="::ffff:192.0.2.7")
    with pytest.raises(Throttled):
        throttle.begin(username="user1", address="192.0.2.7")
