"""message templates

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsfleet.core.sql import table_options

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb", "mysql")
    op.create_table(
        "message_templates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("provider_bodies", sa.JSON(), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **table_options(op.get_bind()),
    )
    revisions = sa.table("store_revisions", sa.column("name"), sa.column("revision"))
    op.bulk_insert(revisions, [{"name": "message_templates", "revision": 1}])


def downgrade() -> None:
    op.execute("DELETE FROM store_revisions WHERE name = 'message_templates'")
    op.drop_table("message_templates")
