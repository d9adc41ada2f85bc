"""A lease's admission on both profiles: in one transaction of the metrics database
(SQLite), and in one Redis script (a real Redis, the ledger drained to SQLite).

- A grant opens the attempt at the grant's time, on the pair's next free number.
- At its allowance, or with every number awaiting a code, the session is told how busy
  the pair is and the limiter is not asked.
- The attempts a program no longer carries are closed as lost; leases over their ttl
  as expired; a refusal opens nothing; `open=False` leaves the attempt to the caller.
- A number kept for a waiting on-demand send is no routine test's, nor room for one;
  the lease that may carry its send has room for it.
- On Redis, an admission is one command.
- Sessions racing for a pair's numbers (MariaDB, Redis) never get one number twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy.engine import Engine

from smsfleet.attempts import RedisLedger
from smsfleet.attempts.ledger import Ledger
from smsfleet.attempts.models import Attempt
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import Clock, SystemClock
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.dispatch._redis_admission import RedisAdmission
from smsfleet.dispatch._redis_limiter import RedisLimiter
from smsfleet.dispatch._sql_limiter import SqlLimiter
from smsfleet.dispatch.admission import Admission, Entry, SqlAdmission
from smsfleet.dispatch.limiter import Ask
from tests.support.backends import sqlite_url_for
from tests.support.fakes import FakeClock
from tests.support.ledgers import settle
from tests.support.redis_commands import redis_commands

PAIR = "UZ_ucell"
PHONES = ["+998901000001", "+998901000002", "+998901000003"]
TTL = timedelta(minutes=2)
# A slot a second: each test advances the clock past it between grants.
CAP = 60
NOT_LEASED_YET = datetime(2000, 1, 1, tzinfo=UTC)


def entry_for(
    session: str,
    trigger_id: str,
    *,
    cap: int = CAP,
    phones: Sequence[str] = PHONES,
    limit: int = 3,
    in_flight: Sequence[str] | None = None,
    expire: bool = False,
    open: bool = True,
    kept: frozenset[str] = frozenset(),
    carries: frozenset[str] = frozenset(),
) -> Entry:
    """`session`'s ask to send on the pair, its attempt to be `trigger_id`."""
    program = session.split("_", 1)[0]
    return Entry(
        ask=Ask(country="UZ", pair=PAIR, program=program, cap=cap),
        session=session,
        attempt=Attempt(
            id=trigger_id,
            session=session,
            pair=PAIR,
            country="UZ",
            operator="ucell",
            program=program,
            phone="",
            leased_at=NOT_LEASED_YET,  # the grant's time replaces it
        ),
        phones=phones,
        limit=limit,
        in_flight=in_flight,
        ttl=TTL,
        expire=expire,
        open=open,
        kept=kept,
        carries=carries,
    )


@dataclass
class Door:
    admission: Admission
    ledger: Ledger
    store: AttemptStore
    clock: FakeClock
    redis_url: str | None = None
    prefix: str = ""

    def entry(self, session: str, number: int, **terms: Any) -> Entry:
        return entry_for(session, f"{number:032x}", **terms)

    def granted(self, session: str, number: int, **options: object) -> Attempt:
        admitted = self.admission.admit(self.entry(session, number, **options))
        assert admitted.decision is not None and admitted.decision.granted, admitted
        assert admitted.attempt is not None
        self.clock.advance(1.0)  # the next slot
        return admitted.attempt

    def stored(self, trigger_id: str) -> Attempt | None:
        """The attempt as SQL holds it, once the ledger has settled."""
        settle(self.ledger)
        return self.store.get(trigger_id)

    def open_ids(self) -> set[str]:
        since = self.clock.now() - TTL
        return {id_ for id_, _, _ in self.ledger.open_in_pair(PAIR, leased_since=since)}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_sql_engine(sqlite_url_for(tmp_path / "metrics.sqlite3"))
    upgrade_metrics_schema(engine)
    yield engine
    engine.dispose()


def _on_redis(
    client: redis.Redis, prefix: str, store: AttemptStore, clock: Clock
) -> tuple[RedisAdmission, RedisLedger]:
    """The admission of the Redis profile, and its ledger (drained to `store`)."""
    limiter = RedisLimiter(client, clock=clock, prefix=f"{prefix}:dispatch")
    ledger = RedisLedger(client, store=store, prefix=f"{prefix}:{{attempts}}")
    return RedisAdmission(limiter=limiter, ledger=ledger, clock=clock), ledger


@pytest.fixture
def redis_door(redis_url: str, redis_prefix: str, engine: Engine) -> Iterator[Door]:
    clock = FakeClock()
    client = redis.Redis.from_url(redis_url)
    store = AttemptStore(engine)
    admission, ledger = _on_redis(client, redis_prefix, store, clock)
    try:
        yield Door(admission, ledger, store, clock, redis_url, redis_prefix)
    finally:
        client.close()


@pytest.fixture(params=["sql", "redis"])
def door(request: pytest.FixtureRequest, engine: Engine) -> Door:
    if request.param == "redis":
        found: Door = request.getfixturevalue("redis_door")
        return found
    clock = FakeClock()
    store = AttemptStore(engine)
    limiter = SqlLimiter(engine, clock=clock)
    return Door(SqlAdmission(store=store, limiter=limiter), store, store, clock)


def test_a_grant_opens_the_attempt_at_its_time_on_the_next_free_number(door: Door) -> None:
    first_at = door.clock.now()
    first = door.granted("program1_UZ_ucell", 1)
    second = door.granted("program2_UZ_ucell", 2)
    assert (first.id, first.phone, first.leased_at) == (f"{1:032x}", PHONES[0], first_at)
    assert second.phone == PHONES[1]
    assert door.open_ids() == {first.id, second.id}


def test_at_its_allowance_the_session_waits_without_asking_the_limiter(door: Door) -> None:
    door.granted("program1_UZ_ucell", 1, limit=1)
    admitted = door.admission.admit(door.entry("program1_UZ_ucell", 2, limit=1))
    assert (admitted.busy, admitted.decision, admitted.attempt) == (1, None, None)
    # Another session of the pair has room, and a number is free.
    assert door.granted("program2_UZ_ucell", 3, limit=1).phone == PHONES[1]


def test_with_every_number_awaiting_a_code_the_pair_waits(door: Door) -> None:
    for number in range(3):
        door.granted("program1_UZ_ucell", number, limit=5)
    admitted = door.admission.admit(door.entry("program2_UZ_ucell", 9, limit=5))
    assert (admitted.busy, admitted.decision) == (3, None)
    assert len(door.open_ids()) == 3


def test_attempts_the_program_no_longer_carries_are_closed_as_lost(door: Door) -> None:
    kept = door.granted("program1_UZ_ucell", 1)
    lost = door.granted("program1_UZ_ucell", 2)
    others = door.granted("program2_UZ_ucell", 3)
    admitted = door.admission.admit(door.entry("program1_UZ_ucell", 4, in_flight=[kept.id]))
    assert [(a.id, a.outcome, a.error_code) for a in admitted.closed] == [
        (lost.id, "error", "lease_lost")
    ]
    assert admitted.attempt is not None
    # The lost one's number is free again, and the next in rotation.
    assert door.open_ids() == {kept.id, others.id, admitted.attempt.id}
    stored = door.stored(lost.id)
    assert stored is not None and stored.error_code == "lease_lost"


def test_a_lease_over_its_ttl_is_closed_as_expired_when_asked(door: Door) -> None:
    old = door.granted("program1_UZ_ucell", 1)
    door.clock.advance(TTL.total_seconds() + 1)
    admitted = door.admission.admit(door.entry("program1_UZ_ucell", 2, expire=True))
    assert [(a.id, a.error_code) for a in admitted.closed] == [(old.id, "lease_expired")]
    assert admitted.attempt is not None and admitted.attempt.phone == PHONES[1]


def test_a_refusal_opens_nothing(door: Door) -> None:
    door.granted("program1_UZ_ucell", 1)
    door.clock.advance(-1.0)  # back to the slot just taken
    admitted = door.admission.admit(door.entry("program2_UZ_ucell", 2))
    assert admitted.decision is not None and not admitted.decision.granted
    assert admitted.decision.retry_after > 0
    assert admitted.attempt is None
    assert door.open_ids() == {f"{1:032x}"}


def test_a_grant_left_to_the_caller_opens_nothing(door: Door) -> None:
    admitted = door.admission.admit(door.entry("program1_UZ_ucell", 1, open=False))
    assert admitted.decision is not None and admitted.decision.granted
    assert admitted.attempt is None
    assert door.open_ids() == set()


def test_a_number_kept_for_a_waiting_send_is_no_routine_tests(door: Door) -> None:
    kept = frozenset({PHONES[0]})
    # Opened here (no send to carry): the next free number not kept, then none.
    first = door.granted("program1_UZ_ucell", 1, kept=kept)
    second = door.granted("program2_UZ_ucell", 2, kept=kept)
    assert (first.phone, second.phone) == (PHONES[1], PHONES[2])
    admitted = door.admission.admit(door.entry("program3_UZ_ucell", 3, kept=kept))
    assert (admitted.busy, admitted.decision, admitted.attempt) == (2, None, None)
    # Left to the caller, which may carry the send: room for it; for another, none.
    other = door.admission.admit(door.entry("program3_UZ_ucell", 4, kept=kept, open=False))
    assert (other.busy, other.decision) == (2, None)
    carrier = door.entry("program4_UZ_ucell", 5, kept=kept, carries=kept, open=False)
    carried = door.admission.admit(carrier)
    assert carried.decision is not None and carried.decision.granted
    assert door.open_ids() == {first.id, second.id}
    # No longer kept: a routine test's again.
    door.clock.advance(1.0)
    assert door.granted("program3_UZ_ucell", 6).phone == PHONES[0]


def test_on_redis_an_admission_is_one_command(redis_door: Door) -> None:
    door = redis_door
    assert door.redis_url is not None
    door.granted("program1_UZ_ucell", 1)
    with redis_commands(door.redis_url, naming=door.prefix) as seen:
        door.admission.admit(door.entry("program1_UZ_ucell", 2, in_flight=[f"{1:032x}"]))
        door.admission.admit(door.entry("program2_UZ_ucell", 3))  # a refusal: same slot
    assert [command.split()[0] for command in seen] == ["EVALSHA", "EVALSHA"], seen


@pytest.mark.parametrize("profile", ["sql-mariadb", "redis"])
def test_sessions_racing_for_a_pairs_numbers_never_share_one(
    request: pytest.FixtureRequest, profile: str, redis_url: str, redis_prefix: str
) -> None:
    """Eight sessions of one pair ask at once, at a pace of 100 grants a second: the two
    numbers go to two attempts, and every later ask finds them awaiting a code."""
    clock = SystemClock()
    admission: Admission
    if profile == "redis":
        engine = create_sql_engine(sqlite_url_for(request.getfixturevalue("tmp_path") / "m.db"))
        upgrade_metrics_schema(engine)
        client = redis.Redis.from_url(redis_url)
        store = AttemptStore(engine)
        admission, redis_ledger = _on_redis(client, redis_prefix, store, clock)
        ledger: Ledger = redis_ledger
    else:
        engine = create_sql_engine(request.getfixturevalue("migrated_mariadb_url"))
        store = AttemptStore(engine)
        ledger = store
        admission = SqlAdmission(store=store, limiter=SqlLimiter(engine, clock=clock))
    two = PHONES[:2]
    opened: list[Attempt] = []
    lock = threading.Lock()

    def ask(program: int) -> None:
        session = f"program{program}_UZ_ucell"
        # A second of racing at least, and on until both numbers were taken (a slow
        # machine may take longer to grant twice), at most 15 s.
        started = time.monotonic()
        number = 0
        while time.monotonic() < started + 15 and (
            time.monotonic() < started + 1.0 or len(opened) < len(two)
        ):
            number += 1
            trigger_id = f"{program:04x}{number:028x}"
            entry = entry_for(session, trigger_id, cap=6_000, phones=two, limit=2)
            admitted = admission.admit(entry)
            if admitted.attempt is not None:
                with lock:
                    opened.append(admitted.attempt)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(ask, range(1, 9)))
        assert sorted(attempt.phone for attempt in opened) == sorted(two), opened
        leased_since = clock.now() - TTL
        assert sorted(
            phone for _, _, phone in ledger.open_in_pair(PAIR, leased_since=leased_since)
        ) == sorted(two)
    finally:
        if profile == "redis":
            client.close()
        engine.dispose()
