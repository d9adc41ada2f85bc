"""store revisions

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smsfleet.core.sql import table_options

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RECORD_TABLES = ("users", "countries", "pairs", "programs", "session_specs", "session_status")


def upgrade() -> None:
    revisions = op.create_table(
        "store_revisions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        **table_options(op.get_bind()),
    )
    op.bulk_insert(revisions, [{"name": name, "revision": 1} for name in RECORD_TABLES])


def downgrade() -> None:
    op.drop_table("store_revisions")
