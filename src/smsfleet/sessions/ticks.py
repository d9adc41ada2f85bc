"""When a supervisor last carried out the desired state, and which one: so a command that
writes what should run can tell whether a control plane acts on it.

Kept in the metrics database (SQL on every profile, as the sessions' heartbeats are), one
row per leader by its name: the latest row is the fleet's last completed tick. A leader
writes its row at most once an `every` seconds, from the supervisor's thread, after a tick
that completed; rows of leaders gone for a day are dropped as it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.sql import (
    DateTimeColumn,
    aware_utc,
    in_transaction_again_on_race,
    metrics_metadata,
    naive_utc,
)

__all__ = ["RECORD_EVERY_SECONDS", "LastTick", "SupervisorTicks", "stale_after"]

# How often a leader writes that it ticks (its ticks are 1 s by default).
RECORD_EVERY_SECONDS = 5.0
# A tick may take this long besides its interval (a host slow to answer, a big fleet).
_MARGIN_SECONDS = 10.0
_FORGOTTEN_AFTER = timedelta(days=1)

supervisor_ticks_table = sa.Table(
    "supervisor_ticks",
    metrics_metadata,
    sa.Column("holder", sa.String(128), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False),
    # Its last tick was its last: it stopped (shut down, not killed) at `at`.
    sa.Column("stopped", sa.Boolean, nullable=False, server_default=sa.false()),
)


@dataclass(frozen=True)
class LastTick:
    """The last tick recorded: the leader's name (its host's) and when it completed;
    `stopped`: the leader stopped then, after that tick."""

    holder: str
    at: datetime
    stopped: bool = False


def stale_after(interval_seconds: float, every: float = RECORD_EVERY_SECONDS) -> timedelta:
    """How old the last recorded tick may be while a supervisor still ticks every
    `interval_seconds`: three ticks, the record's own pace and a margin."""
    return timedelta(seconds=3 * interval_seconds + every + _MARGIN_SECONDS)


class SupervisorTicks:
    def __init__(self, engine: Engine, *, every: float = RECORD_EVERY_SECONDS) -> None:
        self._engine = engine
        self._every = timedelta(seconds=every)
        self._written: LastTick | None = None

    def ticked(self, holder: str, at: datetime, *, stopped: bool = False) -> bool:
        """A tick of `holder` completed at `at`: written unless this process wrote one of
        the same holder less than `every` seconds before. True when written. `stopped`:
        the leader stops after it, written at once."""
        last = self._written
        if (
            not stopped
            and last is not None
            and last.holder == holder
            and timedelta(0) <= at - last.at < self._every
        ):
            return False
        table = supervisor_ticks_table

        def write(connection: sa.Connection) -> None:
            known = connection.execute(
                sa.select(table.c.holder).where(table.c.holder == holder)
            ).first()
            values = {"at": naive_utc(at), "stopped": stopped}
            if known is None:
                connection.execute(sa.insert(table).values(holder=holder, **values))
            else:
                connection.execute(sa.update(table).where(table.c.holder == holder).values(values))
            connection.execute(
                sa.delete(table).where(
                    table.c.holder != holder, table.c.at < naive_utc(at - _FORGOTTEN_AFTER)
                )
            )

        # Another process may insert the first row of the same name meanwhile.
        in_transaction_again_on_race(self._engine, write)
        self._written = LastTick(holder=holder, at=at, stopped=stopped)
        return True

    def last(self) -> LastTick | None:
        """The latest tick any leader recorded; None when none ever did."""
        table = supervisor_ticks_table
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(table.c.holder, table.c.at, table.c.stopped)
                .order_by(table.c.at.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return LastTick(holder=row.holder, at=aware_utc(row.at), stopped=bool(row.stopped))
