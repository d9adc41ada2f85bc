"""policy: a probing decision records no figures

A pair is probed because its pause's cool-down is over, not on any figure: its decision
records none (bounds, ratio, samples, delivered, window all empty), and those stored
before lose theirs, which were the window's at that moment and decided nothing. Going
back, they read as no completed attempt (0 of 0, bounds 0 and 1, an empty window).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

decisions = sa.table(
    "policy_decisions",
    sa.column("action", sa.String),
    sa.column("lower_bound", sa.Double),
    sa.column("upper_bound", sa.Double),
    sa.column("success_ratio", sa.Double),
    sa.column("samples", sa.Integer),
    sa.column("delivered", sa.Integer),
    sa.column("window", sa.String),
)

_COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "lower_bound": sa.Double(),
    "upper_bound": sa.Double(),
    "samples": sa.Integer(),
    "delivered": sa.Integer(),
    "window": sa.String(length=64),
}


def _nullable(nullable: bool) -> None:
    with op.batch_alter_table("policy_decisions") as batch:
        for name, type_ in _COLUMNS.items():
            batch.alter_column(name, existing_type=type_, nullable=nullable)


def upgrade() -> None:
    _nullable(True)
    op.get_bind().execute(
        decisions.update()
        .where(decisions.c.action == "probing")
        .values(
            lower_bound=None,
            upper_bound=None,
            success_ratio=None,
            samples=None,
            delivered=None,
            window=None,
        )
    )


def downgrade() -> None:
    op.get_bind().execute(
        decisions.update()
        .where(decisions.c.samples.is_(None))
        .values(lower_bound=0.0, upper_bound=1.0, samples=0, delivered=0, window="")
    )
    _nullable(False)
