"""The ground-truth log: one JSON line per event, only ever appended to.

Times are Unix seconds so a replay reproduces them exactly. A reset is itself a line; a replay
keeps only what follows the last one, so the file stays append-only and a restarted simulator
sees the same state the running one had.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from smsfleet.simulator.models import Outcome

logger = logging.getLogger(__name__)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class TriggerEvent(_Event):
    event: Literal["trigger"] = "trigger"
    seq: int
    trigger_id: str | None
    provider: str
    route: str
    phone: str
    triggered_at: float
    outcome: Outcome
    error_code: str | None = None
    http_status: int = 200
    code: str | None = None
    latency_seconds: float | None = None
    deliver_at: float | None = None
    give_up_at: float | None = None


class SubmitEvent(_Event):
    event: Literal["submit"] = "submit"
    seq: int
    at: float
    accepted: bool


class ResetEvent(_Event):
    event: Literal["reset"] = "reset"
    at: float


Event = Annotated[TriggerEvent | SubmitEvent | ResetEvent, Field(discriminator="event")]
_EVENT: TypeAdapter[TriggerEvent | SubmitEvent | ResetEvent] = TypeAdapter(Event)


class TruthLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        # After a torn last write, start on a fresh line so the next event stays readable.
        self._needs_newline = _ends_mid_line(path)

    def append(self, event: TriggerEvent | SubmitEvent | ResetEvent) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = event.model_dump_json() + "\n"
        if self._needs_newline:
            line = "\n" + line
            self._needs_newline = False
        # Opened per line: a crash loses at most the line being written, no handle to leak.
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)

    def replay(self) -> list[TriggerEvent | SubmitEvent]:
        """Events since the last reset; unreadable lines (a torn last write) are skipped."""
        if not self.path.exists():
            return []
        events: list[TriggerEvent | SubmitEvent] = []
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    event = _EVENT.validate_json(line)
                except ValidationError:
                    logger.warning("skipping unreadable line %d of %s", number, self.path)
                    continue
                if isinstance(event, ResetEvent):
                    events.clear()
                else:
                    events.append(event)
        return events


def _ends_mid_line(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            if handle.tell() == 0:
                return False
            handle.seek(-1, 2)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False
