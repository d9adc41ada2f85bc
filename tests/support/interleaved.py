"""A store that makes a race happen every time, not by chance: another request's change
completes after what the request under test read, just before it writes."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Generic

from smsfleet.core.records import R, RecordStore

__all__ = ["Interleaved"]


class Interleaved(Generic[R]):
    """A store whose next writes each let another request's change complete first: after
    what the request writing read, before what it writes."""

    def __init__(self, store: RecordStore[R]) -> None:
        self._store = store
        self._meanwhile: list[Callable[[], object]] = []

    def before_next_writes(self, *changes: Callable[[], object]) -> None:
        self._meanwhile.extend(changes)

    @property
    def pending(self) -> int:
        """How many of those changes no write let happen yet."""
        return len(self._meanwhile)

    def _before_write(self) -> None:
        if self._meanwhile:
            self._meanwhile.pop(0)()

    def get(self, key: str) -> R | None:
        return self._store.get(key)

    def list(self) -> list[R]:
        return self._store.list()

    def add(self, record: R) -> None:
        self._before_write()
        self._store.add(record)

    def add_missing(self, records: Sequence[R]) -> int:
        return self._store.add_missing(records)

    def replace(self, record: R) -> None:
        self._before_write()
        self._store.replace(record)

    def update(
        self, key: str, changes: Mapping[str, object], *, where: Mapping[str, object]
    ) -> bool:
        self._before_write()
        return self._store.update(key, changes, where=where)

    def delete(self, key: str) -> bool:
        self._before_write()
        return self._store.delete(key)

    def first(
        self,
        count: int,
        *,
        order_by: str,
        descending: bool = False,
        where: Mapping[str, object] | None = None,
    ) -> builtins.list[R]:  # `list` in this class is its method
        return self._store.first(count, order_by=order_by, descending=descending, where=where)

    def delete_up_to(
        self,
        field: str,
        last: object,
        *,
        last_key: str | None = None,
        where: Mapping[str, object] | None = None,
    ) -> int:
        self._before_write()
        return self._store.delete_up_to(field, last, last_key=last_key, where=where)
