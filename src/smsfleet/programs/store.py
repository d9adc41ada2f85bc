"""Where programs live."""

from __future__ import annotations

import sqlalchemy as sa

from smsfleet.core.sql import DateTimeColumn, config_metadata

programs_table = sa.Table(
    "programs",
    config_metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("command", sa.JSON, nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("created_at", DateTimeColumn, nullable=False),
    sa.Column("updated_at", DateTimeColumn, nullable=False),
)
PROGRAMS_COLLECTION = "programs"
