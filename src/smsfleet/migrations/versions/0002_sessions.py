"""sessions

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    options = table_options(op.get_bind())
    op.create_table(
        "session_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column("session", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **options,
    )
    with op.batch_alter_table("session_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_events_at"), ["at"], unique=False)
        batch_op.create_index("ix_session_events_session_at", ["session", "at"], unique=False)

    op.create_table(
        "session_specs",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("program", sa.String(length=32), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("desired", sa.String(length=16), nullable=False),
        sa.Column("desired_reason", sa.String(length=256), nullable=True),
        sa.Column("desired_actor", sa.String(length=64), nullable=True),
        sa.Column(
            "desired_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column(
            "restart_requested_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name"),
        **options,
    )
    with op.batch_alter_table("session_specs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_specs_pair"), ["pair"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_specs_program"), ["program"], unique=False)

    op.create_table(
        "session_status",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("observed_generation", sa.Integer(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("quick_failures", sa.Integer(), nullable=False),
        sa.Column(
            "backoff_until",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("last_exit_code", sa.Integer(), nullable=True),
        sa.Column(
            "last_exit_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("last_log_lines", sa.JSON(), nullable=False),
        sa.Column(
            "last_heartbeat",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name"),
        **options,
    )


def downgrade() -> None:
    op.drop_table("session_status")
    with op.batch_alter_table("session_specs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_specs_program"))
        batch_op.drop_index(batch_op.f("ix_session_specs_pair"))

    op.drop_table("session_specs")
    with op.batch_alter_table("session_events", schema=None) as batch_op:
        batch_op.drop_index("ix_session_events_session_at")
        batch_op.drop_index(batch_op.f("ix_session_events_at"))

    op.drop_table("session_events")
