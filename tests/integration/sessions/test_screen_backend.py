"""ScreenBackend against real GNU screen, in a SCREENDIR of the test's own."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from smsfleet.sessions.backend import EXITED, LaunchSpec, RunStatus, ScreenEntry
from smsfleet.sessions.names import InvalidSessionName
from smsfleet.sessions.screen import (
    ScreenBackend,
    ScreenError,
    SessionStartError,
    parse_screen_ls,
)
from tests.support.waiting import eventually

T = TypeVar("T")

PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, time

    def on_term(signum, frame):
        print("got SIGTERM, cleaning up")
        sys.exit(7)

    signal.signal(signal.SIGTERM, on_term)
    mode = sys.argv[1] if len(sys.argv) > 1 else "run"
    print("session", os.environ.get("SMSFLEET_SESSION"))
    print("secret", os.environ.get("SMSFLEET_SECRET_KEY"))
    if mode == "exit":
        sys.exit(3)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        print("emit", time.time())  # No flush: the runner sets PYTHONUNBUFFERED.
        time.sleep(0.1)
    """
)


@dataclasses.dataclass
class Fleet:
    backend: ScreenBackend
    screen_dir: Path
    program: Path

    def spec(self, name: str, mode: str = "run") -> LaunchSpec:
        return LaunchSpec(
            name=name,
            argv=(sys.executable, str(self.program), mode),
            env={"SMSFLEET_SESSION": name},
            cwd=self.program.parent,
        )

    def screen_ls_names(self) -> list[str]:
        """Names as plain `screen -ls` shows them, without going through the backend."""
        result = subprocess.run(
            ["screen", "-ls"],
            env={**os.environ, "SCREENDIR": str(self.screen_dir)},
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return sorted(entry.name for entry in parse_screen_ls(result.stdout))


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    if shutil.which("screen") is None:
        pytest.fail("GNU screen is not on PATH: install it (apt-get install screen)")
    # Programs must get unbuffered output from the runner, not from the test's environment.
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    # Short path: screen's sockets live here and a socket path is limited to 107 bytes.
    screen_dir = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp"))
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    backend = ScreenBackend(tmp_path / "state", screen_dir=screen_dir / "s")
    try:
        yield Fleet(backend, screen_dir / "s", program)
    finally:
        for entry in backend.list():
            subprocess.run(
                ["screen", "-S", entry.socket_name, "-X", "quit"],
                env={**os.environ, "SCREENDIR": str(screen_dir / "s")},
                capture_output=True,
                timeout=10,
                check=False,
            )
        shutil.rmtree(screen_dir, ignore_errors=True)


def wait_for_end(fleet: Fleet, name: str) -> RunStatus:
    def ended() -> RunStatus | None:
        status = fleet.backend.status(name)
        return status if status is not None and not status.running else None

    return eventually(ended)


def test_start_three_sessions(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSFLEET_SECRET_KEY", "control-plane-only")
    names = ["program1_UZ_uzmobile", "program2_IN_airtel", "program3_UA_3mob"]

    entries = [fleet.backend.start(fleet.spec(name)) for name in names]

    assert fleet.screen_ls_names() == sorted(names)
    assert sorted(e.name for e in fleet.backend.list()) == sorted(names)
    assert (fleet.screen_dir.stat().st_mode & 0o777) == 0o700
    for entry in entries:
        assert entry.alive
        assert entry.started_at is not None
        status = fleet.backend.status(entry.name)
        assert status is not None
        assert status.running
        assert status.screen_pid == entry.pid
        assert status.program_pid is not None
        assert _key(fleet.backend.find(entry.name)) == _key(entry)
        eventually(partial(_messages, fleet.backend, entry.name, "secret"))
        assert _messages(fleet.backend, entry.name, "session") == [f"session {entry.name}"]
        assert _messages(fleet.backend, entry.name, "secret") == ["secret None"]  # Withheld.


def test_a_screendir_the_control_plane_was_started_with_is_where_its_programs_run(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Programs get an environment of their own: started with a SCREENDIR of its own and
    no `screen_dir` set, the backend still starts their screens where it lists, stops
    and wipes them, never in the user's default directory."""
    monkeypatch.setenv("SCREENDIR", str(fleet.screen_dir))
    backend = ScreenBackend(tmp_path / "own-state")
    name = "program1_AZ_azercell"
    entry = backend.start(fleet.spec(name))
    assert entry.alive
    assert fleet.screen_ls_names() == [name]
    assert _key(backend.find(name)) == _key(entry)
    # Its SIGTERM handler is set before its first line: a stop before that would kill it.
    eventually(lambda: _messages(backend, name, "emit"))
    final = backend.stop(name, grace_seconds=5.0)
    assert final is not None and final.exit_code == 7
    assert fleet.screen_ls_names() == []


def test_a_started_program_its_screen_does_not_list_is_killed(fleet: Fleet, tmp_path: Path) -> None:
    """A screen that starts where the listings do not look (its SCREENDIR changed on the
    way) would run unseen, never stopped, and each new start would add one: the start
    fails and kills what it started."""
    elsewhere = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp")) / "s"
    moving = tmp_path / "screen-elsewhere"
    moving.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-dmS" ]; then SCREENDIR={elsewhere}; export SCREENDIR; fi\n'
        'exec screen "$@"\n'
    )
    moving.chmod(0o755)
    elsewhere.mkdir(mode=0o700)
    backend = ScreenBackend(
        tmp_path / "own-state",
        screen_bin=str(moving),
        screen_dir=fleet.screen_dir,
        start_timeout=1.0,
    )
    name = "program1_US_verizon"
    try:
        with pytest.raises(SessionStartError, match="screen does not list it"):
            backend.start(fleet.spec(name))
        run = backend.status(name)
        assert run is not None and run.program_pid is not None
        pid = run.program_pid
        eventually(lambda: not _alive(pid))
    finally:
        subprocess.run(
            ["screen", "-wipe"],
            env={**os.environ, "SCREENDIR": str(elsewhere)},
            capture_output=True,
            timeout=10,
            check=False,
        )
        shutil.rmtree(elsewhere.parent, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_log_lines_arrive_within_a_second(fleet: Fleet) -> None:
    name = "program1_IN_vi"
    fleet.backend.start(fleet.spec(name))

    lags: list[float] = []
    seen: set[str] = set()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and len(lags) < 10:
        now = time.time()
        for line in fleet.backend.tail(name, 20):
            message = line.split(" ", 1)[1]
            if message.startswith("emit ") and message not in seen:
                seen.add(message)
                lags.append(now - float(message.split()[1]))
        time.sleep(0.02)

    assert len(lags) >= 5, "the program's lines did not reach the log"
    assert max(lags) < 1.0, f"log lagged behind the program: {max(lags):.3f} s"


def test_stop_is_graceful_and_records_the_exit(fleet: Fleet) -> None:
    name = "program2_TJ_megafon"
    fleet.backend.start(fleet.spec(name))
    eventually(lambda: _messages(fleet.backend, name, "emit"))

    started = time.monotonic()
    final = fleet.backend.stop(name, grace_seconds=5.0)

    assert time.monotonic() - started < 3.0
    assert final is not None
    assert final.exit_code == 7
    assert final.signal is None
    assert final.ended_at is not None
    assert _messages(fleet.backend, name, "got SIGTERM") == ["got SIGTERM, cleaning up"]
    assert fleet.screen_ls_names() == []
    assert fleet.backend.status(name) == final
    assert fleet.backend.stop(name) == final  # Stopping again is harmless.


def test_stop_escalates_to_sigkill(fleet: Fleet) -> None:
    name = "program3_IN_docomo"
    fleet.backend.start(fleet.spec(name, "stubborn"))
    eventually(lambda: _messages(fleet.backend, name, "emit"))

    final = fleet.backend.stop(name, grace_seconds=0.3)

    assert final is not None
    assert final.signal == 9
    assert final.exit_code is None
    assert fleet.screen_ls_names() == []


def test_program_that_exits_at_once_leaves_its_exit_code(fleet: Fleet) -> None:
    name = "program1_AZ_azercell"
    entry = fleet.backend.start(fleet.spec(name, "exit"))

    status = wait_for_end(fleet, name)
    assert status.exit_code == 3
    assert entry.name == name
    eventually(lambda: fleet.screen_ls_names() == [])
    if entry.status == EXITED:
        assert not entry.alive


def test_program_that_cannot_start(fleet: Fleet) -> None:
    spec = LaunchSpec("program1_IN_reliance", (str(fleet.program.parent / "missing"),))
    fleet.backend.start(spec)
    status = wait_for_end(fleet, spec.name)
    assert status.exit_code == 127
    assert status.error is not None
    assert "cannot start" in fleet.backend.tail(spec.name, 1)[0]


def test_starting_an_existing_name_adopts_it(fleet: Fleet) -> None:
    name = "program1_UA_3mob"
    first = fleet.backend.start(fleet.spec(name))
    status = fleet.backend.status(name)

    again = fleet.backend.start(fleet.spec(name))

    assert _key(again) == _key(first)
    assert fleet.backend.status(name) == status  # Not relaunched.
    assert fleet.screen_ls_names() == [name]


def test_concurrent_starts_of_one_name_make_one_screen(fleet: Fleet) -> None:
    name = "program4_IN_airtel"
    barrier = threading.Barrier(4)

    def start() -> int:
        barrier.wait()
        return fleet.backend.start(fleet.spec(name)).pid

    with ThreadPoolExecutor(max_workers=4) as pool:
        pids = list(pool.map(lambda _: start(), range(4)))

    assert len(set(pids)) == 1
    assert fleet.screen_ls_names() == [name]


def test_a_name_prefix_never_matches_another_session(fleet: Fleet) -> None:
    fleet.backend.start(fleet.spec("program1_IN_vip"))
    assert fleet.backend.find("program1_IN_vi") is None
    assert fleet.backend.stop("program1_IN_vi") is None

    fleet.backend.start(fleet.spec("program1_IN_vi"))
    assert fleet.screen_ls_names() == ["program1_IN_vi", "program1_IN_vip"]

    fleet.backend.stop("program1_IN_vi")
    assert fleet.screen_ls_names() == ["program1_IN_vip"]


def test_a_screen_started_by_hand_is_adopted_and_stopped(fleet: Fleet) -> None:
    name = "program5_UZ_uzmobile"
    subprocess.run(
        ["screen", "-dmS", name, "sleep", "60"],
        env={**os.environ, "SCREENDIR": str(fleet.screen_dir)},
        check=True,
        timeout=10,
    )
    manual = eventually(lambda: fleet.backend.find(name))

    assert _key(fleet.backend.start(fleet.spec(name))) == _key(manual)
    assert fleet.backend.status(name) is None

    assert fleet.backend.stop(name) is None
    assert fleet.screen_ls_names() == []


HOSTILE = ["x;rm -rf /", "$(id)", "program1_IN_vi x", "program1_IN_vi\n", "a" * 300,
           "program1_IN_\u0430irtel", "program\uff11_IN_vi", ""]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_never_reach_screen(fleet: Fleet, tmp_path: Path, name: str) -> None:
    marker = tmp_path / "screen-was-run"
    spy = tmp_path / "screen-spy"
    spy.write_text(f'#!/bin/sh\ntouch {marker}\nexec screen "$@"\n')
    spy.chmod(0o755)
    backend = ScreenBackend(tmp_path / "state", screen_bin=str(spy), screen_dir=fleet.screen_dir)

    with pytest.raises(InvalidSessionName):
        backend.start(fleet.spec(name))
    valid = fleet.spec("program1_IN_vi")
    object.__setattr__(valid, "name", name)  # Bypass LaunchSpec's own check.
    for action in (
        lambda: backend.start(valid),
        lambda: backend.stop(name),
        lambda: backend.find(name),
        lambda: backend.status(name),
        lambda: backend.tail(name),
    ):
        with pytest.raises(InvalidSessionName):
            action()

    assert not marker.exists()
    assert fleet.screen_ls_names() == []
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())


def test_missing_screen_binary_is_reported_clearly(tmp_path: Path) -> None:
    from smsfleet.sessions.screen import ScreenNotFound

    backend = ScreenBackend(tmp_path / "state", screen_bin="no-such-screen-binary")
    with pytest.raises(ScreenNotFound, match="not installed or not on PATH"):
        backend.list()


def _key(entry: ScreenEntry | None) -> tuple[int, str] | None:
    # Not the whole entry: the time `screen -ls` prints is its socket's mtime, which moves.
    return None if entry is None else (entry.pid, entry.name)


def _messages(backend: ScreenBackend, name: str, prefix: str) -> list[str]:
    messages = [line.split(" ", 1)[1] for line in backend.tail(name, 1000)]
    return [message for message in messages if message.startswith(prefix)]


def test_another_control_planes_sessions_in_the_same_screen_dir_are_left_alone(
    fleet: Fleet, tmp_path: Path
) -> None:
    """Two control planes on one host with one screen directory (no SMSFLEET_SCREEN_DIR
    each): neither adopts, stops nor starts a second of the other's sessions."""
    name = "program1_UZ_uzmobile"
    other = ScreenBackend(tmp_path / "other-state", screen_dir=fleet.screen_dir)
    theirs = other.start(fleet.spec(name))
    by_hand = "program2_UZ_uzmobile"  # started by hand: no runner, adoptable as before
    subprocess.run(
        ["screen", "-dmS", by_hand, "sleep", "60"],
        env={**os.environ, "SCREENDIR": str(fleet.screen_dir)},
        check=True,
    )
    try:
        eventually(lambda: fleet.screen_ls_names() == sorted([name, by_hand]))
        assert [entry.name for entry in fleet.backend.list()] == [by_hand]
        assert fleet.backend.find(name) is None
        with pytest.raises(ScreenError, match="another smsfleet control plane"):
            fleet.backend.start(fleet.spec(name))
        fleet.backend.stop(name, grace_seconds=1)  # not its own: nothing to stop here
        # Still running, the only one of its name (its socket's time moves when screen
        # touches it: not compared).
        found = other.find(name)
        assert found is not None and found.socket_name == theirs.socket_name
        assert fleet.screen_ls_names() == sorted([name, by_hand])
        assert sorted(entry.name for entry in other.list()) == sorted([name, by_hand])
    finally:
        other.stop(name, grace_seconds=1)
