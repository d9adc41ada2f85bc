"""policy: each pause's cool-down, which doubles with each pause in a row

Pauses stored before have none: the policy reads theirs as the configured cool-down.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("policy_decisions", sa.Column("cooldown_seconds", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policy_decisions") as batch:
        batch.drop_column("cooldown_seconds")
