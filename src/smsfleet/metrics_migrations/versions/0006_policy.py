"""policy: every decision of the success-rate policy with its figures (policy_decisions)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def upgrade() -> None:
    op.create_table(
        "policy_decisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.Column("lower_bound", sa.Double(), nullable=False),
        sa.Column("success_ratio", sa.Double(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("pause_threshold", sa.Double(), nullable=False),
        sa.Column("resume_threshold", sa.Double(), nullable=False),
        sa.Column("window", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **table_options(op.get_bind()),
    )
    op.create_index("ix_policy_decisions_at", "policy_decisions", ["at"])
    op.create_index("ix_policy_decisions_pair_at", "policy_decisions", ["pair", "at"])
    op.create_index("ix_policy_decisions_country_at", "policy_decisions", ["country", "at"])


def downgrade() -> None:
    op.drop_table("policy_decisions")
