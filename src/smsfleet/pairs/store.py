"""Where countries and pairs live: tables (SQL) and collections (MongoDB)."""

from __future__ import annotations

import sqlalchemy as sa

from smsfleet.core.sql import DateTimeColumn, config_metadata

countries_table = sa.Table(
    "countries",
    config_metadata,
    sa.Column("code", sa.String(2), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("cap", sa.Integer, nullable=False),
    sa.Column("previous_cap", sa.Integer),
    sa.Column("cap_changed_at", DateTimeColumn),
)

pairs_table = sa.Table(
    "pairs",
    config_metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("country", sa.String(2), sa.ForeignKey("countries.code"), nullable=False, index=True),
    sa.Column("operator", sa.String(64), nullable=False),
    sa.Column("slug", sa.String(32), nullable=False),
    sa.Column("region", sa.String(64)),
    sa.Column("is_high_priority", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_reason", sa.String(256)),
    sa.Column("state_actor", sa.String(64)),
    sa.Column("state_changed_at", DateTimeColumn),
    sa.Column("pause_threshold", sa.Double),
    sa.Column("resume_threshold", sa.Double),
    sa.Column("phone_numbers", sa.JSON, nullable=False),
    sa.Column("programs", sa.JSON, nullable=False),
    sa.Column("host", sa.String(64), nullable=False, server_default="local"),
    sa.Column("created_at", DateTimeColumn, nullable=False),
    sa.Column("updated_at", DateTimeColumn, nullable=False),
)

COUNTRIES_COLLECTION = "countries"
PAIRS_COLLECTION = "pairs"
# Created at start; the unique key is each document's `_id`.
PAIRS_INDEXES = [("country", 1)]
