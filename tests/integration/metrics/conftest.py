"""A metrics feature on real stores: SQLite files and one MariaDB database.

- `metrics_url`: parametrized `sqlite` / `mariadb`; a migrated metrics store with no
  attempts and no rollups (the MariaDB database is shared by the session, emptied
  before each test).
- `fleet`: `Metrics` built on it with a fake clock, a SQLite config store holding the
  pairs and programs of `PAIRS`, and the attempt summaries it published.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import attempts_table
from smsfleet.core.settings import Settings
from smsfleet.core.sql import create_sql_engine, open_metrics_engine, upgrade_metrics_schema
from smsfleet.metrics.models import AttemptSummary
from smsfleet.metrics.runtime import Metrics, build_metrics
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
    sms_metrics_table,
)
from smsfleet.pairs.models import Country, Pair
from smsfleet.programs.models import Program
from smsfleet.stores import ConfigStore, open_config_store
from tests.support.backends import BackendUnavailable, mariadb_database, sqlite_url_for
from tests.support.fakes import FakeClock

# pair key → programs assigned to it
PAIRS: dict[str, tuple[str, ...]] = {
    "UZ_uzmobile": ("program1", "program2"),
    "UZ_beeline": ("program1",),
    "TJ_megafon": ("program2",),
}
PROGRAMS = ("program1", "program2")
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
    metrics_state_table,
    sms_metrics_table,
)


@pytest.fixture(scope="session")
def metrics_mariadb_url() -> Iterator[str]:
    try:
        with mariadb_database() as url:
            engine = create_sql_engine(url)
            try:
                upgrade_metrics_schema(engine)
            finally:
                engine.dispose()
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


@dataclass
class Fleet:
    metrics: Metrics
    clock: FakeClock
    config: ConfigStore
    published: list[AttemptSummary] = field(default_factory=list)
    counter: int = 0

    def attempt(
        self,
        pair: str,
        program: str,
        outcome: Outcome,
        at: datetime,
        *,
        latency_ms: int | None = None,
        error_code: str | None = None,
    ) -> Attempt:
        self.counter += 1
        country, slug = pair.split("_", 1)
        return Attempt(
            id=f"{self.counter:032x}",
            session=f"{program}_{pair}",
            pair=pair,
            country=country,
            operator=slug,
            program=program,
            phone="+998901234567",
            leased_at=at - timedelta(seconds=30),
            sent_at=at - timedelta(seconds=20),
            completed_at=at,
            outcome=outcome,
            latency_ms=latency_ms,
            error_code=error_code,
        )

    def random_attempts(self, count: int, *, start: datetime, span: timedelta) -> list[Attempt]:
        """`count` attempts spread over [start, start + span), reproducible."""
        rng = random.Random(20260105)
        routes = [(pair, program) for pair, programs in PAIRS.items() for program in programs]
        result = []
        for _ in range(count):
            pair, program = rng.choice(routes)
            outcome = rng.choice(
                [Outcome.delivered] * 5
                + [Outcome.not_delivered, Outcome.send_failed, Outcome.error]
            )
            at = start + timedelta(
                milliseconds=rng.randrange(int(span / timedelta(milliseconds=1)))
            )
            latency = rng.randrange(100, 400_000) if outcome is Outcome.delivered else None
            code = rng.choice(["E_TIMEOUT", "E_GATEWAY"]) if outcome is Outcome.error else None
            result.append(
                self.attempt(pair, program, outcome, at, latency_ms=latency, error_code=code)
            )
        return result


def add_pairs(store: ConfigStore, now: datetime) -> None:
    for code, name in (("UZ", "Uzbekistan"), ("TJ", "Tajikistan")):
        store.countries.add(Country(code=code, name=name, cap=10))
    for name in PROGRAMS:
        store.programs.add(Program(name=name, command=["true"], created_at=now, updated_at=now))
    for key, programs in PAIRS.items():
        country, slug = key.split("_", 1)
        store.pairs.add(
            Pair(
                key=key,
                country=country,
                operator=slug,
                slug=slug,
                programs=list(programs),
                phone_numbers=["+998901234567"],
                created_at=now,
                updated_at=now,
            )
        )


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
