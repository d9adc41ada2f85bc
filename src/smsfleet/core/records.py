"""The store contract every feature shares: records kept by one string key.

Three backends implement it (`core.sql` for SQLite and MySQL/MariaDB, `core.mongo`
for MongoDB); one contract test suite runs unchanged against each.
"""

from __future__ import annotations

import builtins
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, NamedTuple, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel

from smsfleet.core.errors import Conflict


def _utc_millis(value: datetime) -> datetime:
    # Every backend keeps at least milliseconds (BSON dates keep no more), and SQL
    # drivers hand back naive UTC: normalise so a record reads back exactly as written.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC instant
            raise ValueError("the time is out of range once in UTC") from None
    extra = value.microsecond % 1000
    return value.replace(microsecond=value.microsecond - extra) if extra else value


Timestamp = Annotated[datetime, AfterValidator(_utc_millis)]
_MILLISECOND = timedelta(milliseconds=1)


def stamp_after(read: datetime, now: datetime) -> datetime:
    """`now` as a `Timestamp` keeps it, and later than `read`: written as a record's
    `updated_at`, which a change read then compares (`change_record`), it is a version
    every change moves on, even two changes in one millisecond or with the clock set back."""
    return max(_utc_millis(now), _utc_millis(read) + _MILLISECOND)


R = TypeVar("R", bound=BaseModel)


def holds_already(record: BaseModel, changes: Mapping[str, object]) -> bool:
    """Whether `record` holds every value of `changes`: written, they would change nothing
    (and, a change's caller decides, audit nothing)."""
    return all(getattr(record, name) == value for name, value in changes.items())


class RecordStore(Protocol[R]):
    """Records of one kind, unique by their key field."""

    def get(self, key: str) -> R | None: ...

    def list(self) -> list[R]:
        """All records, ordered by key."""
        ...

    def add(self, record: R) -> None:
        """Insert; raises `Conflict` when the key exists."""
        ...

    def add_missing(self, records: Sequence[R]) -> int:
        """Insert, together, the records whose key is absent (the others are kept as they
        are); returns how many were inserted."""
        ...

    def replace(self, record: R) -> None:
        """Overwrite the record with the same key; raises `NotFound` when absent."""
        ...

    def update(
        self, key: str, changes: Mapping[str, object], *, where: Mapping[str, object]
    ) -> bool:
        """Set the fields in `changes` of the record with `key`, in one write, if its
        fields in `where` (plain values, not lists) still equal those: a change decided
        on what was read then neither undoes one made meanwhile nor is lost to it. False,
        and nothing written, when the record is absent or a field differs."""
        ...

    def delete(self, key: str, *, where: Mapping[str, object] | None = None) -> bool:
        """Remove, if its fields in `where` (plain values) still equal those: a removal
        decided on what was read then does not remove what changed meanwhile. False when
        there was nothing to remove, or a field differs."""
        ...

    def first(
        self,
        count: int,
        *,
        order_by: str,
        descending: bool = False,
        where: Mapping[str, object] | None = None,
    ) -> builtins.list[R]:  # `list` in this class is its method
        """The first `count` records whose fields in `where` (plain values) equal those, in
        the order of their field `order_by`, then of their key (both reversed with
        `descending`): read from the store in one query of at most `count` records, not
        from a listing of them all."""
        ...

    def delete_up_to(
        self,
        field: str,
        last: object,
        *,
        last_key: str | None = None,
        where: Mapping[str, object] | None = None,
    ) -> int:
        """Remove, in one write, the records whose fields in `where` equal those and whose
        `field` is at or before `last` (a time: as read back, to the millisecond). With
        `last_key`, of those at `last` only the ones whose key is at or before it: a
        record `first` gave and every one before it in that order. How many were removed;
        none leaves the store's revision as it was."""
        ...


def write_if_unchanged(
    store: RecordStore[R],
    key: str,
    seen: R,
    changes: Mapping[str, object],
    *,
    decided_on: Collection[str],
) -> R | None:
    """`seen` with `changes`, written in one conditional write while the record's fields
    `decided_on` are still as in `seen`; None, and nothing written, when one changed or
    the record is gone. Only the fields changed are written: whatever else changed
    meanwhile stays."""
    # Validated, so the values written are those read back (times to the millisecond).
    after = type(seen).model_validate({**seen.model_dump(), **changes})
    written = after.model_dump(include=set(changes))
    if store.update(key, written, where=seen.model_dump(include=set(decided_on))):
        return after
    return None


CHANGE_TRIES = 3


def change_record(
    store: RecordStore[R],
    key: str,
    change: Callable[[R], Mapping[str, object]],
    *,
    read: Callable[[], R],
    decided_on: Collection[str],
    what: str,
) -> tuple[R, R]:
    """The record before and after the fields `change` gives for it (none: nothing is
    written, and both are the record read), written only while its fields `decided_on`
    are as `read` gave them (`write_if_unchanged`): a change made meanwhile is neither
    overwritten nor undone, and the record is read and `change` decided again.
    `Conflict` when it changed under every try; `read` raises when it is gone."""
    for _ in range(CHANGE_TRIES):
        before = read()
        changes = change(before)
        if not changes:
            return before, before
        after = write_if_unchanged(store, key, before, changes, decided_on=decided_on)
        if after is not None:
            return before, after
    raise Conflict(f"{what} was being changed by another request: try again")


def delete_record(
    store: RecordStore[R],
    key: str,
    check: Callable[[R], object],
    *,
    read: Callable[[], R],
    decided_on: Collection[str],
    what: str,
) -> R:
    """The record as removed, once `check` (which raises to refuse) allowed it as `read`
    gave it: removed only while its fields `decided_on` are as read, so a change made
    meanwhile (a pair marked high priority) is decided on again, never removed unseen.
    `read` raises when it is gone (another removal came first: this one removes nothing);
    `Conflict` when it changed under every try."""
    for _ in range(CHANGE_TRIES):
        before = read()
        check(before)
        if store.delete(key, where=before.model_dump(include=set(decided_on))):
            return before
    raise Conflict(f"{what} was being changed by another request: try again")


E = TypeVar("E", bound=BaseModel)


class EventKey(NamedTuple):
    """Where an event stands in its log's order: its `at` (as read back, to the
    millisecond), then its `id`."""

    at: datetime
    id: str


class _RisingNanoseconds:
    """This process's clock in nanoseconds, never the same twice, always rising."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return self._last


_EVENT_CLOCK = _RisingNanoseconds()


def event_id() -> str:
    """A new event's id: when it was made (nanoseconds, rising), then random. Events of
    one millisecond, which an `EventLog` orders by `id`, come in the order they were made
    in a process (a crash's exit before its backoff), not at random."""
    return f"{_EVENT_CLOCK.next():016x}{secrets.token_hex(8)}"


class EventLog(Protocol[E]):
    """Append-only records with an `id` and an `at` timestamp."""

    def append(self, event: E) -> None: ...

    def recent(
        self,
        *,
        limit: int,
        older_than: EventKey | None = None,
        since: datetime | None = None,
        **equals: str,
    ) -> list[E]:
        """The newest `limit` events whose fields equal `equals`, newest first (by `at`,
        then by `id`); with `older_than`, only those after it in that order: the next
        page after an event with that `at` and `id` (keyset paging); with `since`, only
        those at or after it."""
        ...

    def forget_before(self, at: datetime, *, limit: int) -> int:
        """Remove, in one write, the oldest events (by `at`, then by `id`) from before
        `at`, at most `limit` of them. How many were removed: fewer than `limit` when no
        older one is left."""
        ...
