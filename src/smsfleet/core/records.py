"""The store contract every feature shares: records kept by one string key.

Three backends implement it (`core.sql` for SQLite and MySQL/MariaDB, `core.mongo`
for MongoDB); one contract test suite runs unchanged against each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel


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

R = TypeVar("R", bound=BaseModel)


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

    def delete(self, key: str) -> bool:
        """Remove; False when there was nothing to remove."""
        ...


E = TypeVar("E", bound=BaseModel)


class EventLog(Protocol[E]):
    """Append-only records with an `id` and an `at` timestamp."""

    def append(self, event: E) -> None: ...

    def recent(self, *, limit: int, **equals: str) -> list[E]:
        """The newest `limit` events whose fields equal `equals`, newest first."""
        ...
