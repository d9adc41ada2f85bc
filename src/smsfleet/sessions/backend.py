"""What the supervisor needs from a host that runs sessions (this one's screen, or SSH)."""

from __future__ import annotations

import builtins
from typing import Protocol

from smsfleet.sessions.screen import LaunchSpec, RunStatus, ScreenEntry

__all__ = ["LaunchSpec", "RunStatus", "ScreenEntry", "SessionBackend"]


class SessionBackend(Protocol):
    def list(self) -> builtins.list[ScreenEntry]:
        """Every session there, by the name screen shows."""
        ...

    def start(self, spec: LaunchSpec) -> ScreenEntry: ...

    def stop(self, name: str, grace_seconds: float = 5.0) -> RunStatus | None: ...

    def status(self, name: str) -> RunStatus | None:
        """What the runner recorded of the latest run (program pid, exit code)."""
        ...

    def tail(self, name: str, lines: int = 100) -> builtins.list[str]: ...

    def log_since(self, name: str, offset: int | None) -> tuple[int, builtins.list[str]]:
        """Complete log lines after `offset` (None: from the end now) and the next offset."""
        ...
