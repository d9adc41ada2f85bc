"""Waiting for something a test caused to happen elsewhere (a process, a thread, a server)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["START_TIMEOUT", "eventually"]

T = TypeVar("T")
POLL_SECONDS = 0.02
# A server's start (imports, migrations, listening) on a machine busy with other tests.
START_TIMEOUT = 60.0


def eventually(
    check: Callable[[], T | None],
    timeout: float = 10.0,
    what: str | Callable[[], str] = "the condition",
) -> T:
    """Call `check` until it returns something true, and return that; fail after `timeout`
    seconds naming `what` was awaited (a callable says so with what it sees by then)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            awaited = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting for {awaited}")
        time.sleep(POLL_SECONDS)
