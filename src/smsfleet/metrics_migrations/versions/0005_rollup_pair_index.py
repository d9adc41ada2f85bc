"""metrics: the rollups indexed by pair and bucket, for one pair's trend

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("metrics_minute", "metrics_hour")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_pair_bucket", table, ["pair", "bucket"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_pair_bucket", table_name=table)
