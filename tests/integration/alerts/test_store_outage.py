"""A session that crashes while the metrics store (which holds the alerts) is cut off:
the alert is kept and raised, with its Telegram message, as soon as the store is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from smsfleet.alerts.models import AlertQuery, AlertRule, AlertState
from smsfleet.alerts.service import AlertConfig
from smsfleet.alerts.store import AlertStore
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.sessions.models import EventKind, SessionSpec, SessionState
from smsfleet.stores import ConfigStore
from tests.integration.alerts.test_engine import START, _event
from tests.support.alerting import ROUTES
from tests.support.chaos import CuttableProxy
from tests.support.fakes import FakeClock
from tests.support.services import alert_service


@pytest.fixture
def cut_engine(metrics_through_proxy: tuple[str, CuttableProxy]) -> Iterator[Engine]:
    url, _proxy = metrics_through_proxy
    engine = create_sql_engine(url)
    upgrade_metrics_schema(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_crash_during_a_store_outage_is_alerted_when_it_returns(
    cut_engine: Engine,
    metrics_through_proxy: tuple[str, CuttableProxy],
    config_store_sqlite: ConfigStore,
) -> None:
    _url, proxy = metrics_through_proxy
    config_store_sqlite.session_specs.add(
        SessionSpec(name="p1_UZ_uzmobile", program="p1", pair="UZ_uzmobile", created_at=START)
    )
    store = AlertStore(cut_engine)
    service = alert_service(
        cut_engine,
        config_store_sqlite,
        FakeClock(),
        store=store,
        config=AlertConfig(routes=ROUTES, repeat_interval=timedelta(hours=1)),
    )
    proxy.cut()
    # The supervisor's listener never raises, and nothing is lost meanwhile.
    service.on_session_event(_event(EventKind.exited, SessionState.running))
    with pytest.raises(Exception):  # noqa: B017, PT011  (the driver's own error)
        service.evaluate()
    proxy.restore()
    service.evaluate()
    (crash,) = service.find(AlertQuery(rule=AlertRule.session_crashed))
    assert crash.state is AlertState.firing
    assert crash.subject == "p1_UZ_uzmobile"
    texts = [n.text for n in store.pending(limit=100) if n.chat_id == "all"]
    assert len(texts) == 1 and "p1_UZ_uzmobile exited with code 1" in texts[0]
    # Applied once: a later pass changes nothing more.
    assert service.apply_deferred() == []
