"""The limiter on the metrics database: one serialised transaction per decision.

Every decision of a country first locks that country's row (`SELECT … FOR UPDATE`
on MySQL/MariaDB); SQLite has no row locks, so the transaction starts with
`BEGIN IMMEDIATE`, which takes the database's write lock up front. Either way,
decisions of one country run one after the other across threads, processes and
(MySQL) hosts, and each sees everything the previous one wrote (on MySQL, as the
engine's connections read committed: `create_sql_engine`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import InterfaceError, OperationalError

from smsfleet.core.clock import Clock
from smsfleet.dispatch.limiter import (
    Ask,
    AskerState,
    Decision,
    LimiterPolicy,
    LimiterUnavailable,
    Schedule,
    Window,
    asker_key,
    decide_in,
    from_ms,
    to_ms,
)
from smsfleet.dispatch.store import (
    dispatch_asks_table,
    dispatch_countries_table,
    dispatch_grants_table,
)

__all__ = ["CountryTurn", "SqlLimiter", "unavailable_as_limiter_error"]

_countries = dispatch_countries_table
_asks = dispatch_asks_table
_grants = dispatch_grants_table
_PRUNE_EVERY_MS = 1_000


@dataclass(frozen=True)
class CountryTurn:
    """A country's turn to decide (`SqlLimiter.turn`)."""

    connection: Connection
    last_slot: int | None
    now: int  # ms, read under the country's lock


@contextmanager
def unavailable_as_limiter_error() -> Iterator[None]:
    """The database unreachable: no decision (`LimiterUnavailable`), so no grant."""
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        raise LimiterUnavailable(f"database: {error.orig}") from error


# The statements of a decision, built once (an UPDATE's own columns name its values,
# so its WHERE takes `key_…` parameters): a statement built per call costs more CPU
# (building it, then its cache key) than the database takes to run it.
_ACTIVE = sa.or_(
    _asks.c.last_ask_ms > sa.bindparam("asked_after"),
    _asks.c.due_ms >= sa.bindparam("due_after"),
)  # `limiter.is_active` in SQL
_ADD_COUNTRY = sa.insert(_countries)
_LOCK = (
    sa.select(_countries.c.last_slot_ms)
    .where(_countries.c.country == sa.bindparam("country"))
    .with_for_update()
)
_ACTIVE_ASKERS = sa.select(_asks).where(_asks.c.country == sa.bindparam("country"), _ACTIVE)
_IN_WINDOW = sa.and_(
    _grants.c.country == sa.bindparam("country"), _grants.c.at_ms > sa.bindparam("since")
)
_WINDOW = (
    sa.select(_grants.c.pair, _grants.c.program, sa.func.count())
    .where(_IN_WINDOW)
    .group_by(_grants.c.pair, _grants.c.program)
)
_FREEING = (
    sa.select(_grants.c.at_ms)
    .where(_IN_WINDOW)
    .order_by(_grants.c.at_ms.desc())
    .offset(sa.bindparam("offset", type_=sa.Integer))
    .limit(1)
)
_PRUNE_GRANTS = sa.delete(_grants).where(
    _grants.c.country == sa.bindparam("country"), _grants.c.at_ms <= sa.bindparam("since")
)
_PRUNE_ASKERS = sa.delete(_asks).where(_asks.c.country == sa.bindparam("country"), sa.not_(_ACTIVE))
_UPDATE_ASKER = sa.update(_asks).where(
    _asks.c.country == sa.bindparam("key_country"),
    _asks.c.pair == sa.bindparam("key_pair"),
    _asks.c.program == sa.bindparam("key_program"),
)
_ADD_ASKER = sa.insert(_asks)
_ADD_GRANT = sa.insert(_grants)
_MOVE_SLOT = sa.update(_countries).where(_countries.c.country == sa.bindparam("key_country"))


def _asker_state(row: RowMapping) -> AskerState:
    return AskerState(
        pair=row["pair"],
        program=row["program"],
        last_ask=row["last_ask_ms"],
        waiting_since=row["waiting_since_ms"],
        due=row["due_ms"],
        pair_weight=row["pair_weight"],
        program_weight=row["program_weight"],
    )


class SqlLimiter:
    def __init__(
        self, engine: Engine, *, clock: Clock, policy: LimiterPolicy | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._policy = policy or LimiterPolicy()
        self._sqlite = engine.dialect.name == "sqlite"
        self._known_countries: set[str] = set()
        self._pruned_ms: dict[str, int] = {}

    def close(self) -> None:
        """Nothing of its own to release: the engine belongs to the caller."""

    @contextmanager
    def _serialised(self) -> Iterator[Connection]:
        with self._engine.connect() as connection:
            if self._sqlite:
                # The driver's own transaction handling would start with a deferred
                # BEGIN; take the write lock explicitly instead.
                connection.execution_options(isolation_level="AUTOCOMMIT")
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield connection
                except BaseException:
                    connection.exec_driver_sql("ROLLBACK")
                    raise
                connection.exec_driver_sql("COMMIT")
            else:
                # Under the country lock each statement must see the latest commits: the
                # engine's connections read committed (`create_sql_engine`).
                with connection.begin():
                    yield connection

    def _ensure_country(self, country: str) -> None:
        if country in self._known_countries:
            return
        ignore = "OR IGNORE" if self._sqlite else "IGNORE"
        with self._engine.begin() as connection:
            connection.execute(_ADD_COUNTRY.prefix_with(ignore), {"country": country})
        self._known_countries.add(country)

    def acquire(self, ask: Ask) -> Decision:
        with unavailable_as_limiter_error(), self.turn(ask.country) as turn:
            return self.decide(turn, ask)

    @contextmanager
    def turn(self, country: str) -> Iterator[CountryTurn]:
        """The country's turn to decide: a transaction holding its lock, committed at the
        end of the block (rolled back on an error). The caller's own statements in
        `CountryTurn.connection` share it, so they are serialised with the decision."""
        self._ensure_country(country)
        with self._serialised() as connection:
            last_slot = connection.execute(_LOCK, {"country": country}).scalar_one()
            # Read under the lock, so the grant times are in lock order.
            now = to_ms(self._clock.now())
            yield CountryTurn(connection, last_slot, now)

    def decide(self, turn: CountryTurn, ask: Ask) -> Decision:
        """Decide `ask` in its country's turn (once a turn)."""
        connection, now = turn.connection, turn.now
        state = Schedule(
            last_slot=turn.last_slot, askers=self._askers(connection, ask.country, now)
        )
        window = self._window(connection, ask, now)
        verdict = decide_in(window, state, ask, now, self._policy)
        self._save(connection, ask.country, verdict.asker, now)
        if verdict.granted:
            connection.execute(
                _ADD_GRANT,
                {"country": ask.country, "at_ms": now, "pair": ask.pair, "program": ask.program},
            )
            connection.execute(
                _MOVE_SLOT, {"key_country": ask.country, "last_slot_ms": state.last_slot}
            )
        return Decision(
            granted=verdict.granted, retry_after=verdict.wait_ms / 1000, at=from_ms(now)
        )

    def _window(self, connection: Connection, ask: Ask, now: int) -> Window:
        """The window's grants counted in the database: a few rows, not one per grant."""
        in_window = {"country": ask.country, "since": now - self._policy.window_ms}
        groups = connection.execute(_WINDOW, in_window).all()
        pair_counts: Counter[str] = Counter()
        program_counts: dict[str, int] = {}
        for pair, program, count in groups:
            pair_counts[pair] += count
            program_counts[asker_key(pair, program)] = count
        count = sum(program_counts.values())
        freeing = None
        if count >= ask.cap:
            freeing = connection.execute(
                _FREEING, {**in_window, "offset": ask.cap - 1}
            ).scalar_one()
        return Window(
            count=count, freeing=freeing, pair_counts=pair_counts, program_counts=program_counts
        )

    def _askers(self, connection: Connection, country: str, now: int) -> dict[str, AskerState]:
        rows = connection.execute(
            _ACTIVE_ASKERS, {"country": country, **self._active(now)}
        ).mappings()
        return {asker_key(row["pair"], row["program"]): _asker_state(row) for row in rows}

    def _active(self, now: int) -> dict[str, int]:
        """`_ACTIVE`'s parameters at `now`."""
        policy = self._policy
        return {"asked_after": now - policy.active_ms, "due_after": now - policy.grace_ms}

    def _save(self, connection: Connection, country: str, asker: AskerState, now: int) -> None:
        policy = self._policy
        # Pruning only bounds the tables (`_load` reads past them): once a second will do.
        pruned = self._pruned_ms.get(country)
        if pruned is None or not pruned <= now < pruned + _PRUNE_EVERY_MS:
            connection.execute(_PRUNE_GRANTS, {"country": country, "since": now - policy.window_ms})
            connection.execute(_PRUNE_ASKERS, {"country": country, **self._active(now)})
            self._pruned_ms[country] = now
        values = {
            "last_ask_ms": asker.last_ask,
            "waiting_since_ms": asker.waiting_since,
            "due_ms": asker.due,
            "pair_weight": asker.pair_weight,
            "program_weight": asker.program_weight,
        }
        key = {"key_country": country, "key_pair": asker.pair, "key_program": asker.program}
        # The country lock is held, so update-then-insert cannot race another decider.
        if not connection.execute(_UPDATE_ASKER, {**key, **values}).rowcount:
            connection.execute(
                _ADD_ASKER,
                {"country": country, "pair": asker.pair, "program": asker.program, **values},
            )

    def withdraw(self, *, country: str, pair: str, program: str | None = None) -> None:
        query = sa.delete(_asks).where(_asks.c.country == country, _asks.c.pair == pair)
        if program is not None:
            query = query.where(_asks.c.program == program)
        with self._engine.begin() as connection:
            connection.execute(query)
