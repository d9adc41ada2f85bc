"""Follow a growing session log: the complete lines written since the last read."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

# One cleaning for the log's readers and the screen window: the runner's (standard
# library only, as it starts isolated).
from smsfleet.sessions.runner import log_lines

__all__ = ["LogCursor", "LogSource", "log_lines", "read_since"]

MAX_CHUNK = 256 * 1024


def read_since(path: Path, offset: int | None) -> tuple[int, list[str]]:
    """Complete lines of `path` after byte `offset`, and the offset after them.

    `None` means "from the end as it is now". A file shorter than `offset` was
    started anew and is read from its top; a half-written last line waits for its end.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0, []
    if offset is None:
        return size, []
    if size < offset:
        offset = 0
    if size == offset:
        return offset, []
    with path.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read(MAX_CHUNK)
    complete = chunk.rfind(b"\n") + 1
    return offset + complete, log_lines(chunk[:complete])


class LogSource(Protocol):
    def log_since(self, name: str, offset: int | None) -> tuple[int, list[str]]: ...


class LogCursor:
    """One session's log, followed from where it ends when the cursor is made, or from
    up to `backlog` bytes before: its last lines again first, so a reader that read
    them before the cursor was made loses none written between (it drops the repeat)."""

    def __init__(self, source: LogSource, name: str, *, backlog: int = 0) -> None:
        self._source = source
        self.name = name
        end, _ = source.log_since(name, None)
        self._offset = max(0, end - backlog)
        # Started back in the file: the first line read may begin half-way.
        self._mid_line = self._offset > 0 and backlog > 0

    def read_new(self) -> list[str]:
        self._offset, lines = self._source.log_since(self.name, self._offset)
        if self._mid_line and lines:
            self._mid_line = False
            return lines[1:]
        return lines
