"""request log: which account of its owner's name made a request (owner_since)

`api_requests`, `api_usage_daily` and `api_usage_latency_daily` get `owner_since`, when
the owner's account was made, part of the rollups' keys: an account deleted and made
again under its name is another owner, whose analytics show none of the old one's use.

Rows from before hold 1970-01-01 00:00:00 (no account said). The analytics give such a
row to the account of its name only from the day after that account was made (on that
day it may be an earlier account's); admins see every row, as before. The rollups are
made again with the new key (created, filled, swapped in); going back folds the rows of
the accounts of a name together again.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

LEGACY_SINCE = datetime(1970, 1, 1)
# As SQLite keeps a DATETIME (text), so rows added by default compare equal to it.
LEGACY_DEFAULT = "'1970-01-01 00:00:00.000000'"
BUCKETS = [f"b{index:02d}" for index in range(13)]
DAILY_COUNTERS = ["requests", "client_errors", "server_errors", "latency_sum_ms", *BUCKETS]
BEFORE = ("day", "owner", "key_id", "method", "route")
AFTER = ("day", "owner", "owner_since", "key_id", "method", "route")


def _datetime() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql")


def _keys(with_since: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
    ]
    if with_since:
        columns.append(sa.Column("owner_since", _datetime(), nullable=False))
    return [
        *columns,
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=160), nullable=False),
    ]


def _daily(name: str, *, with_since: bool) -> None:
    op.create_table(
        name,
        *_keys(with_since),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("client_errors", sa.BigInteger(), nullable=False),
        sa.Column("server_errors", sa.BigInteger(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        *(sa.Column(bucket, sa.BigInteger(), nullable=False) for bucket in BUCKETS),
        sa.PrimaryKeyConstraint(*(AFTER if with_since else BEFORE)),
        **table_options(op.get_bind()),
    )


def _latency(name: str, *, with_since: bool) -> None:
    op.create_table(
        name,
        *_keys(with_since),
        sa.Column("bin", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*(AFTER if with_since else BEFORE), "bin"),
        **table_options(op.get_bind()),
    )


def _swap(name: str, counters: list[str], *, with_since: bool) -> None:
    """Fill `<name>_new` from `name` (every row as no account's, or the accounts of a
    name folded together), then put it in its place, with its indexes."""
    connection = op.get_bind()
    keys = [*BEFORE] if name == "api_usage_daily" else [*BEFORE, "bin"]
    listed = ", ".join(keys)
    if with_since:
        connection.execute(
            sa.text(
                f"INSERT INTO {name}_new ({listed}, owner_since, {', '.join(counters)}) "  # noqa: S608 (names are ours)
                f"SELECT {listed}, :since, {', '.join(counters)} FROM {name}"
            ).bindparams(sa.bindparam("since", LEGACY_SINCE, type_=sa.DateTime()))
        )
    else:
        summed = ", ".join(f"SUM({counter})" for counter in counters)
        op.execute(
            f"INSERT INTO {name}_new ({listed}, {', '.join(counters)}) "  # noqa: S608 (names are ours)
            f"SELECT {listed}, {summed} FROM {name} GROUP BY {listed}"
        )
    op.drop_table(name)
    op.rename_table(f"{name}_new", name)
    op.create_index(f"ix_{name}_key_day", name, ["key_id", "day"])
    op.create_index(f"ix_{name}_owner_day", name, ["owner", "day"])


def upgrade() -> None:
    op.add_column(
        "api_requests",
        sa.Column(
            "owner_since", _datetime(), nullable=False, server_default=sa.text(LEGACY_DEFAULT)
        ),
    )
    _daily("api_usage_daily_new", with_since=True)
    _swap("api_usage_daily", DAILY_COUNTERS, with_since=True)
    _latency("api_usage_latency_daily_new", with_since=True)
    _swap("api_usage_latency_daily", ["n"], with_since=True)


def downgrade() -> None:
    _daily("api_usage_daily_new", with_since=False)
    _swap("api_usage_daily", DAILY_COUNTERS, with_since=False)
    _latency("api_usage_latency_daily_new", with_since=False)
    _swap("api_usage_latency_daily", ["n"], with_since=False)
    with op.batch_alter_table("api_requests") as batch:
        batch.drop_column("owner_since")
