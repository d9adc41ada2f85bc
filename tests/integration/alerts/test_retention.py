"""Resolved alerts past the retention deleted in batches, on SQLite and MariaDB, with their
messages sent: a firing alert kept however old, a message still to send kept. People's own
messages (no alert of theirs), and those whose alert went before they were sent, go by when
they were queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.alerts.models import Alert, AlertQuery, NotificationKind
from smsfleet.alerts.store import AlertStore, NewNotification, alert_outbox_table
from smsfleet.core.retention import build_retention
from tests.support.fakes import FakeClock
from tests.support.retention import batches

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=365)


def alert(number: int, *, started: int, resolved: int | None) -> Alert:
    """Alert `number`, started and (unless None: firing) resolved that many days ago."""
    resolved_at = None if resolved is None else NOW - timedelta(days=resolved)
    return Alert.model_validate(
        {
            "id": f"{number:032x}",
            "fingerprint": f"session_crashed:p{number}",
            "rule": "session_crashed",
            "severity": "warning",
            "state": "firing" if resolved is None else "resolved",
            "subject_kind": "session",
            "subject": f"p{number}",
            "country": None,
            "summary": "crashed",
            "started_at": NOW - timedelta(days=started),
            "last_seen_at": resolved_at or NOW,
            "resolved_at": resolved_at,
        }
    )


def notice(alert: Alert) -> NewNotification:
    return NewNotification(
        chat_id="all", kind=NotificationKind.resolved, alert_id=alert.id, text="resolved"
    )


def kept(store: AlertStore) -> set[int]:
    return {int(a.id, 16) for a in store.query(AlertQuery(limit=100))}


def add_alerts(store: AlertStore) -> None:
    """Alerts 0-2 resolved over a year ago; 3 firing for two years; 4 resolved lately,
    started over a year ago."""
    alerts = [
        alert(0, started=403, resolved=402),
        alert(1, started=402, resolved=401),
        alert(2, started=401, resolved=400),
        alert(3, started=730, resolved=None),
        alert(4, started=500, resolved=10),
    ]
    store.save(alerts, [], now=NOW)


def test_alerts_resolved_past_the_retention_go_firing_ones_stay(metrics_engine: Engine) -> None:
    store = AlertStore(metrics_engine)
    add_alerts(store)
    retention = build_retention("alerts", store.forget_before, days=365, clock=FakeClock(NOW))
    assert retention.job.run_once() == 3
    assert kept(store) == {3, 4}
    assert store.counts().firing == 1


def test_alerts_go_oldest_resolved_first_a_batch_at_a_time(metrics_engine: Engine) -> None:
    store = AlertStore(metrics_engine)
    add_alerts(store)
    assert batches(store.forget_before, CUTOFF, limit=2, kept=lambda: kept(store)) == [
        (2, {2, 3, 4}),
        (1, {3, 4}),
        (0, {3, 4}),
    ]


def test_an_alerts_messages_go_with_it_but_one_still_to_send(metrics_engine: Engine) -> None:
    store = AlertStore(metrics_engine)
    old, new = alert(0, started=401, resolved=400), alert(1, started=20, resolved=10)
    sent, failed, waiting, other = store.enqueue(
        [notice(old), notice(old), notice(old), notice(new)], now=NOW
    )
    store.save([old, new], [], now=NOW)
    store.mark_sent(sent, at=NOW)
    store.mark_failed(failed, at=NOW, error="refused")
    assert store.forget_before(CUTOFF, limit=10) == 1
    assert [n.id for n in store.notifications(old.id)] == [waiting]
    assert [n.id for n in store.notifications(new.id)] == [other]


def test_peoples_own_messages_go_once_sent_and_old(metrics_engine: Engine) -> None:
    store = AlertStore(metrics_engine)
    old = NOW - timedelta(days=400)

    def message(text: str) -> NewNotification:
        return NewNotification(
            chat_id="all", kind=NotificationKind.message, alert_id=None, text=text
        )

    sent, failed, waiting = store.enqueue([message(t) for t in "abc"], now=old)
    (recent,) = store.enqueue([message("d")], now=NOW - timedelta(days=10))
    firing = alert(0, started=401, resolved=None)
    (an_alerts,) = store.save([firing], [notice(firing)], now=old)
    for done in (sent, recent, an_alerts):
        store.mark_sent(done, at=old)
    store.mark_failed(failed, at=old, error="refused")
    retention = build_retention(
        "alerts", store.forget_before, store.forget_messages_before, days=365, clock=FakeClock(NOW)
    )
    assert retention.job.run_once() == 2
    with metrics_engine.connect() as connection:
        left = set(connection.execute(sa.select(alert_outbox_table.c.id)).scalars())
    # One still to send goes out; an alert's goes with its alert; a recent one stays.
    assert left == {waiting, recent, an_alerts}


def test_a_message_sent_after_its_alert_went_goes_too(metrics_engine: Engine) -> None:
    """A message still to send when its alert was removed is kept to go out; once sent, it
    goes with the next retention, and nothing of an alert still kept goes with it."""
    store = AlertStore(metrics_engine)
    old = NOW - timedelta(days=400)
    gone, firing = alert(0, started=401, resolved=400), alert(1, started=401, resolved=None)
    store.save([gone, firing], [], now=old)
    late, firings = store.enqueue([notice(gone), notice(firing)], now=old)
    assert store.forget_before(CUTOFF, limit=10) == 1
    assert store.forget_messages_before(CUTOFF, limit=10) == 0  # still to send
    store.mark_sent(late, at=NOW)
    store.mark_sent(firings, at=old)
    assert store.forget_messages_before(CUTOFF, limit=10) == 1
    with metrics_engine.connect() as connection:
        left = set(connection.execute(sa.select(alert_outbox_table.c.id)).scalars())
    assert left == {firings}
