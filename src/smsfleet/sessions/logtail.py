"""Follow a growing session log: the complete lines written since the last read."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

__all__ = ["LogCursor", "LogSource", "read_since"]

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
    return offset + complete, chunk[:complete].decode("utf-8", errors="replace").splitlines()


class LogSource(Protocol):
    def log_since(self, name: str, offset: int | None) -> tuple[int, list[str]]: ...


class LogCursor:
    """One session's log, followed from where it ends when the cursor is made."""

    def __init__(self, source: LogSource, name: str) -> None:
        self._source = source
        self.name = name
        self._offset, _ = source.log_since(name, None)

    def read_new(self) -> list[str]:
        self._offset, lines = self._source.log_since(self.name, self._offset)
        return lines
