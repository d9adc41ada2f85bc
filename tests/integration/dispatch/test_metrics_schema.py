"""The metrics store's migrations build exactly the tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import smsfleet.dispatch.store  # noqa: F401  (registers the metrics tables)
from smsfleet.core.sql import create_sql_engine, metrics_metadata, upgrade_metrics_schema
from smsfleet.stores import open_config_store
from tests.support.backends import sqlite_url_for

VERSION_TABLE = "alembic_version_metrics"


@pytest.fixture(params=["sqlite", "mariadb"])
def empty_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url_for(tmp_path / "metrics.sqlite3")
    url: str = request.getfixturevalue("empty_mariadb_url")
    return url


def test_migrations_match_the_declared_tables(empty_sql_url: str) -> None:
    engine = create_sql_engine(empty_sql_url)
    try:
        upgrade_metrics_schema(engine)
        upgrade_metrics_schema(engine)  # a second run is a no-op
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, metrics_metadata) == []
            version = sa.table(VERSION_TABLE, sa.column("version_num"))
            assert connection.execute(sa.select(version.c.version_num)).scalars().all() == ["0001"]
    finally:
        engine.dispose()


def test_config_and_metrics_can_share_one_database(empty_sql_url: str) -> None:
    open_config_store(empty_sql_url).close()
    engine = create_sql_engine(empty_sql_url)
    try:
        upgrade_metrics_schema(engine)
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"alembic_version", VERSION_TABLE, "attempts", "pairs"} <= tables
