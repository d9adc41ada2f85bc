"""The attempts' hot path in Redis, drained to SQL (SQLite and MariaDB), on real servers.

- A lease, a report, a repeat, another session's report, a lost and an expired lease
  answer as the SQL ledger does, and the stream brings SQL to the same rows.
- A drainer killed between reading and acknowledging: another claims what it left;
  every attempt reaches SQL once, with its outcome (0 lost, 0 doubled).
- A report whose times come before its attempt's lease is refused, in Redis as in SQL,
  and the attempt stays open.
- Applying is idempotent and order-free: a close before its lease, twice, changes nothing.
- Two fleets on one Redis (two SQL databases) never drain into each other's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from smsfleet.attempts import RedisLedger
from smsfleet.attempts.ledger import ReportBeforeLease
from smsfleet.attempts.models import Attempt, Completion, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.sql import create_sql_engine, fleet_prefix, upgrade_metrics_schema
from tests.support.backends import sqlite_url_for
from tests.support.waiting import eventually

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
PHONES = ["+998901000001", "+998901000002", "+998901000003"]
SESSION = "program1_UZ_ucell"


def ledger_on(
    redis_client: redis.Redis, engine: Engine, attempts_prefix: str, **options: object
) -> RedisLedger:
    return RedisLedger(redis_client, store=AttemptStore(engine), prefix=attempts_prefix, **options)  # type: ignore[arg-type]


def new_attempt(number: int, *, session: str = SESSION, at: datetime = NOW) -> Attempt:
    pair = session.split("_", 1)[1]
    country, slug = pair.split("_", 1)
    return Attempt(
        id=f"{number:032x}",
        session=session,
        pair=pair,
        country=country,
        operator=slug,
        program=session.split("_", 1)[0],
        phone="",
        leased_at=at,
    )


def lease(ledger: RedisLedger, number: int, **options: object) -> tuple[Attempt, list[Attempt]]:
    at: datetime = options.pop("at", NOW)  # type: ignore[assignment]
    return ledger.lease(
        new_attempt(number, at=at, **options),  # type: ignore[arg-type]
        rotate=PHONES,
        expire_before=None,
        now=at,
        open_since=at - timedelta(minutes=2),
    )


def drain_all(ledger: RedisLedger) -> None:
    while ledger.drain():
        pass


def test_lease_report_and_repeats_answer_as_sql_does_and_reach_sql(
    redis_client: redis.Redis, metrics_engine: Engine, attempts_prefix: str
) -> None:
    ledger = ledger_on(redis_client, metrics_engine, attempts_prefix)
    store = AttemptStore(metrics_engine)
    # The rotation skips numbers awaiting a code.
    first, expired = lease(ledger, 1)
    second, _ = lease(ledger, 2)
    assert (first.phone, second.phone, expired) == (PHONES[0], PHONES[1], [])
    assert sorted(ledger.open_in_pair("UZ_ucell", leased_since=NOW - timedelta(minutes=1))) == [
        (first.id, SESSION, PHONES[0]),
        (second.id, SESSION, PHONES[1]),
    ]
    assert ledger.last_leased("UZ_ucell") == NOW

    delivered = Completion(outcome=Outcome.delivered, completed_at=NOW + timedelta(seconds=9))
    closed, now_closed = ledger.report(
        first.id, session=SESSION, completion=delivered.model_copy(update={"latency_ms": 812})
    )
    assert now_closed and closed is not None
    assert (closed.outcome, closed.latency_ms, closed.phone) == (Outcome.delivered, 812, PHONES[0])
    # A repeat changes nothing; another session's report neither.
    again, now_closed = ledger.report(first.id, session=SESSION, completion=delivered)
    assert not now_closed and again == closed
    other, now_closed = ledger.report(second.id, session="program2_UZ_ucell", completion=delivered)
    assert not now_closed and other is not None and other.session == SESSION
    assert other.outcome is None
    # Unknown here and in SQL.
    assert ledger.report("f" * 32, session=SESSION, completion=delivered) == (None, False)

    # The number freed by the report is the rotation's next after the latest (+2).
    third, _ = lease(ledger, 3)
    assert third.phone == PHONES[2]
    drain_all(ledger)
    stored = {a.id: a for a in store.recent(limit=10, pair="UZ_ucell")}
    assert stored == {first.id: closed, second.id: second, third.id: third}


def test_a_report_of_an_attempt_leased_after_its_bound_is_refused_and_leaves_it_open(
    redis_client: redis.Redis, metrics_engine: Engine, attempts_prefix: str
) -> None:
    """In Redis, and in SQL for an attempt Redis does not hold (leased before it kept
    them): the bound is the lease's time to the millisecond, and another session's
    attempt is left to its own answer."""
    ledger = ledger_on(redis_client, metrics_engine, attempts_prefix)
    store = AttemptStore(metrics_engine)
    in_redis, _ = lease(ledger, 1)
    in_sql = new_attempt(2)
    store.add(in_sql)
    delivered = Completion(outcome=Outcome.delivered, completed_at=NOW + timedelta(seconds=9))
    too_early = NOW - timedelta(milliseconds=1)
    for attempt in (in_redis, in_sql):
        with pytest.raises(ReportBeforeLease) as refused:
            ledger.report(attempt.id, session=SESSION, completion=delivered, leased_by=too_early)
        assert refused.value.attempt.id == attempt.id
        assert refused.value.attempt.outcome is None
        other, closed = ledger.report(
            attempt.id, session="program2_UZ_ucell", completion=delivered, leased_by=too_early
        )
        assert not closed and other is not None and other.outcome is None
    drain_all(ledger)
    assert [a.outcome for a in store.recent(limit=10, pair="UZ_ucell")] == [None, None]

    for attempt in (in_redis, in_sql):
        reported, closed = ledger.report(
            attempt.id, session=SESSION, completion=delivered, leased_by=NOW
        )
        assert closed and reported is not None and reported.outcome is Outcome.delivered
    drain_all(ledger)
    assert [a.outcome for a in store.recent(limit=10, pair="UZ_ucell")] == [Outcome.delivered] * 2


def test_an_expired_lease_is_closed_once_at_the_sessions_next_lease(
    redis_client: redis.Redis, metrics_engine: Engine, attempts_prefix: str
) -> None:
    ledger = ledger_on(redis_client, metrics_engine, attempts_prefix)
    old, _ = lease(ledger, 1, at=NOW - timedelta(minutes=5))
    kept, _ = lease(ledger, 2)
    # Another session's expired lease is its own to close.
    others, _ = lease(ledger, 3, at=NOW - timedelta(minutes=5), session="program2_UZ_ucell")

    def lease_expiring(number: int, at: datetime) -> tuple[Attempt, list[Attempt]]:
        return ledger.lease(
            new_attempt(number, at=at),
            rotate=PHONES,
            expire_before=NOW - timedelta(minutes=2),
            now=at,
            open_since=at - timedelta(minutes=2),
        )

    later = NOW + timedelta(seconds=1)
    fresh, expired = lease_expiring(4, later)
    assert [(a.id, a.error_code, a.completed_at) for a in expired] == [
        (old.id, "lease_expired", later)
    ]
    assert lease_expiring(5, later)[1] == []
    drain_all(ledger)
    stored = {a.id: a for a in AttemptStore(metrics_engine).recent(limit=10, pair="UZ_ucell")}
    assert stored[old.id].error_code == "lease_expired"
    assert all(stored[a.id].outcome is None for a in (kept, others, fresh))


def test_a_drainer_killed_before_acknowledging_loses_and_doubles_nothing(
    redis_client: redis.Redis, metrics_engine: Engine, attempts_prefix: str
) -> None:
    killed = ledger_on(redis_client, metrics_engine, attempts_prefix)
    ids = []
    for number in range(1, 31):
        attempt, _ = lease(killed, number)
        ids.append(attempt.id)
        if number % 2:
            killed.report(
                attempt.id,
                session=SESSION,
                completion=Completion(
                    outcome=Outcome.not_delivered, completed_at=NOW + timedelta(seconds=30)
                ),
            )
    # It read everything and died before applying: the entries stay pending, as its.
    killed._ensure_group()
    assert len(killed._read(">", block_ms=None)) == 45

    survivor = ledger_on(redis_client, metrics_engine, attempts_prefix, claim_idle=timedelta(0))
    assert survivor.drain() == 0  # nothing new: all of it is the dead one's
    assert survivor.claim() == 45
    drain_all(survivor)
    store = AttemptStore(metrics_engine)
    stored = store.recent(limit=100, pair="UZ_ucell")
    assert sorted(a.id for a in stored) == sorted(ids)
    outcomes = {a.id: a.outcome for a in stored}
    assert [outcomes[i] for i in ids] == [Outcome.not_delivered, None] * 15
    assert redis_client.xlen(f"{attempts_prefix}:stream") == 0


def test_applying_is_idempotent_and_order_free(metrics_engine: Engine) -> None:
    store = AttemptStore(metrics_engine)
    opened = new_attempt(1).model_copy(update={"phone": PHONES[0]})
    closed = opened.model_copy(
        update={"outcome": Outcome.delivered, "completed_at": NOW + timedelta(seconds=5)}
    )
    other = opened.model_copy(
        update={"outcome": Outcome.error, "error_code": "lease_lost", "completed_at": NOW}
    )
    store.apply([closed, opened])
    store.apply([opened, closed, opened])
    store.apply([other])  # a second close of a closed attempt changes nothing
    assert store.recent(limit=10, pair="UZ_ucell") == [closed]

    # Open in one batch, closed in a later one (beside an attempt new to the store).
    later = new_attempt(2).model_copy(update={"phone": PHONES[1]})
    store.apply([later])
    store.apply([later])  # open again: still open
    assert store.recent(limit=10, pair="UZ_ucell") == [closed, later]  # by id: same time
    closed_later = later.model_copy(
        update={
            "outcome": Outcome.not_delivered,
            "completed_at": NOW + timedelta(seconds=7),
            "error_code": "timeout",
            "latency_ms": 900,
            "provider": "provider2",
        }
    )
    third = new_attempt(3).model_copy(update={"phone": PHONES[0]})
    store.apply([closed_later, third, later])
    store.apply([later.model_copy(update={"outcome": Outcome.error, "completed_at": NOW})])
    assert store.recent(limit=10, pair="UZ_ucell") == [closed, closed_later, third]


def test_an_open_attempt_takes_when_its_sms_left_in_any_order(metrics_engine: Engine) -> None:
    """Told sent before its report (`mark_sent`), an attempt reaches SQL open with its
    time, whichever way its entries come; its close keeps it, a stale open one does not
    take it back."""
    store = AttemptStore(metrics_engine)
    sent_at = NOW + timedelta(seconds=1)
    opened = new_attempt(1).model_copy(update={"phone": PHONES[0]})
    told = opened.model_copy(update={"sent_at": sent_at, "provider": "gw-a"})
    store.apply([opened])
    store.apply([told, opened])  # in one batch, the later open entry says less
    store.apply([opened])  # in the next, too
    assert store.recent(limit=10, pair="UZ_ucell") == [told]

    closed = told.model_copy(
        update={"outcome": Outcome.error, "error_code": "lease_expired", "completed_at": NOW}
    )
    store.apply([closed, opened])
    store.apply([told.model_copy(update={"sent_at": NOW + timedelta(seconds=9)})])
    assert store.recent(limit=10, pair="UZ_ucell") == [closed]

    # Marked before this store saw it open at all, in one batch and in two.
    second, third = (new_attempt(n).model_copy(update={"phone": PHONES[n - 1]}) for n in (2, 3))
    store.apply([second.model_copy(update={"sent_at": sent_at}), second])
    store.apply([third.model_copy(update={"sent_at": sent_at})])
    store.apply([third])
    assert [a.sent_at for a in store.recent(limit=10, pair="UZ_ucell")] == [sent_at] * 3


def test_two_fleets_on_one_redis_drain_into_their_own_database(
    redis_url: str, metrics_engine: Engine, tmp_path: Path
) -> None:
    other_engine = create_sql_engine(sqlite_url_for(tmp_path / "other-fleet.sqlite3"))
    upgrade_metrics_schema(other_engine)
    # The same database, its URL spelled another way: the same fleet.
    respelled = create_sql_engine(
        metrics_engine.url.set(host="localhost").render_as_string(hide_password=False)
        if metrics_engine.dialect.name != "sqlite"
        else f"sqlite:///{tmp_path}/../{tmp_path.name}/metrics.sqlite3"
    )
    try:
        assert fleet_prefix(respelled) == fleet_prefix(metrics_engine)
        assert fleet_prefix(other_engine) != fleet_prefix(metrics_engine)
        ledgers = [
            RedisLedger.from_url(
                redis_url, store=AttemptStore(engine), prefix=f"{fleet_prefix(engine)}:{{attempts}}"
            )
            for engine in (metrics_engine, other_engine)
        ]
        for number, ledger in enumerate(ledgers, start=1):
            lease(ledger, number)
        for ledger in ledgers:
            drain_all(ledger)
            ledger._client.delete(*ledger._client.scan_iter(match=f"{ledger._prefix}:*"))
            ledger.close()
        for number, engine in enumerate((metrics_engine, other_engine), start=1):
            stored = AttemptStore(engine).recent(limit=10)
            assert [a.id for a in stored] == [f"{number:032x}"]
    finally:
        other_engine.dispose()
        respelled.dispose()


def test_an_attempt_open_for_a_day_is_left_to_sql(
    redis_client: redis.Redis, metrics_engine: Engine, attempts_prefix: str
) -> None:
    ledger = ledger_on(redis_client, metrics_engine, attempts_prefix)
    forgotten, _ = lease(ledger, 1, session="program2_UZ_ucell", at=NOW - timedelta(days=2))
    recent, _ = lease(ledger, 2, session="program2_UZ_ucell", at=NOW - timedelta(hours=1))
    lease(ledger, 3)
    assert set(redis_client.hkeys(f"{attempts_prefix}:open")) == {
        recent.id.encode(),
        f"{3:032x}".encode(),
    }
    drain_all(ledger)
    stored = AttemptStore(metrics_engine).get(forgotten.id)
    assert stored is not None and stored.outcome is None


def test_a_batch_sql_refused_is_applied_by_the_next_drain(
    redis_client: redis.Redis, metrics_engine: Engine, attempts_prefix: str
) -> None:
    ledger = ledger_on(redis_client, metrics_engine, attempts_prefix)
    opened, _ = lease(ledger, 1)
    with metrics_engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE attempts RENAME TO attempts_away")
    try:
        with pytest.raises(SQLAlchemyError):
            ledger.drain()
    finally:
        with metrics_engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE attempts_away RENAME TO attempts")
    lease(ledger, 2)
    assert ledger.drain() == 1  # what it read and could not apply, first
    assert ledger.drain() == 1
    assert ledger.drain() == 0
    stored = AttemptStore(metrics_engine).recent(limit=10)
    assert sorted(a.id for a in stored) == [opened.id, f"{2:032x}"]


class _BatchesSeen(AttemptStore):
    """The SQL store, noting the size of each batch applied to it."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.batches: list[int] = []

    def apply(self, attempts: Sequence[Attempt]) -> None:
        super().apply(attempts)
        self.batches.append(len(attempts))


def test_under_load_the_drain_gathers_attempts_into_one_transaction(
    redis_client: redis.Redis, sqlite_metrics_engine: Engine, attempts_prefix: str
) -> None:
    """An attempt alone reaches SQL at once; those that come while it was applied wait
    for the gathering pause and go together, not one transaction each."""
    store = _BatchesSeen(sqlite_metrics_engine)
    ledger = RedisLedger(
        redis_client, store=store, prefix=attempts_prefix, gather=timedelta(seconds=2)
    )
    ledger.start()
    try:
        lease(ledger, 1)
        eventually(lambda: store.batches == [1], what="the first attempt in SQL")
        for number in range(2, 7):
            lease(ledger, number)
        eventually(lambda: sum(store.batches) == 6, what="the other five in SQL")
        assert store.batches == [1, 5]
    finally:
        ledger.close()
