"""messages: when an SMS of a send last reached the gateway (sends.sent_at)

So a retry of a send whose SMS was sent can say the number would get a second one. Sends
settled before it read as none known: their tries' attempts are not linked to them.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def upgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.add_column(sa.Column("sent_at", _datetime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("sent_at")
