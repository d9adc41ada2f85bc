"""metrics: attempts broken off after their SMS was sent count in sent (broken_off_sent)

An attempt broken off (`interrupted`, `lease_lost`, `lease_expired`) whose SMS had
reached the gateway (`sent_at` set) was sent all the same: a pair paused or stopped
breaks off its programs' attempts in flight. `metrics_minute`, `metrics_hour` and
`metrics_hour_country` get a `broken_off_sent` column, the attempts of `broken_off` whose
SMS had been sent, which `sent` counts (not `completed`, `failed` or the success rate).

The minute rows are filled from the raw attempts still kept (older ones stay at 0: their
attempts are gone), the hours from the minutes and the countries' hours from the hours.
The week series gain the same figure (6 to an hour, before p95): they are refolded from
the hours, all of them, with the code's fold (which 0018 did before; it also fills them
for a store from before 0013). `sms_metrics.success_rate` may be null: a minute whose SMS
were all broken off after sending has a row (they were sent) and no rate. Going back
takes the figure off the series, drops the columns and those rows.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.metrics.rollups import refold_series_from_hours

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ROLLUPS = ("metrics_minute", "metrics_hour", "metrics_hour_country")
# The codes of an attempt broken off, at this revision.
BROKEN_OFF_CODES = ("interrupted", "lease_expired", "lease_lost")
# The week series' figures an hour before this revision (delivered, not delivered,
# failed, granted, p95): 5 little-endian 32-bit integers; the new one goes before p95.
HOUR_BYTES_BEFORE = 20
BROKEN_OFF_SENT_OFFSET = 16


def _datetime() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql")


attempts = sa.table(
    "attempts",
    *map(sa.column, ("pair", "program", "outcome", "error_code")),
    sa.column("sent_at", _datetime()),
    sa.column("completed_at", _datetime()),
)
state = sa.table("metrics_state", sa.column("name"), sa.column("at", _datetime()))
# A rollup row's bucket and the rest of its key.
Key = tuple[datetime, *tuple[str, ...]]


def upgrade() -> None:
    connection = op.get_bind()
    for name in ROLLUPS:
        op.add_column(
            name, sa.Column("broken_off_sent", sa.Integer(), nullable=False, server_default="0")
        )
    _fill_minutes(connection)
    _fill_hours(connection)
    _fill_countries(connection)
    connection.execute(sa.text("DELETE FROM metrics_week_series"))
    _refold_week_series(connection)
    # A minute whose SMS were all broken off after sending judged nothing: its row says
    # them sent, with no success rate.
    with op.batch_alter_table("sms_metrics") as batch:
        batch.alter_column("success_rate", existing_type=sa.Float(), nullable=True)


def _fill_minutes(connection: sa.Connection) -> None:
    """Minute rows from the raw attempts kept: those broken off after sending, by the
    minute they completed in, pair and program."""
    purged = connection.execute(
        sa.select(state.c.at).where(state.c.name == "purged_until")
    ).scalar()
    query = sa.select(attempts.c.completed_at, attempts.c.pair, attempts.c.program).where(
        attempts.c.outcome == "error",
        attempts.c.error_code.in_(BROKEN_OFF_CODES),
        attempts.c.sent_at.is_not(None),
        attempts.c.completed_at.is_not(None),
    )
    if purged is not None:
        query = query.where(attempts.c.completed_at >= purged)
    counts: Counter[Key] = Counter()
    for completed_at, pair, program in connection.execute(query):
        counts[(_floor(completed_at, timedelta(minutes=1)), pair, program)] += 1
    _write(connection, "metrics_minute", ("pair", "program"), counts)


def _fill_hours(connection: sa.Connection) -> None:
    """Hour rows from their minutes."""
    minutes = sa.table(
        "metrics_minute",
        sa.column("bucket", _datetime()),
        *map(sa.column, ("pair", "program", "broken_off_sent")),
    )
    query = sa.select(minutes).where(minutes.c.broken_off_sent > 0)
    counts: Counter[Key] = Counter()
    for bucket, pair, program, n in connection.execute(query):
        counts[(_floor(bucket, timedelta(hours=1)), pair, program)] += int(n)
    _write(connection, "metrics_hour", ("pair", "program"), counts)


def _fill_countries(connection: sa.Connection) -> None:
    """Countries' hour rows from the hours of their pairs."""
    hours = sa.table(
        "metrics_hour",
        sa.column("bucket", _datetime()),
        *map(sa.column, ("country", "broken_off_sent")),
    )
    query = sa.select(hours).where(hours.c.broken_off_sent > 0)
    counts: Counter[Key] = Counter()
    for bucket, country, n in connection.execute(query):
        counts[(_naive(bucket), country)] += int(n)
    _write(connection, "metrics_hour_country", ("country",), counts)


def _write(
    connection: sa.Connection,
    name: str,
    key: tuple[str, ...],
    counts: Counter[Key],
) -> None:
    """Set `broken_off_sent` of the rows of `name` at their keys (bucket, *key)."""
    if not counts:
        return
    table = sa.table(
        name, sa.column("bucket", _datetime()), *map(sa.column, (*key, "broken_off_sent"))
    )
    statement = (
        table.update()
        .where(
            table.c.bucket == sa.bindparam("b_bucket", type_=_datetime()),
            *(table.c[column] == sa.bindparam(f"b_{column}") for column in key),
        )
        .values(broken_off_sent=sa.bindparam("b_n"))
    )
    rows = [
        {"b_bucket": where[0], **{f"b_{c}": v for c, v in zip(key, where[1:], strict=True)}}
        | {"b_n": n}
        for where, n in sorted(counts.items())
    ]
    connection.execute(statement, rows)


def _naive(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=None)


def _floor(value: datetime | str, step: timedelta) -> datetime:
    moment = _naive(value)
    return moment - (moment - datetime(1970, 1, 1)) % step


def _refold_week_series(connection: sa.Connection) -> None:
    """A day at a time from the hours (the code's fold, as at this revision)."""
    first, last = connection.execute(
        sa.text("SELECT MIN(bucket), MAX(bucket) FROM metrics_hour")
    ).one()
    if first is None:
        return
    day = _naive(first).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
    while day <= _naive(last).replace(tzinfo=UTC):
        refold_series_from_hours(connection, day, day + timedelta(days=1))
        day += timedelta(days=1)


def downgrade() -> None:
    connection = op.get_bind()
    blobs = sa.table(
        "metrics_week_series",
        *map(sa.column, ("week", "kind", "group_key")),
        sa.column("hours", sa.LargeBinary()),
    )
    rows = connection.execute(sa.select(blobs)).all()
    hour_bytes = HOUR_BYTES_BEFORE + 4
    cut = BROKEN_OFF_SENT_OFFSET
    for week, kind, key, hours in rows:
        before = b"".join(
            hours[at : at + cut] + hours[at + cut + 4 : at + hour_bytes]
            for at in range(0, len(hours), hour_bytes)
        )
        connection.execute(
            blobs.update()
            .where(blobs.c.week == week, blobs.c.kind == kind, blobs.c.group_key == key)
            .values(hours=before)
        )
    for name in ROLLUPS:
        op.drop_column(name, "broken_off_sent")
    connection.execute(sa.text("DELETE FROM sms_metrics WHERE success_rate IS NULL"))
    with op.batch_alter_table("sms_metrics") as batch:
        batch.alter_column("success_rate", existing_type=sa.Float(), nullable=False)
