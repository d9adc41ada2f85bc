"""Where session specs, statuses and events live."""

from __future__ import annotations

import sqlalchemy as sa

from smsfleet.core.sql import DateTimeColumn, config_metadata

session_specs_table = sa.Table(
    "session_specs",
    config_metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("program", sa.String(32), nullable=False, index=True),
    sa.Column("pair", sa.String(40), nullable=False, index=True),
    sa.Column("host", sa.String(64), nullable=False),
    sa.Column("desired", sa.String(16), nullable=False),
    sa.Column("desired_reason", sa.String(256)),
    sa.Column("desired_actor", sa.String(64)),
    sa.Column("desired_at", DateTimeColumn),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("restart_requested_at", DateTimeColumn),
    sa.Column("created_at", DateTimeColumn, nullable=False),
)

session_status_table = sa.Table(
    "session_status",
    config_metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("observed_generation", sa.Integer, nullable=False),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", DateTimeColumn),
    sa.Column("restarts", sa.Integer, nullable=False),
    sa.Column("requested_restarts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("quick_failures", sa.Integer, nullable=False),
    sa.Column("backoff_until", DateTimeColumn),
    sa.Column("last_exit_code", sa.Integer),
    sa.Column("last_exit_at", DateTimeColumn),
    sa.Column("stopped_for", sa.String(512)),
    sa.Column("last_log_lines", sa.JSON, nullable=False),
    sa.Column("updated_at", DateTimeColumn, nullable=False),
)

session_events_table = sa.Table(
    "session_events",
    config_metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False, index=True),
    sa.Column("session", sa.String(80), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16)),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(512)),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index("ix_session_events_session_at", "session", "at"),
)

SESSION_SPECS_COLLECTION = "session_specs"
SESSION_STATUS_COLLECTION = "session_status"
SESSION_EVENTS_COLLECTION = "session_events"
SESSION_EVENTS_INDEXES = [[("session", 1), ("at", -1)], [("at", -1)]]
