"""sends: the text each one's latest try handed its program

A send tried before keeps the text recorded beside its latest attempt, the SMS its
number's conversation shows.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sends", sa.Column("sent_text", sa.Text(), nullable=True))
    sends = sa.table("sends", sa.column("attempt_id"), sa.column("sent_text"))
    messages = sa.table(
        "messages", sa.column("attempt_id"), sa.column("direction"), sa.column("text")
    )
    handed_out = (
        sa.select(sa.func.max(messages.c.text))
        .where(messages.c.attempt_id == sends.c.attempt_id, messages.c.direction == "outbound")
        .scalar_subquery()
    )
    op.execute(sa.update(sends).where(sends.c.attempt_id.is_not(None)).values(sent_text=handed_out))


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("sent_text")
