"""A migrated metrics store (SQLite file or MariaDB database), for every suite (a plugin of
tests/conftest.py).

- `metrics_engine`: parametrized over `sqlite` and `mariadb`, migrated to head.
- `sqlite_metrics_engine`: the same on SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from smsfleet.core.sql import METRICS_MIGRATIONS_DIR, create_sql_engine, upgrade_metrics_schema
from tests.support.backends import sqlite_url_for
from tests.support.sqlite_schemas import migrated_copy


def migrate_metrics(engine: Engine, revision: str, *, down: bool = False) -> None:
    """What `upgrade_metrics_schema` does, up (or down) to `revision` only: the
    migrations' own tests start from the schema before theirs."""
    cfg = Config()
    cfg.set_main_option("script_location", str(METRICS_MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _engine(url: str, *, migrate: bool) -> Iterator[Engine]:
    engine = create_sql_engine(url)
    try:
        if migrate:
            upgrade_metrics_schema(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "mariadb"])
def metrics_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "mariadb":  # a copy of a database migrated once per test process
        yield from _engine(request.getfixturevalue("migrated_mariadb_url"), migrate=False)
    else:
        yield from _sqlite_engine(tmp_path)


@pytest.fixture
def sqlite_metrics_engine(tmp_path: Path) -> Iterator[Engine]:
    yield from _sqlite_engine(tmp_path)


def _sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    path = migrated_copy("metrics", tmp_path / "metrics.sqlite3")
    yield from _engine(sqlite_url_for(path), migrate=True)
