"""A metrics feature on real stores: SQLite files and one MariaDB database.

- `metrics_url`: parametrized `sqlite` / `mariadb`; a migrated metrics store with no
  attempts and no rollups (the MariaDB database is shared by the session, emptied
  before each test).
- `fleet`: `Metrics` built on it with a fake clock, a SQLite config store holding the
  pairs and programs of `PAIRS`, and the attempt summaries it published
  (`tests.support.metrics_fleet.Fleet`). It takes precedence here over the `fleet` of
  tests/support/sessions.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from smsfleet.attempts.store import attempts_table
from smsfleet.core.settings import Settings
from smsfleet.core.sql import open_metrics_engine
from smsfleet.metrics.models import AttemptSummary
from smsfleet.metrics.runtime import build_metrics
from smsfleet.metrics.tables import (
    metrics_hour_country_latency_table,
    metrics_hour_country_table,
    metrics_hour_errors_table,
    metrics_hour_latency_table,
    metrics_hour_table,
    metrics_minute_errors_table,
    metrics_minute_latency_table,
    metrics_minute_table,
    metrics_state_table,
    metrics_week_series_table,
    sms_metrics_table,
)
from smsfleet.stores import open_config_store
from tests.support.backends import BackendUnavailable, mariadb_database, sqlite_url_for
from tests.support.fakes import FakeClock
from tests.support.metrics_fleet import Fleet, add_pairs

TABLES = (
    attempts_table,
    metrics_minute_table,
    metrics_hour_table,
    metrics_hour_country_table,
    metrics_minute_errors_table,
    metrics_hour_errors_table,
    metrics_minute_latency_table,
    metrics_hour_latency_table,
    metrics_hour_country_latency_table,
    metrics_week_series_table,
    metrics_state_table,
    sms_metrics_table,
)


@pytest.fixture(scope="session")
def metrics_mariadb_url(metrics_schema_template_url: str) -> Iterator[str]:
    try:
        with mariadb_database(like=metrics_schema_template_url) as url:
            yield url
    except BackendUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(params=["sqlite", "mariadb"])
def metrics_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url_for(tmp_path / "metrics.sqlite3")
    url: str = request.getfixturevalue("metrics_mariadb_url")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            for table in TABLES:
                connection.execute(table.delete())
    finally:
        engine.dispose()
    return url


@pytest.fixture
def fleet(metrics_url: str, tmp_path: Path) -> Iterator[Fleet]:
    clock = FakeClock()
    config = open_config_store(sqlite_url_for(tmp_path / "config.sqlite3"))
    add_pairs(config, clock.now())
    settings = Settings(data_dir=tmp_path, metrics_url=metrics_url)
    published: list[AttemptSummary] = []
    engine = open_metrics_engine(metrics_url)
    metrics = build_metrics(
        settings=settings,
        engine=engine,
        config_store=config,
        clock=clock,
        on_attempt=published.append,
    )
    try:
        yield Fleet(metrics=metrics, clock=clock, config=config, published=published)
    finally:
        metrics.close()
        engine.dispose()
        config.close()
