"""messages: SMS received and recorded (messages), on-demand sends (sends), attempts by number

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    options = table_options(op.get_bind())
    moment = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql")
    op.create_table(
        "messages",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("receiver", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", moment, nullable=False),
        sa.Column("recorded_at", moment, nullable=False),
        sa.Column("attempt_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("uuid"),
        **options,
    )
    op.create_index("ix_messages_sender_at", "messages", ["sender", "at"])
    op.create_index("ix_messages_receiver_at", "messages", ["receiver", "at"])
    op.create_table(
        "sends",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("template_id", sa.String(length=40), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("programs", sa.JSON(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("current_program", sa.String(length=32), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=32), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("attempt_id", sa.String(length=32), nullable=True),
        sa.Column("leased_until", moment, nullable=True),
        sa.Column("waiting_since", moment, nullable=False),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.Column("completed_at", moment, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        **options,
    )
    op.create_index(
        "ix_sends_pending", "sends", ["status", "pair", "current_program", "created_at"]
    )
    op.create_index("ix_sends_attempt", "sends", ["attempt_id"])
    op.create_index("ix_sends_created_at", "sends", ["created_at"])
    op.create_index("ix_attempts_phone_leased_at", "attempts", ["phone", "leased_at"])


def downgrade() -> None:
    op.drop_index("ix_attempts_phone_leased_at", "attempts")
    op.drop_table("sends")
    op.drop_table("messages")
