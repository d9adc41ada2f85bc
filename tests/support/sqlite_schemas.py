"""Migrated SQLite databases, copied rather than migrated: a fresh file migrated step by
step takes a third of a second (two per control plane), a copy of one migrated once a
test process a millisecond; the control plane then finds it at head and leaves it."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from smsfleet.core.settings import Settings
from smsfleet.core.sql import create_sql_engine, upgrade_config_schema, upgrade_metrics_schema
from tests.support.backends import sqlite_url_for

_UPGRADES: dict[str, Callable[[Engine], None]] = {
    "config": upgrade_config_schema,
    "metrics": upgrade_metrics_schema,
}


@functools.cache
def _migrated(kind: str) -> Path:
    """A database of `kind` migrated to head, once a test process."""
    directory = Path(tempfile.mkdtemp(prefix="smsfleet-schema-"))
    atexit.register(shutil.rmtree, directory, True)
    path = directory / f"{kind}.db"
    engine = create_sql_engine(sqlite_url_for(path))
    try:
        _UPGRADES[kind](engine)
    finally:
        engine.dispose()
    return path


def migrated_copy(kind: str, path: Path) -> Path:
    """`path`, a copy of a `config` or `metrics` database at head unless it exists."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated(kind), path)
    return path


def migrated_stores(settings: Settings) -> Settings:
    """`settings`, their config and metrics stores at head where they are SQLite files not
    made yet."""
    for kind, url in (
        ("config", settings.resolved_config_url),
        ("metrics", settings.resolved_metrics_url),
    ):
        if url.startswith(_SQLITE_FILE):
            migrated_copy(kind, Path(url.removeprefix(_SQLITE_FILE)))
    return settings


_SQLITE_FILE = "sqlite:///"
