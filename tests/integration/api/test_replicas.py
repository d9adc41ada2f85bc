"""Two control-plane replicas over one config store and one Redis: the live events one of
them publishes reach the browsers connected to the other, once."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.auth.models import Role
from smsfleet.core.events import EventBus, RedisFanout, Subscription
from smsfleet.core.settings import Settings
from smsfleet.sessions.models import EventKind, SessionEvent
from smsfleet.stores import open_config_store
from tests.support.api import PASSWORDS, add_users
from tests.support.backends import random_name
from tests.support.fakes import FakeClock
from tests.support.live import live_socket


def _event(session: str) -> SessionEvent:
    return SessionEvent(
        id=random_name(""),
        at=datetime.now(UTC),
        session=session,
        kind=EventKind.start_requested,
        actor="test",
    )


def _sessions(subscription: Subscription) -> list[str]:
    queue = subscription.queue
    return [queue.get_nowait()["data"]["session"] for _ in range(queue.qsize())]


def test_an_event_reaches_every_bus_exactly_once(redis_url: str) -> None:
    channel = random_name("smsfleet:test:events:")
    fanouts = [RedisFanout(redis.Redis.from_url(redis_url), channel=channel) for _ in range(2)]
    here, there = (EventBus(fanout) for fanout in fanouts)
    for fanout in fanouts:
        fanout.start()

    async def exchange() -> tuple[list[str], list[str]]:
        mine = here.subscribe(frozenset({"sessions"}))
        theirs = there.subscribe(frozenset({"sessions"}))
        await asyncio.sleep(0.3)  # both relays subscribed
        await asyncio.to_thread(here.publish, "sessions", _event("program1_UZ_a"))
        for _ in range(50):  # until it arrives there, and a while for any copy
            if not theirs.queue.empty():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        return _sessions(mine), _sessions(theirs)

    try:
        # A loop of its own, in a thread: another test's loop may be running in this one.
        with ThreadPoolExecutor(1) as pool:
            mine, theirs = pool.submit(lambda: asyncio.run(exchange())).result(timeout=30)
    finally:
        for fanout in fanouts:
            fanout.close()
    assert mine == ["program1_UZ_a"]
    assert theirs == ["program1_UZ_a"]


def test_a_burst_of_events_is_relayed_in_order_in_few_redis_messages(redis_url: str) -> None:
    channel = random_name("smsfleet:test:events:")
    fanouts = [RedisFanout(redis.Redis.from_url(redis_url), channel=channel) for _ in range(2)]
    here, there = (EventBus(fanout) for fanout in fanouts)
    listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(channel)
    for fanout in fanouts:
        fanout.start()
    sessions = [f"program1_UZ_{index}" for index in range(100)]

    async def exchange() -> list[str]:
        theirs = there.subscribe(frozenset({"sessions"}))
        await asyncio.sleep(0.3)  # both relays subscribed
        events = [_event(session) for session in sessions]

        def burst() -> None:
            for event in events:
                here.publish("sessions", event)

        await asyncio.to_thread(burst)
        for _ in range(50):
            if theirs.queue.qsize() >= len(sessions):
                break
            await asyncio.sleep(0.1)
        return _sessions(theirs)

    try:
        with ThreadPoolExecutor(1) as pool:
            received = pool.submit(lambda: asyncio.run(exchange())).result(timeout=30)
        published = 0
        deadline = time.monotonic() + 1.0  # the subscription's confirmation reads as None
        while time.monotonic() < deadline:
            published += listener.get_message(timeout=0.1) is not None
    finally:
        listener.close()
        for fanout in fanouts:
            fanout.close()
    assert received == sessions
    assert 1 <= published <= len(sessions) // 2


@pytest.fixture
def replicas(tmp_path: Path, redis_url: str) -> Iterator[list[TestClient]]:
    config_url = f"sqlite:///{tmp_path / 'config.db'}"
    clock = FakeClock()
    with ExitStack() as stack:
        clients = []
        for index in range(2):
            settings = Settings(
                data_dir=tmp_path / f"replica{index}",
                config_url=config_url,
                metrics_url=f"sqlite:///{tmp_path / 'metrics.db'}",
                redis_url=redis_url,
                secret_key="s" * 48,
                web_dir=tmp_path / "no-web",
                supervise=False,
            )
            store = open_config_store(settings.resolved_config_url)
            stack.callback(store.close)
            if index == 0:
                add_users(store, clock)
            clients.append(stack.enter_context(TestClient(create_app(settings, store=store))))
        yield clients


@pytest.mark.timeout(30)  # without the relay, the socket would wait for ever
def test_a_browser_on_one_replica_sees_what_the_other_does(
    replicas: list[TestClient],
) -> None:
    first, second = replicas
    login = {"username": Role.operator.value, "password": PASSWORDS[Role.operator]}
    token = second.post("/api/v1/auth/login", json=login).json()["access_token"]
    # A token from one replica is good on the other: they share the signing key.
    headers = {"Authorization": f"Bearer {token}"}
    admin = {"username": Role.admin.value, "password": PASSWORDS[Role.admin]}
    admin_token = first.post("/api/v1/auth/login", json=admin).json()["access_token"]
    program = {"name": "ticker", "command": [sys.executable, "programs/program1.py"]}
    created = first.post(
        "/api/v1/programs", json=program, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert created.status_code == 201, created.text
    pair = {"country": "UZ", "operator": "uzmobile", "slug": "uzmobile", "programs": ["ticker"]}
    assert first.post("/api/v1/pairs", json=pair, headers=headers).status_code == 201
    with live_socket(second, token) as socket:
        started = first.post("/api/v1/sessions/ticker_UZ_uzmobile/start", headers=headers)
        assert started.status_code == 200, started.text
        message = socket.receive_json()
        while message["topic"] != "sessions":
            message = socket.receive_json()
    assert message["data"]["session"] == "ticker_UZ_uzmobile"
    assert message["data"]["kind"] == "start_requested"
