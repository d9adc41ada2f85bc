"""Where the audit log lives."""

from __future__ import annotations

import sqlalchemy as sa

from smsfleet.core.sql import DateTimeColumn, config_metadata

audit_events_table = sa.Table(
    "audit_events",
    config_metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("actor_role", sa.String(16), nullable=False),
    sa.Column("api_key_id", sa.String(64)),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target_kind", sa.String(16), nullable=False),
    sa.Column("target", sa.String(80), nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(512)),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
    sa.Index("ix_audit_events_target_at", "target", "at"),
)

AUDIT_EVENTS_COLLECTION = "audit_events"
AUDIT_EVENTS_INDEXES = [[("at", -1)], [("target", 1), ("at", -1)], [("actor", 1), ("at", -1)]]
