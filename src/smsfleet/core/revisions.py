"""Config reads served from memory while nothing changed, on every config backend.

Each table (SQL) or collection (MongoDB) has a revision that every write to it
changes. A store keeps its last full listing with the revision it was read at, and
reuses it while the revision is unchanged: a read is then one revision lookup, not a
query and the validation of its rows. `Revisions` looks the revisions up, once for a
block of reads, and may reuse a look of the process's while it is young enough.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic

from smsfleet.core.nonblocking import may_block
from smsfleet.core.records import R

__all__ = ["Listing", "Revision", "Revisions", "Snapshot"]

# A counter (SQL) or a write's own id (MongoDB): only compared for equality.
Revision = object
LookUpAll = Callable[[], dict[str, Revision]]


class Revisions:
    """The config's revisions. Inside `one_read`, a thread looks them all up at once, at
    its first read, and the block's later reads (of any table) reuse it: a lease reads
    its session, pair and country for one lookup rather than three. No read is older
    than that lookup; a table the block read again stays as it first read it, unless
    the thread itself wrote meanwhile. Outside a block, every read looks up its own
    table's revision.

    A block opened with a `max_age` reuses the process's latest lookup while it is
    younger than that: another process's change is then seen within `max_age`, and a
    change made by this process at once (it drops the latest lookup)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        # The latest lookup of any thread: when it started, and what it found.
        self._latest: tuple[float, dict[str, Revision]] | None = None
        # Counts this process's writes: a lookup that raced one is not kept as the latest.
        self._writes = 0

    @contextmanager
    def one_read(self, max_age: float = 0.0) -> Iterator[None]:
        if getattr(self._local, "active", False):  # within an outer block: its lookup
            yield
            return
        self._local.active, self._local.seen, self._local.max_age = True, None, max_age
        try:
            yield
        finally:
            self._local.active, self._local.seen = False, None

    def in_block(self, look_up_all: LookUpAll) -> dict[str, Revision] | None:
        """Inside a block, every table's revision (looked up with `look_up_all` at its
        first read); outside one, None: the caller looks its own table's up."""
        if not getattr(self._local, "active", False):
            return None
        seen: dict[str, Revision] | None = self._local.seen
        if seen is None:
            seen = self._local.seen = self._lookup(look_up_all, max_age=self._local.max_age)
        return seen

    def _lookup(self, look_up_all: LookUpAll, *, max_age: float) -> dict[str, Revision]:
        latest, started = self._latest, time.monotonic()
        if latest is not None and started - latest[0] < max_age:
            return latest[1]
        writes = self._writes
        may_block()
        found = look_up_all()
        with self._lock:
            if self._writes == writes:
                self._latest = (started, found)
        return found

    def written(self) -> None:
        """This process changed a table: the block's next read looks the revisions up
        again, and so does every other block's first."""
        with self._lock:
            self._writes += 1
            self._latest = None
        self._local.seen = None


@dataclass(frozen=True)
class Snapshot(Generic[R]):
    revision: Revision | None
    records: list[R]
    by_key: dict[str, R]


class Listing(Generic[R]):
    """A table's last full listing, by key, kept while its revision is unchanged."""

    def __init__(self, key_name: str) -> None:
        self._key_name = key_name
        self._snapshot: Snapshot[R] | None = None

    def forget(self) -> None:
        """Read afresh next time, whatever the revision then."""
        self._snapshot = None

    def current(self, revision: Revision | None, read_all: Callable[[], list[R]]) -> Snapshot[R]:
        """Every record at `revision`: the kept listing, or `read_all` when it changed."""
        snapshot = self._snapshot
        if snapshot is not None and snapshot.revision == revision:
            return snapshot
        may_block()
        records = read_all()
        by_key = {getattr(record, self._key_name): record for record in records}
        snapshot = Snapshot(revision, records, by_key)
        if revision is not None:  # a table never written has no revision to check against
            self._snapshot = snapshot
        return snapshot
