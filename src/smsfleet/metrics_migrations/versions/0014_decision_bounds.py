"""policy: each decision's Wilson upper bound and the bound it was taken on

Decisions stored before get their upper bound at the default confidence (z = 1.96),
and the bound their own figures show they were taken on: a pause or hold whose upper
bound is under the pause line on the upper bound, else on the lower one (the rule
before pauses waited for the upper bound); a resume or recovery at or over the resume
line on the lower bound; anything else (probing, a high-priority pair let go) on none.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smsfleet.policy.stats import wilson_upper_bound

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The default of SMSFLEET_POLICY_Z at this revision.
DEFAULT_Z = 1.96

decisions = sa.table(
    "policy_decisions",
    sa.column("id", sa.String),
    sa.column("action", sa.String),
    sa.column("lower_bound", sa.Double),
    sa.column("upper_bound", sa.Double),
    sa.column("decided_on", sa.String),
    sa.column("samples", sa.Integer),
    sa.column("delivered", sa.Integer),
    sa.column("pause_threshold", sa.Double),
    sa.column("resume_threshold", sa.Double),
)


def _decided_on(action: str, lower: float, upper: float, pause: float, resume: float) -> str | None:
    if action in ("paused", "held"):
        return "upper_bound" if upper < pause else "lower_bound"
    if action in ("resumed", "recovered") and lower >= resume:
        return "lower_bound"
    return None


def upgrade() -> None:
    op.add_column("policy_decisions", sa.Column("upper_bound", sa.Double(), nullable=True))
    op.add_column("policy_decisions", sa.Column("decided_on", sa.String(length=16), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            decisions.c.id,
            decisions.c.action,
            decisions.c.lower_bound,
            decisions.c.samples,
            decisions.c.delivered,
            decisions.c.pause_threshold,
            decisions.c.resume_threshold,
        )
    ).all()
    filled = []
    for row_id, action, lower, samples, delivered, pause, resume in rows:
        upper = wilson_upper_bound(delivered, samples, DEFAULT_Z)
        bound = _decided_on(action, lower, upper, pause, resume)
        filled.append({"row_id": row_id, "upper": upper, "bound": bound})
    if filled:
        connection.execute(
            decisions.update()
            .where(decisions.c.id == sa.bindparam("row_id"))
            .values(upper_bound=sa.bindparam("upper"), decided_on=sa.bindparam("bound")),
            filled,
        )
    with op.batch_alter_table("policy_decisions") as batch:
        batch.alter_column("upper_bound", existing_type=sa.Double(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_decisions") as batch:
        batch.drop_column("decided_on")
        batch.drop_column("upper_bound")
