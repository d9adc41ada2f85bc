"""Work tried on the event loop from memory alone, given up where it would block.

A caller on the loop runs a step inside `nonblocking()`; each place that would do
blocking I/O (a query, a Redis call) calls `may_block()` first, which raises
`WouldBlock` there, before the I/O and before any change the step cannot repeat. The
caller then makes the whole step again in a thread, where nothing is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["WouldBlock", "may_block", "nonblocking"]

_local = threading.local()


class WouldBlock(BaseException):
    """Raised by `may_block` inside `nonblocking()`. Not an `Exception`: a handler that
    logs and carries on (a listener's fault) must not swallow it."""


@contextmanager
def nonblocking() -> Iterator[None]:
    """While the block runs, on this thread, `may_block` refuses."""
    outer = getattr(_local, "refusing", False)
    _local.refusing = True
    try:
        yield
    finally:
        _local.refusing = outer


def may_block() -> None:
    """Say that blocking I/O comes next: refused (`WouldBlock`) inside `nonblocking()`."""
    if getattr(_local, "refusing", False):
        raise WouldBlock
