"""Each kind's retention job as the control plane runs it: its own setting, its own store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from smsfleet.alerts.store import AlertStore
from smsfleet.core.sql import create_sql_engine
from smsfleet.messages.models import SendStatus
from smsfleet.messages.store import MessageStore
from smsfleet.policy.store import PolicyStore
from tests.integration.alerts.test_retention import alert
from tests.integration.alerts.test_retention import kept as alerts_kept
from tests.integration.messages.test_retention import (
    add_messages,
    add_sends,
    message,
    messages_kept,
    send,
    sends_kept,
)
from tests.integration.policy.test_retention import add_history
from tests.integration.policy.test_retention import kept as decisions_kept
from tests.integration.sessions.test_retention import add_events
from tests.integration.sessions.test_retention import kept as events_kept
from tests.support.api import Api, running_api

# A year would keep what is 100 days old: each kind's setting is what deletes it.
DAYS = {
    "alert_retention_days": 90,
    "session_event_retention_days": 90,
    "policy_decision_retention_days": 90,
    "message_retention_days": 90,
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path, **DAYS) as running:
        yield running


@pytest.fixture
def metrics(api: Api) -> Iterator[Engine]:
    engine = create_sql_engine(api.settings.resolved_metrics_url)
    try:
        yield engine
    finally:
        engine.dispose()


def run(api: Api, kind: str) -> None:
    api.services.retention[kind].job.run_once()


def test_resolved_alerts_go_after_their_setting(api: Api, metrics: Engine) -> None:
    store = AlertStore(metrics)
    store.save(
        [alert(0, started=101, resolved=100), alert(1, started=200, resolved=None)],
        [],
        now=api.clock.now(),
    )
    run(api, "alerts")
    assert alerts_kept(store) == {1}


def test_session_events_go_after_their_setting(api: Api) -> None:
    ids = add_events(api.store, [100, 10])
    run(api, "session_events")
    assert events_kept(api.store) == {ids[1]}


def test_policy_decisions_go_after_their_setting(api: Api, metrics: Engine) -> None:
    store = PolicyStore(metrics)
    add_history(store)
    run(api, "policy_decisions")
    assert decisions_kept(store) == {1, 4, 6, 7}


def test_sms_and_sends_go_after_their_setting(api: Api, metrics: Engine) -> None:
    store = MessageStore(metrics)
    add_sends(store)
    add_messages(store)
    store.add_send(send(5, SendStatus.DONE, created=100, completed=100))
    store.add_message(message(5, recorded=100))
    run(api, "messages")
    assert sends_kept(store) == {3, 4}
    assert messages_kept(store) == {3, 4}


def test_every_kind_has_its_job_on_the_leader(api: Api) -> None:
    jobs = {kind: job.job.name for kind, job in api.services.retention.items()}
    assert jobs == {
        "audit": "audit-retention",
        "alerts": "alerts-retention",
        "session_events": "session_events-retention",
        "policy_decisions": "policy_decisions-retention",
        "messages": "messages-retention",
    }
