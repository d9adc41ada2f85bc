"""Alerts on real stores: a migrated metrics store (SQLite file or MariaDB) and a config store.

- `metrics_engine`, `sqlite_metrics_engine`: from tests/support/metrics_stores.py.
- `alerting`: an `AlertService` over them on a fake clock, chats `all` (every
  alert) and `oncall` (critical only), with one pair `UZ_uzmobile`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from smsfleet.alerts.service import AlertConfig
from smsfleet.alerts.store import AlertStore
from smsfleet.pairs.models import PairCreate
from smsfleet.pairs.service import create_pair, ensure_countries
from smsfleet.stores import ConfigStore, open_config_store
from tests.support.alerting import ROUTES, Alerting
from tests.support.backends import sqlite_url_for
from tests.support.fakes import FakeClock, person
from tests.support.services import alert_service

ADMIN = person("alice")


@pytest.fixture
def config_store_sqlite(tmp_path: Path) -> Iterator[ConfigStore]:
    store = open_config_store(sqlite_url_for(tmp_path / "config.sqlite3"))
    ensure_countries(countries=store.countries, default_cap=10)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def alerting(metrics_engine: Engine, config_store_sqlite: ConfigStore) -> Alerting:
    clock = FakeClock()
    create_pair(
        pairs=config_store_sqlite.pairs,
        countries=config_store_sqlite.countries,
        programs=config_store_sqlite.programs,
        clock=clock,
        actor=ADMIN,
        audit=config_store_sqlite.audit,
        data=PairCreate(country="UZ", operator="uzmobile"),
    )
    store = AlertStore(metrics_engine)
    holder: list[Alerting] = []

    def woke() -> None:
        holder[0].wakes += 1

    service = alert_service(
        metrics_engine,
        config_store_sqlite,
        clock,
        store=store,
        config=AlertConfig(routes=ROUTES, repeat_interval=timedelta(hours=1)),
        on_change=lambda alert: holder[0].changed.append(alert),
        on_queued=woke,
    )
    holder.append(Alerting(service, store, config_store_sqlite, clock, metrics_engine))
    return holder[0]
