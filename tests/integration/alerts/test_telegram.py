"""The Telegram sender against the Bot API stand-in: order, retries, restarts, refusals."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pybreaker
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.alerts.models import NotificationKind
from smsfleet.alerts.store import AlertStore, NewNotification, alert_outbox_table
from smsfleet.alerts.telegram import OutboxSender, TelegramBot
from smsfleet.alerts.text import MESSAGE_LIMIT, SENT_AGAIN_NOTE, sent_again
from smsfleet.core.clock import SystemClock
from tests.support.telegram import TelegramStandIn
from tests.support.waiting import eventually

TOKEN = "123456:test-token"


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(token=TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def sender(store: AlertStore, telegram: TelegramStandIn, http: httpx.Client) -> OutboxSender:
    # A breaker that opens after 3 failures and tries again after half a second.
    breaker = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=0.5)
    bot = TelegramBot(api_url=telegram.url, token=TOKEN, client=http, breaker=breaker)
    return OutboxSender(
        store=store, bot=bot, clock=SystemClock(), backoff_initial=0.2, backoff_max=1.0
    )


def queue(store: AlertStore, texts: list[str], chat: str = "-100") -> None:
    store.enqueue(
        [NewNotification(chat, NotificationKind.firing, None, text) for text in texts],
        now=SystemClock().now(),
    )


def test_429_then_500s_every_alert_arrives_exactly_once_in_order(
    metrics_engine: Engine, telegram: TelegramStandIn, http: httpx.Client
) -> None:
    store = AlertStore(metrics_engine)
    telegram.fail_next(1, status=429, retry_after=1)
    texts = [f"alert <b>{n}</b>" for n in range(10)]
    queue(store, texts[:5])
    running = sender(store, telegram, http)
    running.start()
    try:
        eventually(lambda: telegram.requests >= 1)
        telegram.fail_for(2.5, status=500)  # then Telegram is down for a while
        queue(store, texts[5:])
        running.wake()
        eventually(lambda: len(telegram.messages) == len(texts))
        time.sleep(0.5)  # nothing more arrives
    finally:
        running.close()
    assert telegram.texts("-100") == texts
    assert telegram.requests >= len(texts) + 3  # the 429 and some 500s were met, and retried
    first = telegram.messages[0]
    assert first.parse_mode == "HTML"
    assert store.pending() == []
    assert store.outbox_counts() == (0, 0, None)


def test_a_429_is_honoured_before_the_next_try(
    sqlite_metrics_engine: Engine, telegram: TelegramStandIn, http: httpx.Client
) -> None:
    store = AlertStore(sqlite_metrics_engine)
    telegram.fail_next(1, status=429, retry_after=2)
    queue(store, ["one"])
    running = sender(store, telegram, http)
    started = time.monotonic()
    running.start()
    try:
        eventually(lambda: telegram.texts() == ["one"])
    finally:
        running.close()
    assert telegram.messages[0].received_at - started >= 1.9


def test_messages_queued_while_telegram_is_down_go_out_after_a_restart(
    sqlite_metrics_engine: Engine, telegram: TelegramStandIn, http: httpx.Client
) -> None:
    store = AlertStore(sqlite_metrics_engine)
    telegram.stop()
    queue(store, ["a", "b"])
    first = sender(store, telegram, http)
    assert first.send_due() is not None  # unreachable: retried later
    (waiting, _) = store.pending()
    assert waiting.attempts == 1 and "unreachable" in (waiting.last_error or "")
    first.close()

    telegram.start()  # Telegram back; a new process with a new sender on the same store
    second = sender(AlertStore(sqlite_metrics_engine), telegram, http)
    second.start()
    try:
        eventually(lambda: telegram.texts() == ["a", "b"])
    finally:
        second.close()


class Killed(BaseException):
    """The control plane killed (SIGKILL) at that line: nothing after it runs."""


class KilledOnceTaken(AlertStore):
    """A store whose process dies after Telegram took a message, before it is marked sent."""

    def mark_sent(self, notification_id: int, *, at: datetime) -> None:
        raise Killed


def test_a_message_whose_send_was_cut_short_by_a_kill_goes_out_again_saying_so(
    sqlite_metrics_engine: Engine, telegram: TelegramStandIn, http: httpx.Client
) -> None:
    queue(AlertStore(sqlite_metrics_engine), ["crashed <b>UZ</b>", "next"])
    with pytest.raises(Killed):
        sender(KilledOnceTaken(sqlite_metrics_engine), telegram, http).send_due()
    assert telegram.texts() == ["crashed <b>UZ</b>"]
    (interrupted, _) = AlertStore(sqlite_metrics_engine).pending()
    assert interrupted.sending_at is not None

    # Started again: the message may have arrived, so it goes out saying so; the next one
    # was never tried and goes out as it is.
    store = AlertStore(sqlite_metrics_engine)
    assert sender(store, telegram, http).send_due() is None
    assert telegram.texts() == [
        "crashed <b>UZ</b>",
        f"crashed <b>UZ</b>\n{SENT_AGAIN_NOTE}",
        "next",
    ]
    assert store.pending() == []
    with sqlite_metrics_engine.connect() as connection:
        tries = connection.execute(sa.select(alert_outbox_table.c.sending_at)).scalars().all()
    assert tries == [None, None]  # each try ended


def test_a_message_too_long_for_the_note_goes_out_again_as_it_was() -> None:
    assert sent_again("x" * MESSAGE_LIMIT) == "x" * MESSAGE_LIMIT
    assert sent_again("short") == f"short\n{SENT_AGAIN_NOTE}"


def test_a_refused_message_is_kept_as_failed_and_the_rest_go_on(
    sqlite_metrics_engine: Engine, telegram: TelegramStandIn, http: httpx.Client
) -> None:
    store = AlertStore(sqlite_metrics_engine)
    queue(store, ["fine", "<b>broken", "after"])
    running = sender(store, telegram, http)
    assert running.send_due() is None
    assert telegram.texts() == ["fine", "after"]
    pending, failed, _ = store.outbox_counts()
    assert (pending, failed) == (0, 1)


def test_one_chat_waiting_does_not_hold_up_another(
    sqlite_metrics_engine: Engine, telegram: TelegramStandIn, http: httpx.Client
) -> None:
    store = AlertStore(sqlite_metrics_engine)
    queue(store, ["x1"], chat="-1")
    queue(store, ["y1"], chat="-2")
    queue(store, ["x2"], chat="-1")
    telegram.fail_next(1, status=502)
    running = sender(store, telegram, http)
    assert running.send_due() is not None
    assert telegram.texts() == ["y1"]  # x1 waits for its retry; x2 waits behind it
    time.sleep(0.3)
    running.send_due()
    assert telegram.texts("-1") == ["x1", "x2"]


def test_an_alert_goes_out_ahead_of_peoples_messages_queued_before_it(
    sqlite_metrics_engine: Engine, telegram: TelegramStandIn, http: httpx.Client
) -> None:
    """A script's burst of test messages never holds an alert back."""
    store = AlertStore(sqlite_metrics_engine)
    now = SystemClock().now()
    burst = [f"test {n}" for n in range(5)]
    store.enqueue(
        [NewNotification("-100", NotificationKind.message, None, t) for t in burst], now=now
    )
    queue(store, ["program1_UZ_uzmobile crashed"])
    assert store.pending_messages() == 5
    sender(store, telegram, http).send_due()
    assert telegram.texts("-100") == ["program1_UZ_uzmobile crashed", *burst]
    assert store.pending_messages() == 0


def test_a_silent_message_goes_out_without_a_sound(
    metrics_engine: Engine, telegram: TelegramStandIn, http: httpx.Client
) -> None:
    store = AlertStore(metrics_engine)
    store.enqueue(
        [
            NewNotification("-100", NotificationKind.firing, None, "pages"),
            NewNotification("-100", NotificationKind.firing, None, "told", silent=True),
        ],
        now=SystemClock().now(),
    )
    assert [n.silent for n in store.pending()] == [False, True]
    assert store.last_sent_at() is None
    before = SystemClock().now()
    sender(store, telegram, http).send_due()
    assert [(m.text, m.silent) for m in telegram.messages] == [("pages", False), ("told", True)]
    # When Telegram last took one: what the Alerts page says the channel did.
    sent_at = store.last_sent_at()
    assert sent_at is not None and before - timedelta(seconds=1) <= sent_at <= SystemClock().now()
