"""Limiter backends on real servers: SQLite files, MariaDB databases, Redis key prefixes.

- `limiter_backend`: parametrized over `sql-sqlite`, `sql-mariadb`, `redis`; a
  `LimiterBackend` whose `make(clock)` builds a limiter on a clean slate (a fresh
  SQLite file, a fresh MariaDB database, a random Redis prefix removed after).
(`redis_url` comes from tests/conftest.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import Engine

from smsfleet.core.clock import Clock
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.dispatch._redis_limiter import RedisLimiter
from smsfleet.dispatch._sql_limiter import SqlLimiter
from smsfleet.dispatch.limiter import Limiter
from tests.support.backends import random_name, sqlite_url_for

LIMITER_BACKENDS = ("sql-sqlite", "sql-mariadb", "redis")


@dataclass
class LimiterBackend:
    """Where a test's limiters keep their state; `make` builds one more on it."""

    name: str
    url: str
    redis_prefix: str = ""
    _engines: list[Engine] = field(default_factory=list)
    _limiters: list[Limiter] = field(default_factory=list)

    def make(self, clock: Clock) -> Limiter:
        limiter: Limiter
        if self.name == "redis":
            limiter = RedisLimiter.from_url(self.url, clock=clock, prefix=self.redis_prefix)
        else:
            engine = create_sql_engine(self.url)
            self._engines.append(engine)
            limiter = SqlLimiter(engine, clock=clock)
        self._limiters.append(limiter)
        return limiter

    def close(self) -> None:
        for limiter in self._limiters:
            limiter.close()
        for engine in self._engines:
            engine.dispose()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A random key prefix; every key under it is deleted after the test."""
    prefix = random_name("smsfleet_test:")
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def migrated_sql_url(url: str) -> str:
    engine = create_sql_engine(url)
    try:
        upgrade_metrics_schema(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=LIMITER_BACKENDS)
def limiter_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LimiterBackend]:
    if request.param == "redis":
        prefix: str = request.getfixturevalue("redis_prefix")
        backend = LimiterBackend("redis", request.getfixturevalue("redis_url"), prefix)
    elif request.param == "sql-mariadb":
        url = migrated_sql_url(request.getfixturevalue("empty_mariadb_url"))
        backend = LimiterBackend(request.param, url)
    else:
        url = migrated_sql_url(sqlite_url_for(tmp_path / "metrics.sqlite3"))
        backend = LimiterBackend(request.param, url)
    try:
        yield backend
    finally:
        backend.close()
