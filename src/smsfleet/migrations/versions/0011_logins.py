"""logins: each login under way, with the id of the one refresh token it takes next

Logins made before have no row: their refresh tokens are refused and their holders log
in again.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logins",
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("refresh_id", sa.String(length=32), nullable=False),
        sa.Column(
            "expires_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("session"),
        **table_options(op.get_bind()),
    )
    revisions = sa.table("store_revisions", sa.column("name"), sa.column("revision"))
    op.bulk_insert(revisions, [{"name": "logins", "revision": 1}])


def downgrade() -> None:
    op.execute("DELETE FROM store_revisions WHERE name = 'logins'")
    op.drop_table("logins")
