"""alerts: when a message's send to Telegram began (alert_outbox.sending_at)

Set before each try and cleared by its outcome, so a try the control plane never saw the
end of (killed while sending) is known: the message goes out again saying that it may
have arrived already. Messages queued before read as never interrupted.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def upgrade() -> None:
    with op.batch_alter_table("alert_outbox") as batch:
        batch.add_column(sa.Column("sending_at", _datetime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_outbox") as batch:
        batch.drop_column("sending_at")
