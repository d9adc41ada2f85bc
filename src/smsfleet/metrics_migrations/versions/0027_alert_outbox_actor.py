"""alerts: who queued a person's own Telegram message

Each person has room for so many messages to the chats in a window, and so many waiting
at once, counted by this. Messages queued before have none: they count for nobody.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert_outbox", sa.Column("actor", sa.String(length=64), nullable=True))
    op.create_index("ix_alert_outbox_actor_created_at", "alert_outbox", ["actor", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_actor_created_at", table_name="alert_outbox")
    with op.batch_alter_table("alert_outbox") as batch:
        batch.drop_column("actor")
