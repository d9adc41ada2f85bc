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
    sa.Column("token_version", sa.Integer, nullable=False, default=0),
)
USERS_COLLECTION = "users"

# Logins ended by logging out, kept until their tokens would have expired.
revoked_sessions_table = sa.Table(
    "revoked_sessions",
    config_metadata,
    sa.Column("session", sa.String(32), primary_key=True),
    sa.Column("username", sa.String(32), nullable=False),
    sa.Column("expires_at", DateTimeColumn, nullable=False),
)
REVOKED_SESSIONS_COLLECTION = "revoked_sessions"

# Logins under way, each with the id of the one refresh token it takes next.
logins_table = sa.Table(
    "logins",
    config_metadata,
    sa.Column("session", sa.String(32), primary_key=True),
    sa.Column("username", sa.String(32), nullable=False),
    sa.Column("refresh_id", sa.String(32), nullable=False),
    sa.Column("expires_at", DateTimeColumn, nullable=False),
)
LOGINS_COLLECTION = "logins"
