"""The runner as a real child process (no screen involved)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsfleet.sessions import runner as runner_module
from smsfleet.sessions.logtail import log_lines
from smsfleet.sessions.runner import process_start_ticks, write_status
from tests.support.backends import free_port
from tests.support.servers import ThreadedServer
from tests.support.waiting import eventually

# Every runner a test started: one a failed test leaves running is ended after it, rather
# than warn from the garbage collector in whichever test comes next.
_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _runners_ended() -> Iterator[None]:
    yield
    while _STARTED:
        runner = _STARTED.pop()
        if runner.poll() is None:
            runner.kill()  # its program dies with it
        runner.wait(timeout=10)


def _runner(
    tmp_path: Path, *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "smsfleet.sessions.runner",
        "--status-file",
        str(tmp_path / "s.status.json"),
        "--log-file",
        str(tmp_path / "s.log"),
    ]
    if cwd is not None:
        command += ["--cwd", str(cwd)]
    # Without PYTHONUNBUFFERED of its own, so that the runner is what sets it.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | (env or {})
    runner = subprocess.Popen(
        [*command, "--", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    _STARTED.append(runner)
    return runner


def _status(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "s.status.json").read_text())
    return data


def _log(tmp_path: Path) -> list[str]:
    return (tmp_path / "s.log").read_text().splitlines()


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "prog.py"
    path.write_text(
        textwrap.dedent(
            """
            import os, signal, sys, time
            def stop(signum, frame):
                print("stopping on", signal.Signals(signum).name)
                sys.exit(5)
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGHUP, stop)
            print("unbuffered", os.environ.get("PYTHONUNBUFFERED"))
            print("stamped", os.environ.get("SMSFLEET_LOG_STAMPED"))
            print("cwd", os.getcwd())
            print("to stderr", file=sys.stderr)
            if sys.argv[1:] == ["exit"]:
                sys.exit(3)
            while True:
                time.sleep(0.05)
            """
        )
    )
    return path


def test_exit_code_and_output_are_recorded(tmp_path: Path, program: Path) -> None:
    runner = _runner(tmp_path, sys.executable, str(program), "exit", cwd=tmp_path)
    assert runner.wait(timeout=10) == 3

    status = _status(tmp_path)
    assert status["exit_code"] == 3
    assert status["signal"] is None
    assert status["runner_pid"] == runner.pid
    assert isinstance(status["program_pid"], int)
    assert status["argv"] == [sys.executable, str(program), "exit"]
    assert status["started_at"] <= status["ended_at"]
    assert status["ended_at"].endswith("Z")

    lines = _log(tmp_path)
    messages = [line.split(" ", 1)[1] for line in lines]
    assert "unbuffered 1" in messages
    assert "stamped 1" in messages  # so the worker SDK writes no timestamp of its own
    assert f"cwd {tmp_path}" in messages
    assert "to stderr" in messages
    assert messages[-1].endswith("exited with code 3")
    for line in lines:  # Every line starts with an ISO UTC timestamp.
        assert line[:4].isdigit()
        assert line.split(" ", 1)[0].endswith("Z")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_are_forwarded_to_the_program(
    tmp_path: Path, program: Path, signum: signal.Signals
) -> None:
    runner = _runner(tmp_path, sys.executable, str(program))
    eventually(lambda: any(line.endswith(" to stderr") for line in _safe_log(tmp_path)))

    runner.send_signal(signum)
    code = runner.wait(timeout=10)

    status = _status(tmp_path)
    if signum == signal.SIGINT:  # No handler: Python dies of SIGINT after KeyboardInterrupt.
        assert code == 128 + signal.SIGINT
        assert status["signal"] == signal.SIGINT
    else:
        assert code == status["exit_code"] == 5
        assert f"stopping on {signum.name}" in [line.split(" ", 1)[1] for line in _log(tmp_path)]
    assert status["ended_at"] is not None


def test_program_killed_by_a_signal(tmp_path: Path) -> None:
    runner = _runner(tmp_path, sys.executable, "-c", "import time; time.sleep(30)")
    eventually(lambda: (tmp_path / "s.status.json").exists())
    os.killpg(_status(tmp_path)["program_pid"], signal.SIGKILL)

    assert runner.wait(timeout=10) == 128 + signal.SIGKILL
    status = _status(tmp_path)
    assert status["signal"] == signal.SIGKILL
    assert status["exit_code"] is None


def test_a_program_dies_with_its_runner(tmp_path: Path) -> None:
    """A runner killed outright (kill -9) takes its program with it: else the program
    would run on beside the one the supervisor starts in its place, two of one session."""
    runner = _runner(tmp_path, sys.executable, "-c", "import time; time.sleep(60)")
    eventually(lambda: (tmp_path / "s.status.json").exists())
    program = _status(tmp_path)["program_pid"]
    runner.kill()
    runner.wait(timeout=10)

    def gone() -> bool:
        try:
            state = Path(f"/proc/{program}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state == "Z"  # dead, waiting for init to reap it

    eventually(gone, timeout=5, what=f"the program (pid {program}) to die with its runner")


def test_the_runner_tells_the_control_plane_the_moment_its_program_ends(
    tmp_path: Path,
) -> None:
    told: list[tuple[str, str | None, Any, bool]] = []

    async def ended(request: Request) -> Response:
        # What the status file said when the control plane heard it: ended already.
        ended_at = _status(tmp_path)["ended_at"]
        told.append(
            (
                request.url.path,
                request.headers.get("authorization"),
                await request.json(),
                ended_at is not None,
            )
        )
        return Response(status_code=204)

    control_plane = ThreadedServer(
        Starlette(routes=[Route("/base/api/v1/worker/ended", ended, methods=["POST"])])
    )
    control_plane.start()
    try:
        env = {
            "SMSFLEET_URL": f"{control_plane.url}/base/",
            "SMSFLEET_SESSION": "program1_UZ_uzmobile",
            "SMSFLEET_WORKER_TOKEN": "worker-token",
        }
        runner = _runner(tmp_path, sys.executable, "-c", "import time; time.sleep(30)", env=env)
        eventually(lambda: (tmp_path / "s.status.json").exists())
        pid = _status(tmp_path)["program_pid"]
        os.killpg(pid, signal.SIGKILL)
        assert runner.wait(timeout=10) == 128 + signal.SIGKILL
        # Which run ended: its program's pid.
        assert told == [
            (
                "/base/api/v1/worker/ended",
                "Bearer worker-token",
                {"session": "program1_UZ_uzmobile", "pid": pid},
                True,
            )
        ]
    finally:
        control_plane.stop()


def test_a_control_plane_that_does_not_answer_never_holds_the_runner(tmp_path: Path) -> None:
    env = {
        "SMSFLEET_URL": f"http://127.0.0.1:{free_port()}",
        "SMSFLEET_SESSION": "program1_UZ_uzmobile",
        "SMSFLEET_WORKER_TOKEN": "worker-token",
    }
    runner = _runner(tmp_path, sys.executable, "-c", "raise SystemExit(4)", env=env)
    assert runner.wait(timeout=10) == 4
    assert _status(tmp_path)["exit_code"] == 4


def test_program_that_cannot_start(tmp_path: Path) -> None:
    runner = _runner(tmp_path, str(tmp_path / "missing-program"))
    assert runner.wait(timeout=10) == 127
    status = _status(tmp_path)
    assert status["exit_code"] == 127
    assert status["program_pid"] is None
    assert "No such file" in status["error"]
    assert "cannot start" in _log(tmp_path)[-1]


def test_arguments_are_never_run_by_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    runner = _runner(tmp_path, sys.executable, "-c", "print('ok')", f"; touch {marker}")
    assert runner.wait(timeout=10) == 0
    assert not marker.exists()


def test_a_command_is_required(tmp_path: Path) -> None:
    options = ["--status-file", str(tmp_path / "s"), "--log-file", str(tmp_path / "l")]
    module = [sys.executable, "-m", "smsfleet.sessions.runner"]
    for tail in (["--"], []):
        result = subprocess.run([*module, *options, *tail], capture_output=True, timeout=10)
        assert result.returncode == 2
        assert b"program to run" in result.stderr
    assert not (tmp_path / "s").exists()


def test_write_status_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "x.status.json"
    write_status(path, {"a": 1})
    write_status(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.status.json"]


def test_process_start_ticks_identifies_a_process() -> None:
    assert process_start_ticks(os.getpid()) == process_start_ticks(os.getpid())
    assert process_start_ticks(os.getpid()) is not None
    assert process_start_ticks(2**22 + 12345) is None


def _safe_log(tmp_path: Path) -> list[str]:
    try:
        return _log(tmp_path)
    except FileNotFoundError:
        return []


def test_a_chatty_programs_log_is_rotated(tmp_path: Path) -> None:
    """A program printing 1 MiB with a 64 KiB bound: the log and three older files stay."""
    chatty = "import sys\nfor n in range(16384):\n    print(f'line {n:05d} ' + 'x' * 50)\n"
    runner = subprocess.run(
        [
            sys.executable,
            "-m",
            "smsfleet.sessions.runner",
            "--status-file",
            str(tmp_path / "s.status.json"),
            "--log-file",
            str(tmp_path / "s.log"),
            "--log-max-bytes",
            str(64 * 1024),
            "--",
            sys.executable,
            "-c",
            chatty,
        ],
        capture_output=True,
        timeout=60,
    )
    assert runner.returncode == 0, runner.stderr
    logs = sorted(path.name for path in tmp_path.glob("s.log*"))
    assert logs == ["s.log", "s.log.1", "s.log.2", "s.log.3"]
    for path in tmp_path.glob("s.log*"):
        assert path.stat().st_size <= 64 * 1024
    # The newest lines are in the log itself, the ones before them in .1.
    assert "line 16383" in (tmp_path / "s.log").read_text() + (tmp_path / "s.log.1").read_text()
    assert "exited with code 0" in _log(tmp_path)[-1]


# A DCS pass-through carrying an OSC 52 clipboard write, then a title change: what a
# program may print of a provider's answer.
PASSED_THROUGH = b"\x1bP\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b\\\x1b]0;RETITLED\x07 ok\n"
MORE = (
    b"\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ \x1b[31mred\x1b[0m bell\x07"
    b" nul\x00 c1\xc2\x9b2J caf\xc3\xa9 tab\tkept\n"
)


def test_the_window_gets_the_output_without_terminal_escapes_the_log_as_written(
    tmp_path: Path,
) -> None:
    """Whoever attaches with `screen -r` reads the window: the program's output reaches it
    cleaned as the log's readers clean it, while the log keeps the bytes as written."""
    program = f"import sys; sys.stdout.buffer.write({PASSED_THROUGH + MORE!r})"
    # As screen starts it: by path, isolated and without site.
    window = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            runner_module.__file__,
            "--status-file",
            str(tmp_path / "s.status.json"),
            "--log-file",
            str(tmp_path / "s.log"),
            "--",
            sys.executable,
            "-c",
            program,
        ],
        capture_output=True,
        timeout=30,
    )
    assert window.returncode == 0, window.stderr

    assert b"\x1b" not in window.stdout and b"\x07" not in window.stdout
    assert b"\x00" not in window.stdout and b"\xc2\x9b" not in window.stdout
    shown = window.stdout.decode().splitlines()
    assert " ok" in shown
    assert "link red bell nul c1 caf\u00e9 tab\tkept" in shown
    # The log as the program wrote it, and read as the window shows it.
    log = (tmp_path / "s.log").read_bytes()
    assert PASSED_THROUGH in log and MORE in log
    assert [line.split(" ", 1)[1] for line in log_lines(log)] == shown
