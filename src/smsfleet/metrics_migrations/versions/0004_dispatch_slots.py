"""dispatch: the limiter paces by slots (dispatch_countries.last_grant_ms → last_slot_ms)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    # The latest grant's time is a fair first value for its slot, and back.
    with op.batch_alter_table("dispatch_countries") as batch:
        batch.alter_column(
            old, new_column_name=new, existing_type=sa.BigInteger(), existing_nullable=True
        )


def upgrade() -> None:
    _rename("last_grant_ms", "last_slot_ms")


def downgrade() -> None:
    _rename("last_slot_ms", "last_grant_ms")
