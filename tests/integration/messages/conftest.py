"""On-demand sends on real stores and the real gateway simulator over loopback.

- `world`: a config store (SQLite) with pair `UZ_uzmobile` run by four programs, in
  order `pbad` (provider `broken`: every send fails), `pgood` and `palso` (provider
  `good`: every SMS delivered) and `pworse` (`broken`), their sessions wanted
  running, the real dispatcher (SQL limiter) and `Sends` and `Inbound` on the metrics
  store (SQLite or MariaDB), and the simulator serving both providers.
  `world.ask(program)` does what a program does: lease, send through its provider,
  wait for the gateway, report.
- `redis_world`: the same on the Redis profile (SQLite metrics store); `world.settle()`
  drains its attempts' ledger to SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.engine import Engine

from smsfleet.attempts import RedisLedger
from smsfleet.attempts.ledger import Ledger
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.settings import Settings
from smsfleet.dispatch._redis_admission import RedisAdmission
from smsfleet.dispatch._redis_limiter import RedisLimiter
from smsfleet.dispatch._sql_limiter import SqlLimiter
from smsfleet.dispatch.admission import Admission, SqlAdmission
from smsfleet.dispatch.limiter import Limiter
from smsfleet.dispatch.service import Dispatcher, DispatchPolicy
from smsfleet.dispatch.store import HeartbeatStore
from smsfleet.messages.inbound import Inbound
from smsfleet.messages.sends import Sends
from smsfleet.messages.store import MessageStore
from smsfleet.pairs.models import PairCreate
from smsfleet.pairs.service import create_pair, ensure_countries
from smsfleet.sessions.models import DesiredState, SessionSpec
from smsfleet.simulator import create_simulator_app, load_config
from smsfleet.stores import open_config_store
from tests.support.backends import random_name, sqlite_url_for
from tests.support.fakes import FakeClock, person
from tests.support.messages import PROGRAMS, TEST_NUMBER, World
from tests.support.programs import store_program
from tests.support.servers import ThreadedServer

SIMULATOR_CONFIG = f"""
[simulator]
code_length = 6

[defaults]
delivery_probability = 1.0
send_error_rate = 0.0
give_up_after_seconds = 1.0

[defaults.latency]
distribution = "uniform"
min_seconds = 0.02
max_seconds = 0.05

[routes.UZ_uzmobile]
phones = ["{TEST_NUMBER}"]

[providers.good]
delivery_probability = 1.0

[providers.broken]
send_error_rate = 1.0
"""
ADMIN = person("alice")


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[httpx.Client]:
    config = tmp_path / "simulator.toml"
    config.write_text(SIMULATOR_CONFIG)
    server = ThreadedServer(create_simulator_app(load_config(config)))
    server.start()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client
    server.stop()


@pytest.fixture
def world(tmp_path: Path, metrics_engine: Engine, simulator: httpx.Client) -> Iterator[World]:
    yield from _world(tmp_path, metrics_engine, simulator)


@pytest.fixture
def redis_world(
    tmp_path: Path, sqlite_metrics_engine: Engine, simulator: httpx.Client, redis_url: str
) -> Iterator[World]:
    """The world on the Redis profile: its limiter and attempts' ledger in Redis (the
    ledger drained to SQL by `World.settle`)."""
    prefix = random_name("smsfleet_test:")
    client = redis.Redis.from_url(redis_url)
    try:
        yield from _world(tmp_path, sqlite_metrics_engine, simulator, on_redis=(client, prefix))
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def _world(
    tmp_path: Path,
    metrics_engine: Engine,
    simulator: httpx.Client,
    *,
    on_redis: tuple[redis.Redis, str] | None = None,
) -> Iterator[World]:
    clock = FakeClock()
    store = open_config_store(sqlite_url_for(tmp_path / "config.sqlite3"))
    ensure_countries(countries=store.countries, default_cap=10)
    for name, provider in PROGRAMS.items():
        store_program(store.programs, clock, name, ["true"], provider)
    create_pair(
        pairs=store.pairs,
        countries=store.countries,
        programs=store.programs,
        clock=clock,
        actor=ADMIN,
        audit=store.audit,
        data=PairCreate(
            country="UZ",
            operator="UzMobile",
            slug="uzmobile",
            phone_numbers=[TEST_NUMBER],
            programs=list(PROGRAMS),
        ),
    )
    for name in PROGRAMS:
        store.session_specs.add(
            SessionSpec(
                name=f"{name}_UZ_uzmobile",
                program=name,
                pair="UZ_uzmobile",
                desired=DesiredState.running,
                created_at=clock.now(),
            )
        )
    attempts = AttemptStore(metrics_engine)
    sql_limiter = SqlLimiter(metrics_engine, clock=clock)
    limiter: Limiter = sql_limiter
    ledger: Ledger = attempts
    admission: Admission = SqlAdmission(store=attempts, limiter=sql_limiter)
    if on_redis is not None:
        client, prefix = on_redis
        redis_limiter = RedisLimiter(client, clock=clock, prefix=f"{prefix}:dispatch")
        redis_ledger = RedisLedger(client, store=attempts, prefix=f"{prefix}:{{attempts}}")
        admission = RedisAdmission(limiter=redis_limiter, ledger=redis_ledger, clock=clock)
        limiter, ledger = redis_limiter, redis_ledger
    dispatcher = Dispatcher(
        config_store=store,
        attempts=attempts,
        ledger=ledger,
        heartbeats=HeartbeatStore(metrics_engine),
        limiter=limiter,
        admission=admission,
        clock=clock,
        worker_secret="-" * 32,
        policy=DispatchPolicy(),
    )
    inbound = Inbound(
        store=MessageStore(metrics_engine),
        attempts=AttemptStore(metrics_engine),
        clock=clock,
        seed_messages_per_hour=Settings.model_fields["seed_messages_per_hour"].default,
    )
    sends = Sends(
        store=MessageStore(metrics_engine),
        attempts=AttemptStore(metrics_engine),
        config_store=store,
        clock=clock,
        record_sent=inbound.record_sent,
    )
    dispatcher.on_demand = sends
    sends.use_ledger(ledger)
    yield World(store, dispatcher, sends, inbound, clock, simulator)
    dispatcher.close()
    store.close()
