"""The attempts ledger in the metrics store: the table and every query over it."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection, Engine

from smsfleet.attempts.ledger import OpenLease, ReportBeforeLease, SentNotice, next_phone
from smsfleet.attempts.models import (
    BROKEN_OFF_CODES,
    GRANT_STALE,
    Attempt,
    Completion,
    Outcome,
)
from smsfleet.core.sql import DateTimeColumn, aware_utc, metrics_metadata, naive_utc, pages_since

__all__ = ["AttemptStore", "CountryGrants", "Subject", "attempts_table", "broken_off"]

# What completed attempts are counted by.
Subject = Literal["pair", "country", "program"]
# Purged in chunks, so the table is never locked for long.
DELETE_CHUNK = 5_000
# Subjects counted from their own starts in one query (`completed_counts`): two bound
# values each, well within what SQLite binds in one statement.
STARTS_CHUNK = 500

log = logging.getLogger("smsfleet.attempts")

attempts_table = sa.Table(
    "attempts",
    metrics_metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session", sa.String(80), nullable=False),
    sa.Column("pair", sa.String(40), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("operator", sa.String(32), nullable=False),
    sa.Column("program", sa.String(32), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("leased_at", DateTimeColumn, nullable=False),
    sa.Column("sent_at", DateTimeColumn),
    sa.Column("delivered_at", DateTimeColumn),
    sa.Column("completed_at", DateTimeColumn),
    sa.Column("outcome", sa.String(16)),
    sa.Column("error_code", sa.String(64)),
    sa.Column("latency_ms", sa.Integer),
    sa.Column("provider", sa.String(64)),
    sa.Index("ix_attempts_pair_leased_at", "pair", "leased_at"),
    sa.Index("ix_attempts_program_leased_at", "program", "leased_at"),
    sa.Index("ix_attempts_country_leased_at", "country", "leased_at"),
    sa.Index("ix_attempts_session_leased_at", "session", "leased_at"),
    sa.Index("ix_attempts_completed_at", "completed_at"),
    # The fleet's grants per minute, counted by lease time (metrics rollups).
    sa.Index("ix_attempts_leased_at", "leased_at"),
    # A number's conversation, and the attempt an inbound SMS verifies.
    sa.Index("ix_attempts_phone_leased_at", "phone", "leased_at"),
)

# `models.is_broken_off` in SQL (never NULL, so its negation is safe to count with).
broken_off: sa.ColumnElement[bool] = sa.and_(
    attempts_table.c.outcome == Outcome.error.value,
    sa.func.coalesce(attempts_table.c.error_code, "").in_(sorted(BROKEN_OFF_CODES)),
)


def earliest(connection: Connection) -> datetime | None:
    """The ledger's first lease or completion (None: it is empty): where rollups, which
    count grants by lease time and outcomes by completion time, begin."""
    c = attempts_table.c
    query = sa.select(sa.func.min(c.leased_at), sa.func.min(c.completed_at))
    moments = [aware_utc(value) for value in connection.execute(query).one() if value is not None]
    return min(moments, default=None)


# What a report or a close sets on an open attempt.
_OUTCOME_COLUMNS = tuple(Completion.model_fields)
# What a program may tell of an open attempt before its report (`mark_sent`).
_TOLD_BEFORE_REPORT = ("sent_at", "provider")


@cache
def _upsert(dialect: str) -> sa.Insert:
    """One statement (a multi-row insert for a batch): an attempt missing is inserted as
    it is; an open one takes the outcome it comes with, or, coming open, when its SMS
    left (told before its report), if it does not know yet; a closed one stays as it was;
    any other conflict fails. Built once for each dialect."""
    table = attempts_table
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=["id"],
            set_=_open_row_takes(table, lite.excluded),
            where=table.c.outcome.is_(None),
        )
    maria = mysql.insert(table)
    taken = _open_row_takes(table, maria.inserted)
    # MariaDB assigns in order and later assignments see earlier ones: `outcome`, which
    # the conditions read, goes last.
    ordered = sorted(_OUTCOME_COLUMNS, key=lambda name: name == "outcome")
    return maria.on_duplicate_key_update(
        [
            (name, sa.case((table.c.outcome.is_(None), taken[name]), else_=table.c[name]))
            for name in ordered
        ]
    )


def _open_row_takes(table: sa.Table, coming: Any) -> dict[str, sa.ColumnElement[Any]]:
    """What an open row takes of the same attempt `coming` (the insert's excluded row):
    all of it closed; open, only what its program told before its report."""
    closed = coming.outcome.is_not(None)
    return {
        name: sa.case(
            (closed, coming[name]),
            else_=sa.func.coalesce(table.c[name], coming[name])
            if name in _TOLD_BEFORE_REPORT
            else table.c[name],
        )
        for name in _OUTCOME_COLUMNS
    }


# The statements of a lease and a report, built once: a statement built per call costs
# more CPU (building it, then its cache key) than the database takes to run it.
_OPEN_IN_PAIR = sa.select(
    attempts_table.c.id,
    attempts_table.c.session,
    attempts_table.c.phone,
    attempts_table.c.leased_at,
).where(
    attempts_table.c.pair == sa.bindparam("pair"),
    attempts_table.c.leased_at >= sa.bindparam("since"),
    attempts_table.c.outcome.is_(None),
)
_LAST_PHONE = (
    sa.select(attempts_table.c.phone)
    .where(attempts_table.c.pair == sa.bindparam("pair"))
    .order_by(attempts_table.c.leased_at.desc())
    .limit(1)
)
_ADD = sa.insert(attempts_table)
_EXPIRED = sa.select(attempts_table).where(
    attempts_table.c.session == sa.bindparam("session"),
    attempts_table.c.outcome.is_(None),
    attempts_table.c.leased_at < sa.bindparam("before"),
)
# Every session's: read by the index of completion times, where the open ones are NULL.
_UNREPORTED = (
    sa.select(attempts_table)
    .where(
        attempts_table.c.completed_at.is_(None),
        attempts_table.c.outcome.is_(None),
        attempts_table.c.leased_at < sa.bindparam("before"),
    )
    .limit(sa.bindparam("limit"))
)
_LOST = sa.select(attempts_table).where(
    attempts_table.c.id.in_(sa.bindparam("ids", expanding=True)),
    attempts_table.c.session == sa.bindparam("session"),
    attempts_table.c.outcome.is_(None),
)
_REPORT = (
    sa.update(attempts_table)
    .where(
        attempts_table.c.id == sa.bindparam("key_id"),
        attempts_table.c.session == sa.bindparam("key_session"),
        attempts_table.c.outcome.is_(None),
    )
    .values(
        # A report that leaves out when its SMS left keeps what its program told before,
        # unless it says it never left (`Completion.keeps_told`).
        {
            name: sa.case(
                (
                    sa.bindparam("keep_told", type_=sa.Boolean),
                    sa.func.coalesce(sa.bindparam(f"set_{name}"), attempts_table.c[name]),
                ),
                else_=sa.bindparam(f"set_{name}"),
            )
            if name in _TOLD_BEFORE_REPORT
            else sa.bindparam(f"set_{name}")
            for name in _OUTCOME_COLUMNS
        }
    )
)
# A report that names times: its attempt leased by the latest they allow.
_REPORT_LEASED_BY = _REPORT.where(attempts_table.c.leased_at <= sa.bindparam("leased_by"))
_MARK_SENT = (
    sa.update(attempts_table)
    .where(
        attempts_table.c.id == sa.bindparam("key_id"),
        attempts_table.c.session == sa.bindparam("key_session"),
        attempts_table.c.outcome.is_(None),
        attempts_table.c.sent_at.is_(None),
        attempts_table.c.leased_at <= sa.bindparam("leased_by"),
    )
    .values(
        sent_at=sa.bindparam("set_sent_at"),
        provider=sa.func.coalesce(sa.bindparam("set_provider"), attempts_table.c.provider),
    )
)
_GIVE_UP = sa.update(attempts_table).where(
    attempts_table.c.id.in_(sa.bindparam("ids", expanding=True)),
    attempts_table.c.outcome.is_(None),
)
_ONE = sa.select(attempts_table).where(attempts_table.c.id == sa.bindparam("id"))
_THESE = sa.select(attempts_table).where(
    attempts_table.c.id.in_(sa.bindparam("ids", expanding=True))
)
# Of the session's attempts named, those open that a notice of their send would mark.
_UNMARKED = sa.select(attempts_table.c.id).where(
    attempts_table.c.id.in_(sa.bindparam("ids", expanding=True)),
    attempts_table.c.session == sa.bindparam("session"),
    attempts_table.c.outcome.is_(None),
    attempts_table.c.sent_at.is_(None),
)


def _give_up_each(
    connection: sa.Connection, attempts: Sequence[Attempt], *, error_code: str, now: datetime
) -> list[Attempt]:
    """Close each of `attempts` still open as an error with `error_code`, and return those
    this call closed. Each by its own guarded update: one another closer (a report, the
    leader's sweep, a lease of its session) closed meanwhile keeps how it was closed, and
    is not returned, so it is told once."""
    closed = []
    for attempt in attempts:
        given_up = connection.execute(
            _GIVE_UP,
            {
                "ids": [attempt.id],
                "outcome": Outcome.error.value,
                "error_code": error_code,
                "completed_at": naive_utc(now),
            },
        )
        if given_up.rowcount:
            closed.append(attempt.id)
    if not closed:
        return []
    # Read again: their programs may have told when their SMS left since they were read.
    rows = connection.execute(_THESE, {"ids": closed}).mappings()
    return [Attempt.model_validate(dict(row)) for row in rows]


def _columns(record: Attempt | Completion) -> dict[str, Any]:
    """A record's fields as the table's columns take them (times naive UTC)."""
    values: dict[str, Any] = record.model_dump()
    return {name: naive_utc(v) if isinstance(v, datetime) else v for name, v in values.items()}


class CountryGrants(NamedTuple):
    """A country's attempts leased in a span, how many the provider refused, and how many
    their programs gave up unsent (`grant_stale`)."""

    grants: int
    refused: int
    given_up: int


class AttemptStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, attempt: Attempt) -> None:
        self.add_many([attempt])

    def add_many(self, attempts: Sequence[Attempt]) -> None:
        """Insert several attempts in one statement and transaction (bulk ingest)."""
        if not attempts:
            return
        with self._engine.begin() as connection:
            connection.execute(sa.insert(attempts_table), [_columns(a) for a in attempts])

    def get(self, trigger_id: str) -> Attempt | None:
        with self._engine.connect() as connection:
            row = connection.execute(_ONE, {"id": trigger_id}).mappings().first()
        return Attempt.model_validate(dict(row)) if row else None

    def recent(
        self, *, limit: int, leased_before: datetime | None = None, **equals: str
    ) -> list[Attempt]:
        """The newest `limit` attempts (leased before then, if given) whose columns equal
        `equals`, newest first."""
        query = sa.select(attempts_table)
        for name, value in equals.items():
            query = query.where(attempts_table.c[name] == value)
        if leased_before is not None:
            query = query.where(attempts_table.c.leased_at < naive_utc(leased_before))
        query = query.order_by(attempts_table.c.leased_at.desc(), attempts_table.c.id)
        with self._engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).mappings()
            return [Attempt.model_validate(dict(row)) for row in rows]

    def completed_since(
        self, since: datetime | None, *, size: int = 1000
    ) -> Iterator[list[Attempt]]:
        """Attempts completed since then (None: all), oldest first, `size` a page."""
        table = attempts_table
        for rows in pages_since(
            self._engine,
            sa.select(table).where(table.c.completed_at.is_not(None)),
            moment=table.c.completed_at,
            tiebreak=table.c.id,
            since=since,
            size=size,
        ):
            yield [Attempt.model_validate(row) for row in rows]

    def open_in_pair(self, pair: str, *, leased_since: datetime) -> list[tuple[str, str, str]]:
        """(id, session, phone) of the pair's attempts leased since then, not yet reported."""
        with self._engine.connect() as connection:
            return self.open_in_pair_on(connection, pair, leased_since=leased_since)

    def open_in_pair_on(
        self, connection: sa.Connection, pair: str, *, leased_since: datetime
    ) -> list[tuple[str, str, str]]:
        """`open_in_pair` in the caller's transaction."""
        rows = connection.execute(_OPEN_IN_PAIR, {"pair": pair, "since": naive_utc(leased_since)})
        return [(id_, session, phone) for id_, session, phone, _ in rows]

    def open_leases(self, pair: str, *, leased_since: datetime) -> list[OpenLease]:
        """`open_in_pair` with each one's lease time, to say since when a number awaits."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                _OPEN_IN_PAIR, {"pair": pair, "since": naive_utc(leased_since)}
            ).all()
        return [OpenLease(id_, phone, aware_utc(leased)) for id_, _, phone, leased in rows]

    def close_lost_on(
        self, connection: sa.Connection, ids: Sequence[str], *, session: str, now: datetime
    ) -> list[Attempt]:
        """Close, in the caller's transaction, the session's open attempts that its
        program says it does not carry (`lease_lost`); returns those it closed."""
        found = {"ids": list(ids), "session": session}
        return self._close(connection, _LOST, found, error_code="lease_lost", now=now)

    def granted_by_country(self, *, since: datetime) -> dict[str, CountryGrants]:
        """Per country: attempts leased since then, how many of those the provider
        refused (at once), and how many their programs gave up unsent."""
        table = attempts_table
        refused = sa.func.sum(sa.case((table.c.outcome == Outcome.send_failed.value, 1), else_=0))
        given_up = sa.func.sum(sa.case((table.c.error_code == GRANT_STALE, 1), else_=0))
        query = (
            sa.select(table.c.country, sa.func.count(), refused, given_up)
            .where(table.c.leased_at >= naive_utc(since))
            .group_by(table.c.country)
        )
        with self._engine.connect() as connection:
            return {
                country: CountryGrants(int(count), int(failed or 0), int(stale or 0))
                for country, count, failed, stale in connection.execute(query)
            }

    def awaiting_by_pair(
        self, *, leased_since: datetime, now: datetime
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Per (country, pair): attempts leased since then and not yet reported (each
        holds a test number), and how many of them were leased over a minute ago."""
        table = attempts_table
        stale = sa.func.sum(
            sa.case((table.c.leased_at < naive_utc(now - timedelta(minutes=1)), 1), else_=0)
        )
        query = (
            sa.select(table.c.country, table.c.pair, sa.func.count(), stale)
            .where(table.c.leased_at >= naive_utc(leased_since), table.c.outcome.is_(None))
            .group_by(table.c.country, table.c.pair)
        )
        with self._engine.connect() as connection:
            return {
                (country, pair): (int(count), int(old or 0))
                for country, pair, count, old in connection.execute(query)
            }

    def cycle_seconds(
        self,
        pair: str,
        *,
        sample: int,
        open_since: datetime,
        now: datetime,
        leased_since: datetime | None = None,
    ) -> tuple[float, int] | None:
        """Mean lease-to-report time of the pair, and how many completed attempts it saw.

        Measured on the latest `sample` completed attempts (leased since `leased_since`,
        when given) and on the attempts still open (leased since `open_since` and
        `leased_since`), counted at their age so far: an SMS that is never delivered
        completes only when the gateway gives up, and left out it would make the first
        minutes look faster than they are.
        """
        table = attempts_table
        since = [] if leased_since is None else [table.c.leased_at >= naive_utc(leased_since)]
        completed = (
            sa.select(table.c.leased_at, table.c.completed_at)
            .where(table.c.pair == pair, table.c.completed_at.is_not(None), *since)
            .order_by(table.c.leased_at.desc())
            .limit(sample)
        )
        still_open = sa.select(table.c.leased_at).where(
            table.c.pair == pair,
            table.c.leased_at >= naive_utc(open_since),
            table.c.outcome.is_(None),
            *since,
        )
        with self._engine.connect() as connection:
            done = connection.execute(completed).all()
            waiting = connection.execute(still_open).scalars().all()
        if not done:
            return None
        spans = [max(0.0, (end - start).total_seconds()) for start, end in done]
        spans += [max(0.0, (now - aware_utc(start)).total_seconds()) for start in waiting]
        return float(sum(spans) / len(spans)), len(done)

    def lease(
        self,
        attempt: Attempt,
        *,
        rotate: Sequence[str],
        expire_before: datetime | None,
        now: datetime,
        open_since: datetime,
    ) -> tuple[Attempt, list[Attempt]]:
        """Open an attempt in one transaction: see `Ledger.lease`."""
        with self._engine.begin() as connection:
            return self.lease_on(
                connection,
                attempt,
                rotate=rotate,
                expire_before=expire_before,
                now=now,
                open_since=open_since,
            )

    def lease_on(
        self,
        connection: sa.Connection,
        attempt: Attempt,
        *,
        rotate: Sequence[str],
        expire_before: datetime | None,
        now: datetime,
        open_since: datetime,
        busy: Collection[str] | None = None,
    ) -> tuple[Attempt, list[Attempt]]:
        """`lease` in the caller's transaction; `busy`: the numbers awaiting a code, when
        the caller has read them in it already."""
        expired: list[Attempt] = []
        if expire_before is not None:
            expired = self._expire(
                connection, session=attempt.session, leased_before=expire_before, now=now
            )
        if rotate:
            last = connection.execute(_LAST_PHONE, {"pair": attempt.pair}).scalar()
            if busy is None:
                busy = [
                    phone
                    for _, _, phone in self.open_in_pair_on(
                        connection, attempt.pair, leased_since=open_since
                    )
                ]
            phone = next_phone(rotate, last, busy=frozenset(busy))
            attempt = attempt.model_copy(update={"phone": phone})
        connection.execute(_ADD, _columns(attempt))
        return attempt, expired

    def last_leased(self, pair: str) -> datetime | None:
        query = sa.select(sa.func.max(attempts_table.c.leased_at)).where(
            attempts_table.c.pair == pair
        )
        with self._engine.connect() as connection:
            value = connection.execute(query).scalar()
        return aware_utc(value) if value is not None else None

    def apply(self, attempts: Sequence[Attempt]) -> None:
        """Store attempts as a ledger in front of this store saw them, in one transaction,
        whatever the order and however often each comes: an attempt missing is inserted
        as it is; an open one takes the outcome it comes with, or when its SMS left; a
        closed one stays as it was closed."""
        if not attempts:
            return
        latest: dict[str, Attempt] = {}
        for attempt in attempts:
            # Within the batch, an attempt closed supersedes it open, and open, it told
            # sent supersedes it before.
            earlier = latest.get(attempt.id)
            told_nothing = earlier is None or (earlier.outcome is None and earlier.sent_at is None)
            if told_nothing or attempt.outcome is not None:
                latest[attempt.id] = attempt
        with self._engine.begin() as connection:
            upsert = _upsert(connection.dialect.name)
            connection.execute(upsert, [_columns(a) for a in latest.values()])

    def report(
        self,
        trigger_id: str,
        *,
        session: str,
        completion: Completion,
        leased_by: datetime | None = None,
    ) -> tuple[Attempt | None, bool]:
        """Record the completion of the session's open attempt, in one transaction: see
        `Ledger.report`."""
        values: dict[str, Any] = {
            "key_id": trigger_id,
            "key_session": session,
            "keep_told": completion.keeps_told,
        }
        values |= {f"set_{name}": value for name, value in _columns(completion).items()}
        update = _REPORT
        if leased_by is not None:
            update, values["leased_by"] = _REPORT_LEASED_BY, naive_utc(leased_by)
        with self._engine.begin() as connection:
            closed = bool(connection.execute(update, values).rowcount)
            row = connection.execute(_ONE, {"id": trigger_id}).mappings().first()
        attempt = Attempt.model_validate(dict(row)) if row else None
        if not closed and attempt and attempt.outcome is None and attempt.session == session:
            # Its own and open, yet not closed: leased after `leased_by`.
            raise ReportBeforeLease(attempt)
        return attempt, closed

    def mark_sent(self, notices: Sequence[SentNotice], *, session: str) -> list[str]:
        """Record when each SMS left, in one transaction begun once one read found any to
        mark (a repeat writes nothing): see `Ledger.mark_sent`."""
        ids = list({notice.trigger_id for notice in notices})
        if not ids:
            return []
        with self._engine.connect() as connection:
            found = connection.execute(_UNMARKED, {"ids": ids, "session": session})
            unmarked = set(found.scalars())
        if not unmarked:
            return []
        with self._engine.begin() as connection:
            return [
                notice.trigger_id
                for notice in notices
                if notice.trigger_id in unmarked
                and connection.execute(
                    _MARK_SENT,
                    {
                        "key_id": notice.trigger_id,
                        "key_session": session,
                        "leased_by": naive_utc(notice.leased_by),
                        "set_sent_at": naive_utc(notice.sent_at),
                        "set_provider": notice.provider,
                    },
                ).rowcount
            ]

    def expire_unreported(
        self, *, leased_before: datetime, now: datetime, limit: int
    ) -> list[Attempt]:
        """Close, as `lease_expired`, at most `limit` open attempts leased before
        `leased_before`, whichever session leased them: see `Ledger.expire_unreported`."""
        return self.expire(self.unreported(leased_before=leased_before, limit=limit), now=now)

    def unreported(self, *, leased_before: datetime, limit: int) -> list[Attempt]:
        """At most `limit` open attempts leased before `leased_before`, of any session."""
        with self._engine.connect() as connection:
            found = connection.execute(
                _UNREPORTED, {"before": naive_utc(leased_before), "limit": limit}
            )
            return [Attempt.model_validate(dict(row)) for row in found.mappings()]

    def expire(self, attempts: Sequence[Attempt], *, now: datetime) -> list[Attempt]:
        """Close `attempts` as `lease_expired`, in one transaction begun by a write, and
        return those this call closed (`_give_up_each`)."""
        if not attempts:
            return []
        with self._engine.begin() as connection:
            return _give_up_each(connection, attempts, error_code="lease_expired", now=now)

    def _expire(
        self, connection: sa.Connection, *, session: str, leased_before: datetime, now: datetime
    ) -> list[Attempt]:
        found = {"session": session, "before": naive_utc(leased_before)}
        return self._close(connection, _EXPIRED, found, error_code="lease_expired", now=now)

    def _close(
        self,
        connection: sa.Connection,
        query: sa.Select[Any],
        found: dict[str, Any],
        *,
        error_code: str,
        now: datetime,
    ) -> list[Attempt]:
        """Give the open attempts `query` selects (with `found`) up as errors with
        `error_code`: those this call closed (`_give_up_each`)."""
        rows = connection.execute(query, found).mappings().all()
        attempts = [Attempt.model_validate(dict(row)) for row in rows]
        return _give_up_each(connection, attempts, error_code=error_code, now=now)

    # --- windows, retention ------------------------------------------------------------

    def completed_counts(
        self,
        *,
        by: Subject,
        start: datetime,
        end: datetime,
        newest: int,
        keys: Collection[str] | None = None,
        starts: Mapping[str, datetime] | None = None,
        newest_sent: bool = False,
    ) -> dict[str, tuple[int, int]]:
        """Per subject: how many attempts completed in (start, end], at most its `newest`
        latest, and how many of those were delivered. Attempts broken off are not counted;
        subjects without any are left out. With `starts`, the subjects it names only (as
        `keys`), each counting those sent after the later of `start` and its own start
        there: read together, in a query for every `STARTS_CHUNK` of them, not one each.
        `newest_sent`: the latest by lease, not by completion (an SMS given up on
        completes minutes after those sent after it)."""
        if starts is None:
            return self._completed_counts(by, start, end, newest, keys, None, newest_sent)
        own = sorted(starts.items())
        found: dict[str, tuple[int, int]] = {}
        for first in range(0, len(own), STARTS_CHUNK):
            chunk = dict(own[first : first + STARTS_CHUNK])
            found.update(self._completed_counts(by, start, end, newest, chunk, chunk, newest_sent))
        return found

    def _completed_counts(
        self,
        by: Subject,
        start: datetime,
        end: datetime,
        newest: int,
        keys: Collection[str] | None,
        starts: Mapping[str, datetime] | None,
        newest_sent: bool,
    ) -> dict[str, tuple[int, int]]:
        c = attempts_table.c
        subject = c[by]
        latest = c.leased_at if newest_sent else c.completed_at
        ranked = sa.select(
            subject.label("subject"),
            sa.case((c.outcome == Outcome.delivered.value, 1), else_=0).label("ok"),
            sa.func.row_number()
            .over(partition_by=subject, order_by=(latest.desc(), c.id))
            .label("rank"),
        ).where(
            c.completed_at > naive_utc(start),
            c.completed_at <= naive_utc(end),
            c.outcome.is_not(None),
            ~broken_off,
        )
        if keys is not None:
            if not keys:
                return {}
            ranked = ranked.where(subject.in_(list(keys)))
        if starts is not None:
            # Each subject's own start, before the ranking: its newest are of those sent
            # after it. One sent before and given up on after (a pause's last SMS, two
            # minutes later, when probing has begun) is of what came before.
            own_start = sa.case(
                {
                    key: sa.literal(naive_utc(max(start, since)), DateTimeColumn)
                    for key, since in starts.items()
                },
                value=subject,
            )
            ranked = ranked.where(c.leased_at > own_start)
        counted = ranked.subquery()
        select = (
            sa.select(counted.c.subject, sa.func.count(), sa.func.sum(counted.c.ok))
            .where(counted.c.rank <= newest)
            .group_by(counted.c.subject)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
        return {key: (int(samples), int(delivered or 0)) for key, samples, delivered in rows}

    def earliest(self) -> datetime | None:
        """The ledger's first lease or completion (None: it is empty)."""
        with self._engine.connect() as connection:
            return earliest(connection)

    def purge(self, *, before: datetime) -> int:
        """Delete the attempts completed before `before`, and the open ones leased before
        it (their session long gone). Returns the rows deleted."""
        c = attempts_table.c
        cutoff = naive_utc(before)
        old = sa.or_(
            sa.and_(c.outcome.is_not(None), c.completed_at < cutoff),
            sa.and_(c.outcome.is_(None), c.leased_at < cutoff),
        )
        deleted = 0
        while True:
            with self._engine.begin() as connection:
                ids = connection.execute(sa.select(c.id).where(old).limit(DELETE_CHUNK)).scalars()
                batch = list(ids)
                if batch:
                    connection.execute(attempts_table.delete().where(c.id.in_(batch)))
            deleted += len(batch)
            if len(batch) < DELETE_CHUNK:
                return deleted
