"""Programs for tests, installed as an admin would: files inside a program directory."""

from __future__ import annotations

import sys
from pathlib import Path

from smsfleet.core.clock import Clock
from smsfleet.core.records import RecordStore
from smsfleet.programs.models import Program

TICKING = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.2)\n"
SLEEPING = "import time\ntime.sleep(3600)\n"


def install_program(directory: Path, name: str, source: str) -> list[str]:
    """Write `source` as `<directory>/<name>.py`; the command that runs it with this Python."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(source)
    return [sys.executable, str(path)]


def store_program(
    programs: RecordStore[Program], clock: Clock, name: str, command: list[str], provider: str = ""
) -> Program:
    """A program written straight to the store, for tests of what runs or leases for it.

    The API only takes programs installed in a program directory (tests/security); the
    supervisor and the dispatcher run whatever the store holds.
    """
    now = clock.now()
    program = Program(name=name, command=command, provider=provider, created_at=now, updated_at=now)
    programs.add(program)
    return program
