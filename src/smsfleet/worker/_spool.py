"""Reports on disk until the control plane confirms them.

Every report is written here first and deleted only once the control plane answered
`recorded` or `duplicate`, so a report survives an unreachable control plane and a crashed
program alike; the server's idempotency by trigger id makes a replay harmless. Files are
named by a sequence number, so they replay in the order they were written.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smsfleet.worker._control import ControlPlaneRejected

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rejected = directory / "rejected"
        directory.mkdir(parents=True, exist_ok=True)
        self._last = max((_sequence(path) for path in self.pending()), default=0)

    def pending(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"))

    def __len__(self) -> int:
        return len(self.pending())

    def add(self, report: dict[str, Any]) -> Path:
        # Wall-clock nanoseconds keep the order across restarts; never step backwards.
        self._last = max(self._last + 1, time.time_ns())
        name = f"{self._last:020d}-{_UNSAFE.sub('_', str(report['trigger_id']))[:80]}.json"
        path = self.directory / name
        temporary = self.directory / f".{name}.tmp"
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(report, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)  # atomic: a reader sees the whole report or nothing
        return path

    def flush(
        self,
        send: Callable[[dict[str, Any]], str],
        *,
        on_rejected: Callable[[Path, ControlPlaneRejected], None] | None = None,
    ) -> int:
        """Send pending reports oldest first; stops at the first that cannot be delivered.

        Returns how many were confirmed. Raises `ControlPlaneUnavailable` when the control
        plane is down; what is left stays for the next flush.
        """
        confirmed = 0
        for path in self.pending():
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self._set_aside(path)
                if on_rejected is not None:
                    on_rejected(path, ControlPlaneRejected(0, "unreadable", str(exc)))
                continue
            try:
                send(report)
            except ControlPlaneRejected as exc:
                # Kept, not deleted, but out of the queue: it would block every later report.
                self._set_aside(path)
                if on_rejected is not None:
                    on_rejected(path, exc)
                continue
            path.unlink(missing_ok=True)
            confirmed += 1
        return confirmed

    def _set_aside(self, path: Path) -> None:
        self.rejected.mkdir(exist_ok=True)
        os.replace(path, self.rejected / path.name)


def _sequence(path: Path) -> int:
    try:
        return int(path.name.split("-", 1)[0])
    except ValueError:
        return 0
