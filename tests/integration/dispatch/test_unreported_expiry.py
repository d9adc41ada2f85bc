"""Attempts no run came back for, closed whichever session leased them, on real stores.

- On SQL (SQLite, MariaDB) and on Redis drained to SQL: every session's attempt open past
  the lease's time and the grace is closed as `lease_expired`, once, and its listeners are
  told; the fresh and the reported are left as they are; a report coming after answers as
  a repeat and changes nothing.
- A call closes at most its `limit` from each store: a backlog goes in batches.
- On Redis: an attempt SQL alone holds open (Redis forgot it, or lost it) is closed in
  SQL; one Redis closed and the drain has yet to bring to SQL keeps its report, and one
  Redis closed as expired is told once, not again from SQL before the drain.
- What a program told of a send before its report (`mark_sent`, with its heartbeat) stays
  with the attempt however it is closed: given up, it still counts as sent; a report
  leaving the time out keeps it, one naming it says it. A notice marks only its session's
  open attempt, once, and not one leased after the time it names.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy.engine import Engine

from smsfleet.attempts import RedisLedger
from smsfleet.attempts.ledger import Ledger, SentNotice
from smsfleet.attempts.models import REPORT_GRACE, Attempt, Completion, Outcome, counts_as_sent
from smsfleet.attempts.store import AttemptStore
from smsfleet.dispatch.expiry import UnreportedExpiry
from tests.support.fakes import FakeClock

TTL = timedelta(minutes=2)
PHONES = ["+998901000001", "+998901000002", "+998901000003"]


@pytest.fixture
def redis_ledger(
    redis_client: redis.Redis, attempts_prefix: str, metrics_engine: Engine
) -> RedisLedger:
    return RedisLedger(redis_client, store=AttemptStore(metrics_engine), prefix=attempts_prefix)


def new_attempt(number: int, *, session: str, at: datetime) -> Attempt:
    pair = session.split("_", 1)[1]
    return Attempt(
        id=f"{number:032x}",
        session=session,
        pair=pair,
        country=pair.split("_", 1)[0],
        operator=pair.split("_", 1)[1],
        program=session.split("_", 1)[0],
        phone="",
        leased_at=at,
    )


def lease(ledger: Ledger, number: int, *, session: str, ago: timedelta, clock: FakeClock) -> str:
    at = clock.now() - ago
    attempt, _ = ledger.lease(
        new_attempt(number, session=session, at=at),
        rotate=PHONES,
        expire_before=None,
        now=at,
        open_since=at - TTL,
    )
    return attempt.id


def sent(trigger_id: str, at: datetime, provider: str | None = None) -> SentNotice:
    return SentNotice(
        trigger_id=trigger_id, sent_at=at, leased_by=at + timedelta(minutes=5), provider=provider
    )


def delivered(clock: FakeClock) -> Completion:
    return Completion(outcome=Outcome.delivered, completed_at=clock.now())


def sweep(ledger: Ledger, clock: FakeClock) -> tuple[UnreportedExpiry, list[Attempt]]:
    told: list[Attempt] = []
    return UnreportedExpiry(ledger=ledger, clock=clock, lease_ttl=TTL, closed=told.append), told


def drained(ledger: Ledger) -> None:
    if isinstance(ledger, RedisLedger):
        while ledger.drain():
            pass


@pytest.fixture(params=["sql", "redis"])
def ledger(request: pytest.FixtureRequest, metrics_engine: Engine) -> Ledger:
    if request.param == "redis":
        redis_ledger: RedisLedger = request.getfixturevalue("redis_ledger")
        return redis_ledger
    return AttemptStore(metrics_engine)


def test_every_sessions_attempt_unreported_past_its_lease_is_closed_once(
    ledger: Ledger, metrics_engine: Engine
) -> None:
    clock = FakeClock()
    past = TTL + REPORT_GRACE + timedelta(seconds=1)
    # Two sessions that never leased again (a pair deleted, a program killed for good).
    gone = lease(ledger, 1, session="program1_UZ_ucell", ago=past, clock=clock)
    held = lease(ledger, 2, session="program2_KZ_beeline", ago=past, clock=clock)
    # Within the grace a spooled report may still come; a reported one is done.
    in_grace = lease(ledger, 3, session="program1_UZ_ucell", ago=TTL, clock=clock)
    reported = lease(ledger, 4, session="program3_UZ_ucell", ago=past, clock=clock)
    ledger.report(reported, session="program3_UZ_ucell", completion=delivered(clock))

    expiry, told = sweep(ledger, clock)
    assert expiry.expire() == 2
    assert sorted((a.id, a.outcome, a.error_code, a.completed_at) for a in told) == [
        (gone, Outcome.error, "lease_expired", clock.now()),
        (held, Outcome.error, "lease_expired", clock.now()),
    ]
    assert expiry.expire() == 0 and len(told) == 2

    # A report of one given up comes too late: a repeat, nothing changed.
    late, closed = ledger.report(gone, session="program1_UZ_ucell", completion=delivered(clock))
    assert not closed and late is not None and late.error_code == "lease_expired"

    drained(ledger)
    stored = AttemptStore(metrics_engine)
    outcomes = {
        id_: (a.outcome, a.error_code)
        for id_ in (gone, held, in_grace, reported)
        if (a := stored.get(id_)) is not None
    }
    assert outcomes == {
        gone: (Outcome.error, "lease_expired"),
        held: (Outcome.error, "lease_expired"),
        in_grace: (None, None),
        reported: (Outcome.delivered, None),
    }


def test_a_call_closes_at_most_its_limit_from_each_store(ledger: Ledger) -> None:
    clock = FakeClock()
    past = TTL + REPORT_GRACE + timedelta(seconds=1)
    for number in range(3):
        lease(ledger, number, session="program1_UZ_ucell", ago=past, clock=clock)
    bound = clock.now() - TTL - REPORT_GRACE
    first = ledger.expire_unreported(leased_before=bound, now=clock.now(), limit=2)
    second = ledger.expire_unreported(leased_before=bound, now=clock.now(), limit=2)
    assert (len(first), len(second)) == (2, 1)
    assert {a.id for a in first} | {a.id for a in second} == {f"{n:032x}" for n in range(3)}
    assert ledger.expire_unreported(leased_before=bound, now=clock.now(), limit=2) == []


def test_on_redis_what_sql_alone_holds_open_is_closed_and_what_redis_closed_keeps_its_report(
    redis_ledger: RedisLedger, metrics_engine: Engine
) -> None:
    clock = FakeClock()
    # Redis forgets an attempt open for a day (its pair's next lease finds it): SQL alone
    # holds it open.
    forgotten = lease(
        redis_ledger, 1, session="program1_UZ_ucell", ago=timedelta(days=2), clock=clock
    )
    lease(redis_ledger, 2, session="program1_UZ_ucell", ago=timedelta(0), clock=clock)
    # Past its lease, open in SQL, reported in Redis: the drain has yet to bring the report.
    past = TTL + REPORT_GRACE + timedelta(minutes=5)
    reported = lease(redis_ledger, 3, session="program2_UZ_ucell", ago=past, clock=clock)
    drained(redis_ledger)
    redis_ledger.report(reported, session="program2_UZ_ucell", completion=delivered(clock))

    expiry, told = sweep(redis_ledger, clock)
    assert expiry.expire() == 1
    assert [(a.id, a.error_code) for a in told] == [(forgotten, "lease_expired")]
    stored = AttemptStore(metrics_engine)
    after = stored.get(forgotten)
    assert after is not None and after.error_code == "lease_expired"
    drained(redis_ledger)
    kept = stored.get(reported)
    assert kept is not None and kept.outcome is Outcome.delivered


def test_on_redis_an_attempt_closed_as_expired_is_told_once_before_the_drain(
    redis_ledger: RedisLedger,
    redis_client: redis.Redis,
    attempts_prefix: str,
    metrics_engine: Engine,
) -> None:
    """A backlog past its lease (a first sweep, or a day without one), closed in Redis and
    not yet in SQL: the next round of the sweep leaves it to the drain."""
    clock = FakeClock()
    old = TTL + REPORT_GRACE + timedelta(minutes=5)
    ids = [
        lease(redis_ledger, n, session="program1_UZ_ucell", ago=old, clock=clock) for n in (1, 2)
    ]
    # Redis lost one (a restart without its data): SQL alone holds it open.
    drained(redis_ledger)
    redis_client.hdel(f"{attempts_prefix}:open", ids[1])
    expiry, told = sweep(redis_ledger, clock)
    assert expiry.expire() == 2
    assert sorted(a.id for a in told) == sorted(ids)
    drained(redis_ledger)
    stored = AttemptStore(metrics_engine)
    assert all((a := stored.get(id_)) and a.error_code == "lease_expired" for id_ in ids)


def test_an_attempt_another_closer_closed_meanwhile_is_not_given_up_again(
    metrics_engine: Engine,
) -> None:
    """Read open, closed by a report (or a lease of its session) before this closer's
    update: it keeps its report and is not returned, so it is told once."""
    clock = FakeClock()
    store = AttemptStore(metrics_engine)
    past = TTL + REPORT_GRACE + timedelta(seconds=1)
    read = [lease(store, n, session="program1_UZ_ucell", ago=past, clock=clock) for n in (1, 2)]
    seen_open = store.unreported(leased_before=clock.now() - TTL, limit=10)
    assert sorted(a.id for a in seen_open) == sorted(read)
    store.report(read[0], session="program1_UZ_ucell", completion=delivered(clock))
    assert [a.id for a in store.expire(seen_open, now=clock.now())] == [read[1]]
    kept = store.get(read[0])
    assert kept is not None and kept.outcome is Outcome.delivered


def test_a_backlog_stops_being_closed_once_this_process_no_longer_leads(
    metrics_engine: Engine,
) -> None:
    clock = FakeClock()
    store = AttemptStore(metrics_engine)
    past = TTL + REPORT_GRACE + timedelta(seconds=1)
    for number in range(3):
        lease(store, number, session="program1_UZ_ucell", ago=past, clock=clock)
    leads = [True]
    told: list[Attempt] = []

    def closed(attempt: Attempt) -> None:
        told.append(attempt)
        leads[0] = False  # leadership lost after the first batch

    one_at_a_time = UnreportedExpiry(
        ledger=store,
        clock=clock,
        lease_ttl=TTL,
        closed=closed,
        should_run=lambda: leads[0],
        batch=1,
    )
    assert one_at_a_time.expire() == 1
    assert len(store.unreported(leased_before=clock.now(), limit=10)) == 2


def test_an_attempt_its_program_said_it_sent_is_given_up_as_sent(
    ledger: Ledger, metrics_engine: Engine
) -> None:
    """Its program killed for good after the send, or killed and started again without
    its journal: closed by the sweep or by its session's next lease, it counts as sent."""
    clock = FakeClock()
    past = TTL + REPORT_GRACE + timedelta(seconds=1)
    swept = lease(ledger, 1, session="program1_UZ_ucell", ago=past, clock=clock)
    silent = lease(ledger, 2, session="program1_UZ_ucell", ago=past, clock=clock)
    expired = lease(ledger, 3, session="program2_UZ_ucell", ago=past, clock=clock)
    at = clock.now() - past + timedelta(seconds=2)
    told = [sent(swept, at, "gw-a"), sent(expired, at)]
    assert ledger.mark_sent(told, session="program1_UZ_ucell") == [swept]
    assert ledger.mark_sent(told, session="program2_UZ_ucell") == [expired]
    drained(ledger)  # SQL knows it too, while it is open
    marked = AttemptStore(metrics_engine).get(swept)
    assert marked is not None and (marked.outcome, marked.sent_at) == (None, at)
    # Told again (a beat repeated): the first time holds.
    again = [sent(swept, at + timedelta(seconds=9))]
    assert ledger.mark_sent(again, session="program1_UZ_ucell") == []

    # The session of `expired` leases again: its own expired attempt is closed first.
    _, closed_by_lease = ledger.lease(
        new_attempt(9, session="program2_UZ_ucell", at=clock.now()),
        rotate=PHONES,
        expire_before=clock.now() - TTL,
        now=clock.now(),
        open_since=clock.now() - TTL,
    )
    assert [(a.id, a.error_code, a.sent_at) for a in closed_by_lease] == [
        (expired, "lease_expired", at)
    ]
    expiry, closed_by_sweep = sweep(ledger, clock)
    assert expiry.expire() == 2
    by_id = {a.id: a for a in closed_by_sweep}
    assert (by_id[swept].sent_at, by_id[swept].provider) == (at, "gw-a")
    assert by_id[silent].sent_at is None
    assert counts_as_sent(by_id[swept]) and not counts_as_sent(by_id[silent])

    drained(ledger)
    stored = AttemptStore(metrics_engine)
    assert {
        id_: (a.error_code, a.sent_at, a.provider)
        for id_ in (swept, silent, expired)
        if (a := stored.get(id_)) is not None
    } == {
        swept: ("lease_expired", at, "gw-a"),
        silent: ("lease_expired", None, None),
        expired: ("lease_expired", at, None),
    }


def test_on_redis_an_attempt_sql_alone_holds_open_is_marked_there(
    redis_ledger: RedisLedger,
    redis_client: redis.Redis,
    attempts_prefix: str,
    metrics_engine: Engine,
) -> None:
    """Redis lost it (a restart without its data), or forgot it: SQL marks it, as a
    report of it goes to SQL."""
    clock = FakeClock()
    session = "program1_UZ_ucell"
    lost = lease(redis_ledger, 1, session=session, ago=timedelta(seconds=30), clock=clock)
    kept = lease(redis_ledger, 2, session=session, ago=timedelta(seconds=30), clock=clock)
    drained(redis_ledger)
    redis_client.hdel(f"{attempts_prefix}:open", lost)
    at = clock.now() - timedelta(seconds=10)
    marked = redis_ledger.mark_sent([sent(lost, at), sent(kept, at)], session=session)
    assert marked == [kept, lost]  # Redis's, then SQL's
    drained(redis_ledger)
    stored = AttemptStore(metrics_engine)
    assert [(a.outcome, a.sent_at) for id_ in (lost, kept) if (a := stored.get(id_))] == [
        (None, at),
        (None, at),
    ]


def test_a_report_leaving_out_when_it_sent_keeps_what_its_program_said(
    ledger: Ledger, metrics_engine: Engine
) -> None:
    clock = FakeClock()
    session = "program1_UZ_ucell"
    told, named, refused, stale = (
        lease(ledger, n, session=session, ago=timedelta(seconds=30), clock=clock)
        for n in (1, 2, 3, 4)
    )
    at = clock.now() - timedelta(seconds=20)
    notices = [sent(told, at, "gw-a"), sent(named, at), sent(refused, at, "gw-a"), sent(stale, at)]
    assert ledger.mark_sent(notices, session=session) == [told, named, refused, stale]
    # Killed in its wait for the code, its next run knew only that it broke off.
    interrupted = Completion(
        outcome=Outcome.error, error_code="interrupted", completed_at=clock.now()
    )
    first, closed = ledger.report(told, session=session, completion=interrupted)
    assert closed and first is not None
    assert (first.sent_at, first.provider) == (at, "gw-a")
    # A report naming its own time and provider says them.
    later = at + timedelta(seconds=1)
    own = Completion(
        outcome=Outcome.delivered,
        sent_at=later,
        delivered_at=clock.now(),
        completed_at=clock.now(),
        provider="gw-b",
    )
    second, closed = ledger.report(named, session=session, completion=own)
    assert closed and second is not None
    assert (second.sent_at, second.provider) == (later, "gw-b")
    # A report that its SMS never left (refused, its grant given up unused) is taken over
    # what was told: it is not counted as sent.
    never_left = [
        Completion(outcome=Outcome.send_failed, error_code="refused", completed_at=clock.now()),
        Completion(outcome=Outcome.error, error_code="grant_stale", completed_at=clock.now()),
    ]
    for id_, completion in zip((refused, stale), never_left, strict=True):
        unsent, closed = ledger.report(id_, session=session, completion=completion)
        assert closed and unsent is not None and (unsent.sent_at, unsent.provider) == (None, None)
        assert not counts_as_sent(unsent)

    drained(ledger)
    stored = AttemptStore(metrics_engine)
    assert [
        (a.sent_at, a.provider)
        for id_ in (told, named, refused, stale)
        if (a := stored.get(id_)) is not None
    ] == [(at, "gw-a"), (later, "gw-b"), (None, None), (None, None)]


def test_a_notice_marks_only_its_sessions_open_attempt_leased_by_its_time(
    ledger: Ledger,
) -> None:
    clock = FakeClock()
    session = "program1_UZ_ucell"
    own = lease(ledger, 1, session=session, ago=timedelta(seconds=30), clock=clock)
    others = lease(ledger, 2, session="program2_UZ_ucell", ago=timedelta(seconds=30), clock=clock)
    done = lease(ledger, 3, session=session, ago=timedelta(seconds=30), clock=clock)
    ledger.report(done, session=session, completion=delivered(clock))
    at = clock.now() - timedelta(seconds=10)
    # Its time allows no lease as early as `own`'s.
    too_early = SentNotice(
        trigger_id=own, sent_at=at, leased_by=clock.now() - timedelta(seconds=31)
    )
    notices = [sent(others, at), sent(done, at), too_early, sent("f" * 32, at)]
    assert ledger.mark_sent(notices, session=session) == []

    closed = [
        ledger.report(own, session=session, completion=delivered(clock))[0],
        ledger.report(others, session="program2_UZ_ucell", completion=delivered(clock))[0],
        ledger.report(done, session=session, completion=delivered(clock))[0],  # a repeat
    ]
    assert [a.sent_at if a else "unknown" for a in closed] == [None, None, None]
