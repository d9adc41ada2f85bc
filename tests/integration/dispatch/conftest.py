"""Limiter backends on real servers: SQLite files, MariaDB databases, Redis key prefixes.

- `limiter_backend`: parametrized over `sql-sqlite`, `sql-mariadb`, `redis`; a
  `LimiterBackend` whose `make(clock)` builds a limiter on a clean slate (a fresh
  SQLite file, a fresh MariaDB database, a random Redis prefix removed after).
(`redis_url` comes from tests/conftest.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.backends import random_name, sqlite_url_for
from tests.support.limiters import LimiterBackend, migrated_sql_url

LIMITER_BACKENDS = ("sql-sqlite", "sql-mariadb", "redis")


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


@pytest.fixture(params=LIMITER_BACKENDS)
def limiter_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LimiterBackend]:
    if request.param == "redis":
        prefix: str = request.getfixturevalue("redis_prefix")
        backend = LimiterBackend("redis", request.getfixturevalue("redis_url"), prefix)
    elif request.param == "sql-mariadb":
        url = request.getfixturevalue("migrated_mariadb_url")
        backend = LimiterBackend(request.param, url)
    else:
        url = migrated_sql_url(sqlite_url_for(tmp_path / "metrics.sqlite3"))
        backend = LimiterBackend(request.param, url)
    try:
        yield backend
    finally:
        backend.close()
