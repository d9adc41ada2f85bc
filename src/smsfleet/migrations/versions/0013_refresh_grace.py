"""refresh grace: a login keeps the id of the refresh token it replaced last, and when, so
that token refreshes again for a few seconds after (a page reloaded while its refresh was
on the way holds it), and the id of one the grace handed out again (never again in it)

Logins made before have neither: their current refresh token is good as it was.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("logins") as logins:
        logins.add_column(sa.Column("replaced_id", sa.String(length=32), nullable=True))
        logins.add_column(sa.Column("shared_id", sa.String(length=32), nullable=True))
        logins.add_column(
            sa.Column(
                "replaced_at",
                sa.DateTime()
                .with_variant(mysql.DATETIME(fsp=6), "mariadb")
                .with_variant(mysql.DATETIME(fsp=6), "mysql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("logins") as logins:
        logins.drop_column("shared_id")
        logins.drop_column("replaced_at")
        logins.drop_column("replaced_id")
