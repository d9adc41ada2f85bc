"""Real store backends for tests: a MariaDB database, a SecantusDB server, SQLite files.

The fixtures in `tests/conftest.py` are thin wrappers around these helpers, so any test
(or benchmark) can also use them directly as context managers.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from smsfleet.core.sql import config_metadata
from smsfleet.stores import backend_name

BACKENDS: Final = ("sqlite", "mariadb", "mongodb")

MARIADB_HOST: Final = os.environ.get("SMSFLEET_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT: Final = int(os.environ.get("SMSFLEET_TEST_MARIADB_PORT", "3306"))
MARIADB_USER: Final = os.environ.get("SMSFLEET_TEST_MARIADB_USER", "root")
MARIADB_START_HINT: Final = (
    "start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
)

SECANTUSD: Final = "secantusd-py"
MONGO_START_TIMEOUT: Final = 30.0


class BackendUnavailable(RuntimeError):
    """A backend the tests need cannot be reached or started; the message says why."""


def random_name(prefix: str = "smsfleet_test_") -> str:
    return f"{prefix}{secrets.token_hex(6)}"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sqlite_url_for(path: Path) -> str:
    return f"sqlite:///{path}"


# --- MariaDB -------------------------------------------------------------------------


@contextmanager
def _mariadb_admin() -> Iterator[sa.Connection]:
    """An autocommit connection to the server itself (no database selected)."""
    server = f"mysql+pymysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/?charset=utf8mb4"
    engine = sa.create_engine(
        server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    try:
        try:
            connection = engine.connect()
        except sa.exc.OperationalError as exc:
            raise BackendUnavailable(
                f"MariaDB is not reachable at {MARIADB_HOST}:{MARIADB_PORT} as "
                f"{MARIADB_USER!r} without password ({exc.orig}); {MARIADB_START_HINT}"
            ) from exc
        with connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def mariadb_database(*, like: str | None = None) -> Iterator[str]:
    """Create a database `smsfleet_test_<random>`, yield its URL, drop it after.

    Empty, or with `like` (another such URL) a copy of that database's tables, as they
    are defined and with their rows: a schema migrated once serves many tests this way,
    in a sixth of the time its migrations take.
    """
    name = random_name()
    with _mariadb_admin() as admin:
        admin.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        if like is not None:
            _copy_tables(admin, source=sa.make_url(like).database, target=name)
    try:
        yield (
            f"mysql+pymysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{name}?charset=utf8mb4"
        )
    finally:
        with _mariadb_admin() as admin:
            admin.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


def _copy_tables(admin: sa.Connection, *, source: str | None, target: str) -> None:
    tables = admin.execute(
        sa.text(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = :source AND table_type = 'BASE TABLE'"
        ),
        {"source": source},
    ).scalars()
    admin.exec_driver_sql(f"USE `{target}`")
    admin.exec_driver_sql("SET foreign_key_checks = 0")  # tables come in any order
    try:
        for table in list(tables):
            definition = admin.exec_driver_sql(f"SHOW CREATE TABLE `{source}`.`{table}`").one()[1]
            admin.exec_driver_sql(definition.replace("%", "%%"))
            # Names from the server's own catalogue and `random_name`, never from input.
            copy_rows = f"INSERT INTO `{table}` SELECT * FROM `{source}`.`{table}`"  # noqa: S608
            admin.exec_driver_sql(copy_rows)
    finally:
        admin.exec_driver_sql("SET foreign_key_checks = 1")


# --- MongoDB wire protocol (SecantusDB) ----------------------------------------------


def secantusd_executable() -> Path:
    """The `secantusd-py` console script installed next to the running interpreter."""
    path = Path(sys.executable).parent / SECANTUSD
    if not path.exists():
        raise BackendUnavailable(
            f"{SECANTUSD} not found at {path}: install the test dependencies "
            "(pip install -e '.[dev]', which brings the secantusdb package)"
        )
    return path


def _wait_for_ping(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BackendUnavailable(
                f"{SECANTUSD} exited with code {process.returncode} before answering ping; "
                f"its output:\n{log.read_text(errors='replace')}"
            )
        client: MongoClient[dict[str, Any]] = MongoClient(
            url, serverSelectionTimeoutMS=500, connectTimeoutMS=500
        )
        try:
            client.admin.command("ping")
            return
        except PyMongoError as exc:
            last_error = str(exc)
        finally:
            client.close()
        time.sleep(0.1)
    raise BackendUnavailable(
        f"{SECANTUSD} did not answer ping at {url} within {timeout:.0f} s "
        f"(last error: {last_error}); its output:\n{log.read_text(errors='replace')}"
    )


@contextmanager
def secantus_server(storage_dir: Path, *, timeout: float = MONGO_START_TIMEOUT) -> Iterator[str]:
    """Run a SecantusDB server on a free loopback port; yield `mongodb://127.0.0.1:<port>`."""
    executable = secantusd_executable()
    port = free_port()
    storage_dir.mkdir(parents=True, exist_ok=True)
    log = storage_dir.parent / f"{storage_dir.name}.log"
    url = f"mongodb://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(executable),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(storage_dir),
                "--log-level",
                "WARNING",
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_ping(url, process, log, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def mongo_client(url: str) -> Iterator[MongoClient[dict[str, Any]]]:
    """A client configured as the application's (timezone-aware), closed after."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        url, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    try:
        yield client
    finally:
        client.close()


# --- Clean slate between tests -------------------------------------------------------


def reset_config_store(url: str) -> None:
    """Remove every record of the config store at `url`, whatever its backend.

    SQL: the rows of every config table that exists (the schema and its Alembic
    version stay). MongoDB: the whole database, so indexes must be created again by
    whoever opens the store next.
    """
    if backend_name(url) == "mongodb":
        with mongo_client(url) as client:
            client.drop_database(client.get_default_database())
        return
    engine = sa.create_engine(url)
    try:
        existing = set(sa.inspect(engine).get_table_names())
        with engine.begin() as connection:
            for table in reversed(config_metadata.sorted_tables):
                if table.name in existing:
                    connection.execute(table.delete())
    finally:
        engine.dispose()
