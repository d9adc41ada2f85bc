"""What the code under test asks its config backends, seen from SQLAlchemy's events and
pymongo's command monitoring."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from pymongo import monitoring

from smsfleet.core.mongo import REVISIONS_COLLECTION

_after_mongo_lookups: list[Callable[[], None]] = []


class _MongoRevisionLookups(monitoring.CommandListener):
    """Calls the hooks after each `find` on the revisions collection. Registered once,
    at import: pymongo hands global listeners only to clients made after."""

    def __init__(self) -> None:
        self._lookups: set[int] = set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command["find"] == REVISIONS_COLLECTION:
            self._lookups.add(event.request_id)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.request_id in self._lookups:
            self._lookups.discard(event.request_id)
            for hook in list(_after_mongo_lookups):
                hook()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._lookups.discard(event.request_id)


monitoring.register(_MongoRevisionLookups())


@contextmanager
def after_revision_lookups(hook: Callable[[], None]) -> Iterator[None]:
    """Runs `hook` after every read of the config's revisions, on any SQL engine or
    MongoDB client (one made after this module was imported), while the block runs."""

    def after_sql(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "store_revisions" in statement:
            hook()

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after_sql)
    _after_mongo_lookups.append(hook)
    try:
        yield
    finally:
        _after_mongo_lookups.remove(hook)
        sa.event.remove(sa.engine.Engine, "after_cursor_execute", after_sql)


@contextmanager
def revision_lookups(*, this_thread_only: bool = False) -> Iterator[list[int]]:
    """Every read of the config's revisions while the block runs, as the id of the thread
    that made it (with `this_thread_only`, only those of the thread that opened it)."""
    seen: list[int] = []
    opener = threading.get_ident()

    def note() -> None:
        thread = threading.get_ident()
        if not this_thread_only or thread == opener:
            seen.append(thread)

    with after_revision_lookups(note):
        yield seen


def outside_jobs() -> bool:
    """Whether the running thread is not a background job's: each runs on a thread named
    `smsfleet-<job>` (`core/jobs.py`), at its own times, whatever a test does."""
    return not threading.current_thread().name.startswith("smsfleet-")


@contextmanager
def sql_statements(keep: Callable[[], bool] = lambda: True) -> Iterator[list[str]]:
    """Every SQL statement any engine runs while the block runs, by any thread; with
    `keep`, those run where it answers true (asked on the running thread)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if keep():
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", note)
