"""What SQL the code under test runs, seen from SQLAlchemy's events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa


@contextmanager
def revision_lookups(*, this_thread_only: bool = False) -> Iterator[list[str]]:
    """Every statement that reads the config tables' revisions, on any engine, while the
    block runs (with `this_thread_only`, those run by the thread that opened it)."""
    seen: list[str] = []
    opener = threading.get_ident()

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        mine = not this_thread_only or threading.get_ident() == opener
        reads = statement.lstrip().upper().startswith("SELECT")
        if mine and reads and "store_revisions" in statement:
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", note)
