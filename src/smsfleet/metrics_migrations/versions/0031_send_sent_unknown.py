"""messages: a send whose try left it unknown whether its SMS left (sends.sent_unknown)

So a retry of it asks first, as one of a send known sent does. Sends settled before it
read as known either way.

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.add_column(
            sa.Column("sent_unknown", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("sent_unknown")
