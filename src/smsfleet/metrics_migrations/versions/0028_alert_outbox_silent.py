"""alerts: messages sent without a sound

A pair's second alert, while another of its alerts has already paged the chat at the
same or a higher severity, goes out silently. Messages queued before ring, as they did.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "alert_outbox",
        sa.Column("silent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_outbox") as batch:
        batch.drop_column("silent")
