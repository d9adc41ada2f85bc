"""Fixtures shared by every test suite: real store backends.

- `sqlite_url`: a SQLite file in the test's tmp_path.
- `mariadb_url`: a fresh database on the local MariaDB server (session), dropped after.
- `empty_mariadb_url`: a database of the test's own, with no table, dropped after.
- `migrated_mariadb_url`: the same with the metrics schema at its head, a copy of
  `metrics_schema_template_url` (migrated once per test process, never written to).
- `metrics_through_proxy`: such a database's URL through a proxy the test can cut,
  and the proxy.
- `mongo_url`: a SecantusDB server on a free port (session), a random database name.
- `config_store_url`: parametrized over the three backends (ids `sqlite`, `mariadb`,
  `mongodb`); the store at that URL holds no record when the test starts.
- `config_store`: `open_config_store(config_store_url)`, closed after the test.
- `redis_url`: the Redis server the tests use (`SMSFLEET_TEST_REDIS_URL`); an
  unreachable one fails the test with how to start it.

Fixtures more than one directory uses live in `tests/support` modules registered here
(`pytest_plugins`, which pytest reads from this conftest only): `api`
(tests.support.api), `metrics_engine` and `sqlite_metrics_engine`
(tests.support.metrics_stores), `fleet` (tests.support.sessions). A directory's own
fixtures stay in its conftest; no test module imports from a conftest.

Hypothesis runs under the profile `SMSFLEET_HYPOTHESIS_PROFILE` names (`tests.support.
fuzzing`): derandomized by default, randomized under `fuzz` (`make fuzz`), which runs
the tests marked `fuzz`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.stores import ConfigStore, open_config_store
from tests.support.backends import (
    BACKENDS,
    MARIADB_HOST,
    MARIADB_PORT,
    BackendUnavailable,
    mariadb_database,
    random_name,
    reset_config_store,
    secantus_server,
    sqlite_url_for,
)
from tests.support.chaos import CuttableProxy
from tests.support.fuzzing import load_profile

pytest_plugins = [
    "tests.support.api",
    "tests.support.metrics_stores",
    "tests.support.sessions",
]

REDIS_URL = os.environ.get("SMSFLEET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


load_profile()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fuzz: fuzz and property tests (hypothesis), what `make fuzz` runs"
    )


# The files that take longest (`pytest --durations 0`, summed per file: 30 s to 150 s
# each), handed out first: a worker that draws one of them last finishes long after the
# others (`make test` runs with --no-loadscope-reorder, which would put files of many
# quick tests first). A file missing here only runs in its collected place.
SLOW_FILES_FIRST = (
    "tests/integration/dispatch/test_worker_api.py",
    "tests/integration/messages/test_routes.py",
    "tests/e2e/test_pair_states.py",
    "tests/integration/messages/test_sends.py",
    "tests/integration/alerts/test_success_rules.py",
    "tests/integration/worker/test_pause_drain.py",
    "tests/integration/policy/test_scenario.py",
    "tests/integration/chaos/test_chaos.py",
    "tests/integration/api/test_fuzz.py",
    "tests/integration/test_demo.py",
    "tests/security/test_plain_text.py",
    "tests/e2e/test_programs_page.py",
    "tests/security/test_at_rest.py",
    "tests/integration/dispatch/test_control_plane_crash.py",
    "tests/e2e/test_layout.py",
    "tests/integration/stores/test_config_store_contract.py",
    "tests/security/test_logins.py",
    "tests/e2e/test_pairs_page.py",
    "tests/e2e/test_tablet_items.py",
    "tests/e2e/test_developer_page.py",
    "tests/integration/metrics/test_long_trends.py",
    "tests/integration/alerts/test_engine.py",
    "tests/integration/api/test_sessions_api.py",
    "tests/integration/api/test_pairs.py",
    "tests/integration/metrics/test_metrics_api.py",
    "tests/e2e/test_session_logs.py",
    "tests/e2e/test_dashboard_page.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow files first, each file's tests kept together and in their order."""
    rank = {path: n for n, path in enumerate(SLOW_FILES_FIRST)}
    last = len(rank)
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], last))


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}); start it with: "
            "redis-server --daemonize yes",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the tests' Redis, closed after the test."""
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def attempts_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A Redis attempts ledger's key prefix of the test's own, its keys removed after."""
    prefix = random_name("smsfleet_test:{attempts-") + "}"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}:*"))
    if keys:
        redis_client.delete(*keys)


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
def metrics_through_proxy() -> Iterator[tuple[str, CuttableProxy]]:
    """A scratch MariaDB database, reached only through a proxy the test can cut."""
    with _required(), mariadb_database() as url, CuttableProxy(MARIADB_HOST, MARIADB_PORT) as proxy:
        yield url.replace(f":{MARIADB_PORT}/", f":{proxy.port}/"), proxy


@pytest.fixture(scope="session")
def metrics_schema_template_url() -> Iterator[str]:
    """The metrics schema, migrated once per test process, that tests get copies of
    (`mariadb_database(like=…)`); nothing writes to it."""
    with _required(), mariadb_database() as url:
        engine = create_sql_engine(url)
        try:
            upgrade_metrics_schema(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def migrated_mariadb_url(metrics_schema_template_url: str) -> Iterator[str]:
    """A database of the test's own with the metrics schema at its head."""
    with _required(), mariadb_database(like=metrics_schema_template_url) as url:
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
