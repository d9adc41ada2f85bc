"""Where users live: one table or collection per backend."""

from __future__ import annotations

import sqlalchemy as sa

from smsfleet.core.sql import DateTimeColumn, config_metadata

users_table = sa.Table(
    "users",
    config_metadata,
    sa.Column("username", sa.String(32), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", DateTimeColumn, nullable=False),
    sa.Column("updated_at", DateTimeColumn, nullable=False),
)
USERS_COLLECTION = "users"
