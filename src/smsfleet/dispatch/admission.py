"""A lease's admission: room in the pair, the limiter's decision, and the attempt opened.

One step of a lease decides whether a session may send now: whether it has room
(under its allowance of attempts awaiting a code, and a test number of its pair free,
not kept for a waiting on-demand send it does not carry),
then whether its country's limiter grants it a slot, then opens the attempt on the
pair's next free number, with nothing of another lease of the country in between:
on the SQL-only profile in one transaction in the country's turn (`SqlAdmission`),
on the Redis profile in one script, one round trip
(`_redis_admission.RedisAdmission`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypedDict

from smsfleet.attempts.models import Attempt
from smsfleet.attempts.store import AttemptStore
from smsfleet.dispatch._sql_limiter import CountryTurn, SqlLimiter, unavailable_as_limiter_error
from smsfleet.dispatch.limiter import Ask, Decision, from_ms

__all__ = ["Admission", "Admitted", "Entry", "LeaseTerms", "SqlAdmission", "lease_terms"]


@dataclass(frozen=True)
class Entry:
    """A session asking to send: what its admission decides on."""

    ask: Ask
    session: str
    # Opened when granted and `open` is set, leased at the grant's time (its own
    # `leased_at` is replaced).
    attempt: Attempt
    # The pair's test numbers, in rotation order: the attempt goes to the next free one.
    phones: Sequence[str]
    # How many attempts the session may have awaiting a code.
    limit: int
    # The trigger ids its program carries (None: unsaid, by older programs); the
    # session's other open attempts were lost on the way and are closed (`lease_lost`).
    in_flight: Sequence[str] | None
    ttl: timedelta
    # Close the session's attempts leased over a `ttl` ago (`lease_expired`).
    expire: bool
    # False leaves the attempt to the caller once granted (an on-demand send may take
    # the slot, with a number of its own).
    open: bool = True
    # The pair's numbers kept for waiting on-demand sends: never a routine test's, so
    # that a send's program takes its number once it is free.
    kept: frozenset[str] = frozenset()
    # Of those, the ones whose send this session's program waits to carry (not `open`).
    carries: frozenset[str] = frozenset()

    @property
    def withheld(self) -> frozenset[str]:
        """The numbers the admission neither counts as room nor opens its attempt on: the
        kept ones, but those whose send the lease may carry."""
        return self.kept if self.open else self.kept - self.carries


@dataclass(frozen=True)
class Admitted:
    """What an admission decided, and what it closed on the way."""

    # The session's attempts closed on the way (lost or expired).
    closed: list[Attempt] = field(default_factory=list)
    # Set when the limiter was not asked: the session is at its allowance or every test
    # number awaits a code. How many of the pair's attempts await one.
    busy: int | None = None
    decision: Decision | None = None
    # The attempt opened, when granted and `Entry.open`.
    attempt: Attempt | None = None


class Admission(Protocol):
    def admit(self, entry: Entry) -> Admitted:
        """Decide `entry`; raise `LimiterUnavailable` when the limiter cannot decide."""
        ...


class SqlAdmission:
    """`Admission` in one transaction of the metrics database, in the country's turn
    (`SqlLimiter.turn`: its lock is taken first), so that, as in Redis, nothing of
    another lease of the country comes between the check, the grant and the number."""

    def __init__(self, *, store: AttemptStore, limiter: SqlLimiter) -> None:
        self._store = store
        self._limiter = limiter

    def admit(self, entry: Entry) -> Admitted:
        with unavailable_as_limiter_error(), self._limiter.turn(entry.ask.country) as turn:
            return self._admit(turn, entry)

    def _admit(self, turn: CountryTurn, entry: Entry) -> Admitted:
        store, connection, session = self._store, turn.connection, entry.session
        now = from_ms(turn.now)
        busy = store.open_in_pair_on(connection, entry.attempt.pair, leased_since=now - entry.ttl)
        closed: list[Attempt] = []
        if entry.in_flight is not None:
            carried = set(entry.in_flight)
            lost = [id_ for id_, owner, _ in busy if owner == session and id_ not in carried]
            if lost:
                closed = store.close_lost_on(connection, lost, session=session, now=now)
                busy = [found for found in busy if found[0] not in lost]
        mine = sum(1 for _, owner, _ in busy if owner == session)
        taken = {phone for _, _, phone in busy}
        if mine >= entry.limit or not set(entry.phones) - taken - entry.withheld:
            return Admitted(closed=closed, busy=len(busy))
        decision = self._limiter.decide(turn, entry.ask)
        if not decision.granted or not entry.open:
            return Admitted(closed=closed, decision=decision)
        attempt, terms = lease_terms(entry, at=decision.at)
        attempt, expired = store.lease_on(connection, attempt, busy=taken, **terms)
        return Admitted(closed=closed + expired, decision=decision, attempt=attempt)


class LeaseTerms(TypedDict):
    """The terms of `Ledger.lease` (and `AttemptStore.lease_on`) besides the attempt."""

    rotate: Sequence[str]
    expire_before: datetime | None
    now: datetime
    open_since: datetime


def lease_terms(
    entry: Entry, *, at: datetime, phone: str | None = None
) -> tuple[Attempt, LeaseTerms]:
    """The entry's attempt leased `at`, and the terms to open it with: on the pair's next
    free number not kept for a waiting send, or on `phone` (an on-demand send's own)."""
    attempt = entry.attempt.model_copy(update={"leased_at": at, "phone": phone or ""})
    rotate: Sequence[str] = ()
    if phone is None:
        rotate = [p for p in entry.phones if p not in entry.kept] if entry.kept else entry.phones
    return attempt, LeaseTerms(
        rotate=rotate,
        expire_before=at - entry.ttl if entry.expire else None,
        now=at,
        open_since=at - entry.ttl,
    )
