"""sessions: when a supervisor last completed a tick, and which one (supervisor_ticks)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0019"
down_revision = "0018"
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
        "supervisor_ticks",
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("holder"),
        **table_options(op.get_bind()),
    )


def downgrade() -> None:
    op.drop_table("supervisor_ticks")
