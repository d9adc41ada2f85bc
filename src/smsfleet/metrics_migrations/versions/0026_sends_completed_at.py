"""messages: sends by when they settled

The messages' hourly retention finds the sends settled longest ago by it.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sends_completed_at", "sends", ["completed_at"])


def downgrade() -> None:
    op.drop_index("ix_sends_completed_at", table_name="sends")
