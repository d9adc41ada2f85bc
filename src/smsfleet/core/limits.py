"""What one person may do so many times in a window (raise alerts, message the chats, make
API keys)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from smsfleet.core.errors import Throttled

__all__ = ["check_window"]


def check_window(
    done: Sequence[datetime], *, most: int, window: timedelta, now: datetime, said: str
) -> None:
    """Refuse one more past `most` of `done` (when each was, oldest first) in the `window`
    up to `now`: 429, `said` (its `{count}` and `{minutes}` filled in), and a `Retry-After`
    for when the oldest of them that count leaves the window."""
    if len(done) < most:
        return
    frees_at = done[len(done) - most] + window
    raise Throttled(
        said.format(count=len(done), minutes=f"{window.total_seconds() / 60:g}"),
        retry_after=max(1, math.ceil((frees_at - now).total_seconds())),
    )
