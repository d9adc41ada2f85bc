"""dispatch: attempts, session heartbeats, limiter state

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def upgrade() -> None:
    options = table_options(op.get_bind())
    op.create_table(
        "attempts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session", sa.String(length=80), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("operator", sa.String(length=32), nullable=False),
        sa.Column("program", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("leased_at", _datetime(), nullable=False),
        sa.Column("sent_at", _datetime(), nullable=True),
        sa.Column("delivered_at", _datetime(), nullable=True),
        sa.Column("completed_at", _datetime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        **options,
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_pair_leased_at", ["pair", "leased_at"], unique=False)
        batch_op.create_index(
            "ix_attempts_program_leased_at", ["program", "leased_at"], unique=False
        )
        batch_op.create_index(
            "ix_attempts_country_leased_at", ["country", "leased_at"], unique=False
        )
        batch_op.create_index(
            "ix_attempts_session_leased_at", ["session", "leased_at"], unique=False
        )
        batch_op.create_index("ix_attempts_completed_at", ["completed_at"], unique=False)

    op.create_table(
        "session_heartbeats",
        sa.Column("session", sa.String(length=80), nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.PrimaryKeyConstraint("session"),
        **options,
    )

    op.create_table(
        "dispatch_countries",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("last_grant_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("country"),
        **options,
    )
    op.create_table(
        "dispatch_asks",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("program", sa.String(length=32), nullable=False),
        sa.Column("last_ask_ms", sa.BigInteger(), nullable=False),
        sa.Column("waiting_since_ms", sa.BigInteger(), nullable=True),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.Column("pair_weight", sa.Double(), nullable=False),
        sa.Column("program_weight", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("country", "pair", "program"),
        **options,
    )
    op.create_table(
        "dispatch_grants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("program", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **options,
    )
    with op.batch_alter_table("dispatch_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dispatch_grants_country_at_ms", ["country", "at_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dispatch_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_grants_country_at_ms")
    op.drop_table("dispatch_grants")
    op.drop_table("dispatch_asks")
    op.drop_table("dispatch_countries")
    op.drop_table("session_heartbeats")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_completed_at")
        batch_op.drop_index("ix_attempts_session_leased_at")
        batch_op.drop_index("ix_attempts_country_leased_at")
        batch_op.drop_index("ix_attempts_program_leased_at")
        batch_op.drop_index("ix_attempts_pair_leased_at")
    op.drop_table("attempts")
