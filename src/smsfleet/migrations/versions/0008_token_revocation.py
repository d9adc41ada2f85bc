"""token revocation: users' token version, and logins ended by logging out

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
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "revoked_sessions",
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
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
    op.bulk_insert(revisions, [{"name": "revoked_sessions", "revision": 1}])


def downgrade() -> None:
    op.execute("DELETE FROM store_revisions WHERE name = 'revoked_sessions'")
    op.drop_table("revoked_sessions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")
