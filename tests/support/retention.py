"""What a retention's deletes removed, a batch at a time."""

from __future__ import annotations

from collections.abc import Callable, Set
from datetime import datetime
from typing import TypeVar

from smsfleet.core.retention import ForgetBefore

T = TypeVar("T")


def batches(
    forget: ForgetBefore, at: datetime, *, limit: int, kept: Callable[[], Set[T]]
) -> list[tuple[int, Set[T]]]:
    """How many each write of `forget` removed and what was `kept` after it, up to the
    first write that removed none."""
    removed: list[tuple[int, Set[T]]] = []
    while not removed or removed[-1][0]:
        done = forget(at, limit=limit)
        removed.append((done, kept()))
    return removed
