"""metrics: grants counted by lease time (granted), the week series refolded

`metrics_minute`, `metrics_hour` and `metrics_hour_country` get a `granted` column: the
attempts leased in the bucket, counted by lease time (what each country's cap counts),
where outcomes are counted by completion time. The attempts get an index on
`leased_at` for it. The week series gain the same figure (5 to an hour): they are
emptied here and 0023 refolds them from the hours, all of them (this revision once did,
with the code's fold, which reads the hours' columns as they are at head). The rollup
job is sent back to the first minute whose raw attempts are still kept, to count their
grants (reads take those minutes from the raw attempts until it has); older buckets
keep a `granted` of 0: their leases are gone.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ROLLUPS = ("metrics_minute", "metrics_hour", "metrics_hour_country")
# The week series' figures an hour before this revision (delivered, not delivered,
# failed, p95): 4 little-endian 32-bit integers.
HOUR_BYTES_BEFORE = 16
GRANTED_OFFSET = 12  # granted goes before p95


def upgrade() -> None:
    connection = op.get_bind()
    for name in ROLLUPS:
        op.add_column(name, sa.Column("granted", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_attempts_leased_at", "attempts", ["leased_at"])
    connection.execute(sa.text("DELETE FROM metrics_week_series"))
    _rewind_rollups(connection)


def _rewind_rollups(connection: sa.Connection) -> None:
    """Send the rollup job back to the first minute whose raw attempts are still kept."""
    state = sa.table("metrics_state", sa.column("name"), sa.column("at", sa.DateTime()))
    attempts = sa.table(
        "attempts", sa.column("leased_at", sa.DateTime()), sa.column("completed_at", sa.DateTime())
    )
    at = dict(connection.execute(sa.select(state.c.name, state.c.at)).all())
    rolled, purged = at.get("rolled_until"), at.get("purged_until")
    earliest = connection.execute(sa.select(sa.func.min(attempts.c.leased_at))).scalar()
    if rolled is None or earliest is None:
        return
    first = earliest.replace(second=0, microsecond=0)
    if purged is not None:
        first = max(first, purged)
    if first < rolled:
        connection.execute(sa.update(state).where(state.c.name == "rolled_until").values(at=first))


def downgrade() -> None:
    connection = op.get_bind()
    blobs = sa.table(
        "metrics_week_series",
        *map(sa.column, ("week", "kind", "group_key")),
        sa.column("hours", sa.LargeBinary()),
    )
    rows = connection.execute(sa.select(blobs)).all()
    hour_bytes = HOUR_BYTES_BEFORE + 4
    for week, kind, key, hours in rows:
        before = b"".join(
            hours[at : at + GRANTED_OFFSET] + hours[at + GRANTED_OFFSET + 4 : at + hour_bytes]
            for at in range(0, len(hours), hour_bytes)
        )
        connection.execute(
            blobs.update()
            .where(blobs.c.week == week, blobs.c.kind == kind, blobs.c.group_key == key)
            .values(hours=before)
        )
    op.drop_index("ix_attempts_leased_at", "attempts")
    for name in ROLLUPS:
        op.drop_column(name, "granted")
