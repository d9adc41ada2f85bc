"""SMS and settled sends past the retention deleted in batches, on SQLite and MariaDB: a
pending send, and its SMS, kept however old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from smsfleet.core.retention import build_retention
from smsfleet.messages.models import Direction, Message, Send, SendQuery, SendStatus
from smsfleet.messages.store import MessageStore
from tests.support.fakes import FakeClock
from tests.support.retention import batches

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=365)
PHONE = "+998901234567"


def send(number: int, status: SendStatus, *, created: int, completed: int | None) -> Send:
    """Send `number`, created and (unless None) settled that many days ago."""
    created_at = NOW - timedelta(days=created)
    completed_at = None if completed is None else NOW - timedelta(days=completed)
    return Send(
        id=f"{number:032x}",
        phone=PHONE,
        pair="UZ_uzmobile",
        country="UZ",
        template_id=None,
        params={},
        text="code 1234",
        sent_text="code 1234",
        status=status,
        programs=["pgood"],
        next_index=0 if status is SendStatus.PENDING else 1,
        tries=1,
        program="pgood",
        provider="good",
        attempt_id=f"attempt-{number}",
        leased_until=None,
        waiting_since=created_at,
        error=None,
        actor="alice",
        created_at=created_at,
        updated_at=completed_at or created_at,
        completed_at=completed_at,
    )


def message(number: int, *, recorded: int, attempt_id: str | None = None) -> Message:
    """SMS `number`, recorded that many days ago."""
    at = NOW - timedelta(days=recorded)
    return Message(
        uuid=f"00000000-0000-4000-8000-{number:012x}",
        direction=Direction.inbound,
        sender=PHONE,
        receiver="+998900000000",
        text=f"sms {number}",
        at=at,
        recorded_at=at,
        attempt_id=attempt_id,
    )


def add_sends(store: MessageStore) -> None:
    """Sends 0-2 settled over a year ago; 3 pending for two years; 4 settled lately."""
    for made in (
        send(0, SendStatus.DONE, created=402, completed=402),
        send(1, SendStatus.FAILED, created=401, completed=401),
        send(2, SendStatus.CANCELLED, created=400, completed=400),
        send(3, SendStatus.PENDING, created=730, completed=None),
        send(4, SendStatus.DONE, created=500, completed=10),
    ):
        store.add_send(made)


def add_messages(store: MessageStore) -> None:
    """SMS 0-2 over a year old; 3 as old, of the pending send 3's attempt; 4 lately."""
    for made in (
        message(0, recorded=402),
        message(1, recorded=401, attempt_id="attempt-1"),
        message(2, recorded=400),
        message(3, recorded=730, attempt_id="attempt-3"),
        message(4, recorded=10),
    ):
        store.add_message(made)


def sends_kept(store: MessageStore) -> set[int]:
    return {int(s.id, 16) for s in store.sends(SendQuery(limit=100))}


def messages_kept(store: MessageStore) -> set[int]:
    return {int(m.uuid[-12:], 16) for m in store.messages_of(PHONE)}


def test_old_sms_and_settled_sends_go_a_pending_send_and_its_sms_stay(
    metrics_engine: Engine,
) -> None:
    store = MessageStore(metrics_engine)
    add_sends(store)
    add_messages(store)
    retention = build_retention(
        "messages",
        store.forget_sends_before,
        store.forget_messages_before,
        days=365,
        clock=FakeClock(NOW),
    )
    assert retention.job.run_once() == 6
    assert sends_kept(store) == {3, 4}
    assert [s.id for s in store.pending()] == [f"{3:032x}"]
    assert messages_kept(store) == {3, 4}


def test_sends_go_oldest_settled_first_a_batch_at_a_time(metrics_engine: Engine) -> None:
    store = MessageStore(metrics_engine)
    add_sends(store)
    assert batches(store.forget_sends_before, CUTOFF, limit=2, kept=lambda: sends_kept(store)) == [
        (2, {2, 3, 4}),
        (1, {3, 4}),
        (0, {3, 4}),
    ]


def test_sms_go_oldest_recorded_first_a_batch_at_a_time(metrics_engine: Engine) -> None:
    store = MessageStore(metrics_engine)
    add_sends(store)
    add_messages(store)
    assert batches(
        store.forget_messages_before, CUTOFF, limit=2, kept=lambda: messages_kept(store)
    ) == [
        (2, {2, 3, 4}),
        (1, {3, 4}),
        (0, {3, 4}),
    ]
