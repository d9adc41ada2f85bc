"""metrics: resolved alerts by when they resolved, an alert's messages by their alert

The alerts' hourly retention finds the alerts resolved longest ago, and their Telegram
messages, by these.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_alerts_state_resolved_at", "alerts", ["state", "resolved_at"]),
    ("ix_alert_outbox_alert_id", "alert_outbox", ["alert_id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
