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
    # Those whose tokens have expired are removed by it, at the next logout.
    sa.Index("ix_revoked_sessions_expires_at", "expires_at"),
)
REVOKED_SESSIONS_COLLECTION = "revoked_sessions"

# Logins under way, each with the id of the one refresh token it takes next, and of the
# one that took it last with when (which refreshes again for the refresh grace after).
logins_table = sa.Table(
    "logins",
    config_metadata,
    sa.Column("session", sa.String(32), primary_key=True),
    sa.Column("username", sa.String(32), nullable=False),
    sa.Column("refresh_id", sa.String(32), nullable=False),
    sa.Column("expires_at", DateTimeColumn, nullable=False),
    sa.Column("replaced_id", sa.String(32), nullable=True),
    sa.Column("replaced_at", DateTimeColumn, nullable=True),
    sa.Column("shared_id", sa.String(32), nullable=True),
    # Ended logins are removed by it at the next login, and a user's counted by the other.
    sa.Index("ix_logins_expires_at", "expires_at"),
    sa.Index("ix_logins_username_expires_at", "username", "expires_at"),
)
LOGINS_COLLECTION = "logins"
# A user's logins, newest first (MongoDB drops ended ones itself: a TTL index).
LOGINS_INDEXES = [[("username", 1), ("expires_at", 1)]]
