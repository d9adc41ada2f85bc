"""Follow a growing session log: the complete lines written since the last read."""

from __future__ import annotations

from pathlib import Path

MAX_CHUNK = 256 * 1024


class LogCursor:
    """Starts at the end of the file as it is now; a log started anew is read from its top."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0

    def read_new(self) -> list[str]:
        if not self.path.exists():
            return []
        size = self.path.stat().st_size
        if size < self._offset:
            self._offset = 0
        if size == self._offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read(MAX_CHUNK)
        complete = chunk.rfind(b"\n") + 1  # a half-written line waits for its end
        self._offset += complete
        return chunk[:complete].decode("utf-8", errors="replace").splitlines()
