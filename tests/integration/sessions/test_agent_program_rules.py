"""A host's agent starts only what its own program directories hold: the start request
brings the host's rules, and the command is checked against the host's disk."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smsfleet.sessions.agent import handle
from smsfleet.sessions.screen import ScreenBackend
from tests.support.fleet import short_dir
from tests.support.programs import TICKING, install_program
from tests.support.sessions import require_screen

NAME = "program1_UZ_uzmobile"


@dataclass
class Host:
    root: Path
    programs: Path
    screen_dir: Path
    seen: ScreenBackend

    def start(self, argv: list[str], **rules: Any) -> dict[str, Any]:
        request = {
            "op": "start",
            "state_dir": str(self.root / "sessions"),
            "screen_dir": str(self.screen_dir),
            "spec": {"name": NAME, "argv": argv, "env": {}, "cwd": str(self.root)},
            "rules": {
                "dirs": [str(self.programs)],
                "workdir": str(self.root),
                "interpreters": [sys.executable],
                "where": "program_dirs of host edge1",
            }
            | rules,
        }
        return handle(request)

    def started(self) -> list[str]:
        return [entry.name for entry in self.seen.list() if entry.alive]


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    require_screen()
    screen_dir = short_dir("sf-agent-")
    seen = ScreenBackend(tmp_path / "sessions", screen_dir=screen_dir)
    yield Host(tmp_path, tmp_path / "programs", screen_dir, seen)
    for entry in seen.list():
        seen.stop(entry.name, grace_seconds=0)
    shutil.rmtree(screen_dir, ignore_errors=True)


def test_the_agent_refuses_a_command_outside_the_hosts_program_directories(
    host: Host, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    outside = install_program(tmp_path / "elsewhere", "outside", f"open({str(marker)!r}, 'w')")[1]
    host.programs.mkdir()
    (host.programs / "sh").symlink_to("/bin/sh")
    (host.programs / "escape.py").symlink_to(outside)
    refused = {
        "symlink to a shell": ([str(host.programs / "sh"), "-c", f"touch {marker}"], "command.0"),
        "symlink out": ([sys.executable, str(host.programs / "escape.py")], "command.1"),
        "outside": ([sys.executable, outside], "command.1"),
        "python -c": ([sys.executable, "-c", f"open({str(marker)!r}, 'w')"], "command.1"),
        "missing": ([sys.executable, str(host.programs / "missing.py")], "command.1"),
    }
    for case, (argv, field) in refused.items():
        answer = host.start(argv)
        assert answer["error"]["kind"] == "refused", (case, answer)
        assert answer["error"]["details"][0]["field"] == field, (case, answer)
    answer = host.start([sys.executable, outside])
    message = answer["error"]["message"]
    assert "outside the program directories" in message and "program_dirs of host edge1" in message
    assert host.started() == [] and not marker.exists()
    assert not (host.root / "sessions" / f"{NAME}.log").exists()


def test_the_agent_starts_nothing_without_the_hosts_rules(host: Host) -> None:
    argv = install_program(host.programs, "ticker", TICKING)
    no_dirs = host.start(argv, dirs=[])
    assert no_dirs["error"]["kind"] == "refused"
    assert "no program directory is set here" in no_dirs["error"]["message"]
    unruled = handle(
        {
            "op": "start",
            "state_dir": str(host.root / "sessions"),
            "screen_dir": str(host.screen_dir),
            "spec": {"name": NAME, "argv": argv, "env": {}, "cwd": str(host.root)},
        }
    )
    assert unruled["error"]["kind"] == "value" and "rules" in unruled["error"]["message"]
    assert host.started() == []


def test_the_agent_starts_a_program_installed_in_the_hosts_program_directories(
    host: Host,
) -> None:
    argv = install_program(host.programs, "ticker", TICKING)
    answer = host.start(argv)
    assert "error" not in answer, answer
    assert answer["entry"]["name"] == NAME
    assert host.started() == [NAME]
    # A relative script is taken from the host's working directory.
    host.seen.stop(NAME, grace_seconds=0)
    assert "error" not in host.start([sys.executable, "programs/ticker.py"])
    assert host.started() == [NAME]
