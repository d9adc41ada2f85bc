"""Alembic environment for the config store; the caller hands over a connection."""

from __future__ import annotations

from alembic import context

import smsfleet.stores  # noqa: F401  (registers every table on the metadata)
from smsfleet.core.sql import CONFIG_VERSION_TABLE, config_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=config_metadata,
    version_table=CONFIG_VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
