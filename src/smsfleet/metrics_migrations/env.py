"""Alembic environment for the metrics store; the caller hands over a connection."""

from __future__ import annotations

from alembic import context

# Importing the stores registers their tables on the metadata.
import smsfleet.alerts.store
import smsfleet.apikeys.store
import smsfleet.attempts.store
import smsfleet.developer.store
import smsfleet.dispatch.store
import smsfleet.messages.store
import smsfleet.metrics.tables
import smsfleet.policy.store
import smsfleet.sessions.ticks  # noqa: F401
from smsfleet.core.sql import METRICS_VERSION_TABLE, metrics_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metrics_metadata,
    version_table=METRICS_VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
