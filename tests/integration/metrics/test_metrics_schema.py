"""The metrics store's migrations build exactly the tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import smsfleet.attempts.store
import smsfleet.dispatch.store
import smsfleet.metrics.tables
import smsfleet.policy.store  # noqa: F401  (each store registers its tables)
from smsfleet.core.sql import create_sql_engine, metrics_metadata, upgrade_metrics_schema
from tests.support.backends import sqlite_url_for


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
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"version_table": "alembic_version_metrics", "compare_type": True},
            )
            assert compare_metadata(context, metrics_metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
        assert {"metrics_minute", "metrics_hour", "sms_metrics", "metrics_state"} <= tables
    finally:
        engine.dispose()
