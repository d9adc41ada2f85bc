"""metrics: attempts broken off counted apart from errors (broken_off)

An error coded `interrupted`, `lease_lost` or `lease_expired` (an attempt given up by a
stop, a kill or a lost lease) says nothing of its route. `metrics_minute`,
`metrics_hour` and `metrics_hour_country` get a `broken_off` column, filled from the
error codes the rollups kept beside them, and those attempts are taken off `error`
(never below zero: a program may have used such a code on another outcome). The week
series' `failed` changed wherever an hour held such an error: 0023 refolds them all
from the hours (this revision once did, with the code's fold, which reads the hours'
columns as they are at head).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The codes of an attempt broken off, at this revision.
BROKEN_OFF_CODES = ("interrupted", "lease_expired", "lease_lost")
# Each rollup table, the table holding its error codes, and the columns that match a
# rollup row with its codes (`metrics_hour_country` folds a country's pairs' hours).
ROLLUPS = (
    ("metrics_minute", "metrics_minute_errors", ("bucket", "pair", "program")),
    ("metrics_hour", "metrics_hour_errors", ("bucket", "pair", "program")),
    ("metrics_hour_country", "metrics_hour_errors", ("bucket", "country")),
)


def upgrade() -> None:
    connection = op.get_bind()
    for name, _, _ in ROLLUPS:
        op.add_column(
            name, sa.Column("broken_off", sa.Integer(), nullable=False, server_default="0")
        )
    for rollup_name, errors_name, key in ROLLUPS:
        rollup = sa.table(rollup_name, *map(sa.column, (*key, "error", "broken_off")))
        errors = sa.table(errors_name, *map(sa.column, (*key, "code", "n"))).alias("e")
        match = sa.and_(
            *(errors.c[name] == rollup.c[name] for name in key),
            errors.c.code.in_(BROKEN_OFF_CODES),
        )
        # Three statements, not one: MariaDB assigns in order, SQLite from the old row.
        connection.execute(
            rollup.update()
            .where(sa.exists().where(match))
            .values(broken_off=sa.select(sa.func.sum(errors.c.n)).where(match).scalar_subquery())
        )
        connection.execute(
            rollup.update()
            .where(rollup.c.broken_off > rollup.c.error)
            .values(broken_off=rollup.c.error)
        )
        connection.execute(
            rollup.update()
            .where(rollup.c.broken_off > 0)
            .values(error=rollup.c.error - rollup.c.broken_off)
        )


def downgrade() -> None:
    for rollup_name, _, _ in ROLLUPS:
        rollup = sa.table(rollup_name, sa.column("error"), sa.column("broken_off"))
        op.execute(rollup.update().values(error=rollup.c.error + rollup.c.broken_off))
        op.drop_column(rollup_name, "broken_off")
