"""What the supervisor needs from a host that runs sessions (this one's screen, or SSH),
and the types that protocol speaks: what to launch, what screen lists, what the runner
recorded of a run."""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from smsfleet.sessions.names import parse_session_name

__all__ = ["EXITED", "LaunchSpec", "RunStatus", "ScreenEntry", "SessionBackend"]

# Status given to the entry `start()` returns when the program had already
# exited (and its screen closed) by the time the start was confirmed.
EXITED = "Exited"
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


@dataclass(frozen=True)
class ScreenEntry:
    """One line of `screen -ls`.

    `started_at` is the time screen prints, its socket's modification time in
    the host's local time: close to the start, but screen touches the socket
    later too (attach, detach). `RunStatus.started_at` is the exact start.
    """

    pid: int
    name: str
    started_at: datetime | None
    status: str  # "Detached", "Attached", "Dead ???", ... as screen prints it

    @property
    def socket_name(self) -> str:
        """`pid.name`: the only safe target for `screen -S`."""
        return f"{self.pid}.{self.name}"

    @property
    def attached(self) -> bool:
        lowered = self.status.lower()
        return "attached" in lowered and "detached" not in lowered

    @property
    def alive(self) -> bool:
        return "dead" not in self.status.lower() and self.status != EXITED

    def to_json(self) -> dict[str, Any]:
        started_at = self.started_at.isoformat() if self.started_at else None
        return {"pid": self.pid, "name": self.name, "started_at": started_at, "status": self.status}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScreenEntry:
        started_at = data.get("started_at")
        return cls(
            pid=int(data["pid"]),
            name=str(data["name"]),
            started_at=datetime.fromisoformat(started_at) if started_at else None,
            status=str(data["status"]),
        )


@dataclass(frozen=True)
class RunStatus:
    """Contents of a session's status file, written by the runner."""

    runner_pid: int
    screen_pid: int | None
    program_pid: int | None
    program_start_ticks: int | None
    argv: tuple[str, ...]
    started_at: datetime
    ended_at: datetime | None
    exit_code: int | None
    signal: int | None
    error: str | None

    @property
    def returncode(self) -> int | None:
        """The exit status as Python reports it: negative for a signal (-9 for SIGKILL)."""
        return -self.signal if self.signal else self.exit_code

    @property
    def running(self) -> bool:
        """True until the runner records the program's end.

        A runner killed with SIGKILL never records it: combine with `list()`.
        """
        return self.ended_at is None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunStatus:
        ended_at = data.get("ended_at")
        return cls(
            runner_pid=int(data["runner_pid"]),
            screen_pid=_optional_int(data.get("screen_pid")),
            program_pid=_optional_int(data.get("program_pid")),
            program_start_ticks=_optional_int(data.get("program_start_ticks")),
            argv=tuple(str(arg) for arg in data.get("argv", ())),
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=datetime.fromisoformat(ended_at) if ended_at else None,
            exit_code=_optional_int(data.get("exit_code")),
            signal=_optional_int(data.get("signal")),
            error=data.get("error"),
        )

    def to_json(self) -> dict[str, Any]:
        """The status file's shape, which `from_json` reads back."""
        return {
            "runner_pid": self.runner_pid,
            "screen_pid": self.screen_pid,
            "program_pid": self.program_pid,
            "program_start_ticks": self.program_start_ticks,
            "argv": list(self.argv),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "error": self.error,
        }


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class LaunchSpec:
    """What to run in a session. Checked on construction, before anything runs."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def __post_init__(self) -> None:
        parse_session_name(self.name)
        argv = tuple(self.argv)
        if not argv or not argv[0]:
            raise ValueError(f"{self.name}: argv must start with a program to run")
        for arg in argv:
            if not isinstance(arg, str) or "\0" in arg:
                raise ValueError(f"{self.name}: argv items must be strings without NUL")
        for key, value in self.env.items():
            if not isinstance(key, str) or _ENV_NAME_RE.fullmatch(key) is None:
                raise ValueError(f"{self.name}: invalid environment variable name {key!r}")
            if not isinstance(value, str) or "\0" in value:
                raise ValueError(f"{self.name}: environment value of {key} must be a string")
        object.__setattr__(self, "argv", argv)
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))


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
