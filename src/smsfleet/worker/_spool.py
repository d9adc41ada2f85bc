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
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from smsfleet.worker._control import ControlPlaneRejected, SendGrant, parse_datetime

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rejected = directory / "rejected"
        directory.mkdir(parents=True, exist_ok=True)
        self._last = max((_sequence(path) for path in self.pending()), default=0)
        self._lock = threading.Lock()  # attempts in flight add their reports concurrently
        self._sending: set[Path] = set()  # reports being sent now, each by one thread

    def pending(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"))

    def __len__(self) -> int:
        return len(self.pending())

    def add(self, report: dict[str, Any]) -> Path:
        with self._lock:
            # Wall-clock nanoseconds keep the order across restarts; never step backwards.
            self._last = max(self._last + 1, time.time_ns())
            sequence = self._last
        name = f"{sequence:020d}-{_safe(report['trigger_id'])}.json"
        path = self.directory / name
        _write_atomically(path, report)
        return path

    def triggers(self) -> list[str]:
        """The trigger ids of the reports waiting here."""
        return [path.stem.split("-", 1)[1] for path in self.pending() if "-" in path.stem]

    def holds(self, trigger_id: str) -> bool:
        """Whether a report of this trigger waits here to be sent."""
        return any(self.directory.glob(f"*-{_safe(trigger_id)}.json"))

    def flush(
        self,
        send: Callable[[dict[str, Any]], str],
        *,
        on_rejected: Callable[[Path, ControlPlaneRejected], None] | None = None,
    ) -> int:
        """Send pending reports oldest first; stops at the first that cannot be delivered.

        Returns how many were confirmed. Raises `ControlPlaneUnavailable` when the control
        plane is down; what is left stays for the next flush. A report being sent on its
        own (`deliver`) meanwhile is left to that.
        """
        confirmed = 0
        for path in self.pending():
            if self._deliver_claimed(path, send, on_rejected):
                confirmed += 1
        return confirmed

    def deliver(
        self,
        path: Path,
        send: Callable[[dict[str, Any]], str],
        *,
        on_rejected: Callable[[Path, ControlPlaneRejected], None] | None = None,
    ) -> bool:
        """Send the one report at `path` (as `add` returned it) now, beside other threads'
        deliveries and a flush: reports made at once go side by side, not in a queue.

        True once confirmed; False when it was refused, or was sent by someone else.
        Raises `ControlPlaneUnavailable` as `flush` does; the report stays for a flush.
        """
        return self._deliver_claimed(path, send, on_rejected)

    def _deliver_claimed(
        self,
        path: Path,
        send: Callable[[dict[str, Any]], str],
        on_rejected: Callable[[Path, ControlPlaneRejected], None] | None,
    ) -> bool:
        # Claimed while it is sent, so no two threads send (or set aside) the same file.
        with self._lock:
            if path in self._sending:
                return False
            self._sending.add(path)
        try:
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return False  # confirmed and deleted by another thread meanwhile
            except (OSError, ValueError) as exc:
                self._set_aside(path)
                if on_rejected is not None:
                    on_rejected(path, ControlPlaneRejected(0, "unreadable", str(exc)))
                return False
            try:
                send(report)
            except ControlPlaneRejected as exc:
                # Kept, not deleted, but out of the queue: it would block every later report.
                self._set_aside(path)
                if on_rejected is not None:
                    on_rejected(path, exc)
                return False
            path.unlink(missing_ok=True)
            return True
        finally:
            with self._lock:
                self._sending.discard(path)

    def _set_aside(self, path: Path) -> None:
        self.rejected.mkdir(exist_ok=True)
        os.replace(path, self.rejected / path.name)


@dataclass(frozen=True)
class InFlightEntry:
    grant: SendGrant
    sent_at: datetime | None = None
    provider: str | None = None
    gateway_id: str | None = None


class InFlightJournal:
    """One file per attempt in flight: written when granted and when sent, gone once the
    report is in the spool. After a kill, what is left says which attempts to pick up.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def granted(self, grant: SendGrant) -> None:
        _write_atomically(self._path(grant.trigger_id), {"grant": _grant_json(grant)})

    def sent(
        self,
        trigger_id: str,
        *,
        sent_at: datetime | None,
        provider: str | None,
        gateway_id: str,
    ) -> None:
        path = self._path(trigger_id)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        entry.update(
            sent_at=sent_at.isoformat() if sent_at else None,
            provider=provider,
            gateway_id=gateway_id,
        )
        _write_atomically(path, entry)

    def remove(self, trigger_id: str) -> None:
        self._path(trigger_id).unlink(missing_ok=True)

    def holds(self, trigger_id: str) -> bool:
        """Whether the attempt awaits its report still (none is in the spool yet)."""
        return self._path(trigger_id).exists()

    def entries(self) -> list[InFlightEntry]:
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
                grant = entry["grant"]
                found.append(
                    InFlightEntry(
                        grant=SendGrant(
                            **{
                                **grant,
                                "expires_at": parse_datetime(grant.get("expires_at")),
                            }
                        ),
                        sent_at=parse_datetime(entry.get("sent_at")),
                        provider=entry.get("provider"),
                        gateway_id=entry.get("gateway_id"),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)  # a half-written grant: nothing was sent yet
        return found

    def _path(self, trigger_id: str) -> Path:
        return self.directory / f"{_safe(trigger_id)}.json"


def _grant_json(grant: SendGrant) -> dict[str, Any]:
    values = asdict(grant)
    values["expires_at"] = grant.expires_at.isoformat() if grant.expires_at else None
    return values


def _safe(trigger_id: object) -> str:
    return _UNSAFE.sub("_", str(trigger_id))[:80]


def _write_atomically(path: Path, content: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(content, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)  # atomic: a reader sees the whole file or nothing


def _sequence(path: Path) -> int:
    try:
        return int(path.name.split("-", 1)[0])
    except ValueError:
        return 0
