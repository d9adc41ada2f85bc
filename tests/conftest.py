"""Fixtures shared by every test suite: real store backends.

- `sqlite_url`: a SQLite file in the test's tmp_path.
- `mariadb_url`: a fresh database on the local MariaDB server (session), dropped after.
- `empty_mariadb_url`: a database of the test's own, with no table, dropped after.
- `mongo_url`: a SecantusDB server on a free port (session), a random database name.
- `config_store_url`: parametrized over the three backends (ids `sqlite`, `mariadb`,
  `mongodb`); the store at that URL holds no record when the test starts.
- `config_store`: `open_config_store(config_store_url)`, closed after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from smsfleet.stores import ConfigStore, open_config_store
from tests.support.backends import (
    BACKENDS,
    BackendUnavailable,
    mariadb_database,
    random_name,
    reset_config_store,
    secantus_server,
    sqlite_url_for,
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_url_for(tmp_path / "config.sqlite3")


URL_FIXTURES = {"sqlite": "sqlite_url", "mariadb": "mariadb_url", "mongodb": "mongo_url"}


@contextmanager
def _required() -> Iterator[None]:
    """A backend that cannot be reached fails the test with the reason; never a skip."""
    try:
        yield
    except BackendUnavailable as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    with _required(), mariadb_database() as url:
        yield url


@pytest.fixture
def empty_mariadb_url() -> Iterator[str]:
    """A database of the test's own, with no table yet (for migration tests)."""
    with _required(), mariadb_database() as url:
        yield url


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    storage = tmp_path_factory.mktemp("secantusdb") / "data"
    with _required(), secantus_server(storage) as server:
        yield f"{server}/{random_name()}"


@pytest.fixture(params=BACKENDS)
def config_store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(URL_FIXTURES[request.param])
    reset_config_store(url)
    return url


@pytest.fixture
def config_store(config_store_url: str) -> Iterator[ConfigStore]:
    store = open_config_store(config_store_url)
    try:
        yield store
    finally:
        store.close()
