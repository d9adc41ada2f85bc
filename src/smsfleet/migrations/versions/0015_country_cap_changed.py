"""countries: the cap before its last change, and when it changed

So a count over a window that spans a cap's change is told as partly at the previous cap
(the dispatcher's goals) and not judged against the new one alone (the under-target
alert). Countries whose cap never changed have neither.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _datetime() -> sa.types.TypeEngine[datetime]:
    return (
        sa.DateTime()
        .with_variant(mysql.DATETIME(fsp=6), "mariadb")
        .with_variant(mysql.DATETIME(fsp=6), "mysql")
    )


def upgrade() -> None:
    with op.batch_alter_table("countries") as countries:
        countries.add_column(sa.Column("previous_cap", sa.Integer(), nullable=True))
        countries.add_column(sa.Column("cap_changed_at", _datetime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("countries") as countries:
        countries.drop_column("cap_changed_at")
        countries.drop_column("previous_cap")
