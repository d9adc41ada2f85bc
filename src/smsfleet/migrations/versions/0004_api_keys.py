"""api keys

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0004"
down_revision = "0003"
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
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=True),
        sa.Column("monthly_quota", sa.Integer(), nullable=True),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("last_used_at", _datetime(), nullable=True),
        sa.Column("revoked_at", _datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        **table_options(op.get_bind()),
    )
    op.create_index("ix_api_keys_owner", "api_keys", ["owner"])
    revisions = sa.table("store_revisions", sa.column("name"), sa.column("revision"))
    op.bulk_insert(revisions, [{"name": "api_keys", "revision": 1}])


def downgrade() -> None:
    op.execute("DELETE FROM store_revisions WHERE name = 'api_keys'")
    op.drop_table("api_keys")
