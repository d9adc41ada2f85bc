"""api key usage: requests per key and calendar period, for quotas (api_key_usage)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key_usage",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=12), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key_id", "period"),
        **table_options(op.get_bind()),
    )


def downgrade() -> None:
    op.drop_table("api_key_usage")
