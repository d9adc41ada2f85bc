"""A store that makes a race happen every time, not by chance: another request's change
completes after what the request under test read, just before it writes."""

from __future__ import annotations

from collections.abc import Callable

from smsfleet.core.records import R, RecordStore
from tests.support.fakes import Delegating

__all__ = ["Interleaved"]


class Interleaved(Delegating[R]):
    """A store whose next writes each let another request's change complete first: after
    what the request writing read, before what it writes."""

    def __init__(self, store: RecordStore[R]) -> None:
        super().__init__(store)
        self._meanwhile: list[Callable[[], object]] = []

    def before_next_writes(self, *changes: Callable[[], object]) -> None:
        self._meanwhile.extend(changes)

    @property
    def pending(self) -> int:
        """How many of those changes no write let happen yet."""
        return len(self._meanwhile)

    def _writing(self) -> None:
        if self._meanwhile:
            self._meanwhile.pop(0)()
