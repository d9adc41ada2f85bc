"""LaunchSpec validation and log tailing: no screen needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsfleet.sessions.backend import LaunchSpec
from smsfleet.sessions.logtail import LogCursor, read_since
from smsfleet.sessions.names import InvalidSessionName
from smsfleet.sessions.runner import MAX_LINE_BYTES
from smsfleet.sessions.screen import TAIL_MAX_BYTES, ScreenBackend


def test_launch_spec_normalises_argv_and_env() -> None:
    env = {"SMSFLEET_SESSION": "program1_IN_vi"}
    spec = LaunchSpec("program1_IN_vi", ["python", "p.py"], env)  # type: ignore[arg-type]
    env["LATER"] = "x"
    assert spec.argv == ("python", "p.py")
    assert dict(spec.env) == {"SMSFLEET_SESSION": "program1_IN_vi"}


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        ((), {}),
        (("",), {}),
        (("python", "a\0b"), {}),
        (("python",), {"A=B": "1"}),
        (("python",), {"": "1"}),
        (("python",), {"A B": "1"}),
        (("python",), {"OK": "a\0b"}),
    ],
)
def test_launch_spec_rejects_bad_commands(argv: tuple[str, ...], env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="program1_IN_vi"):
        LaunchSpec("program1_IN_vi", argv, env)


def test_launch_spec_rejects_bad_names() -> None:
    with pytest.raises(InvalidSessionName):
        LaunchSpec("x;rm -rf /", ("python",))


@pytest.fixture
def backend(tmp_path: Path) -> ScreenBackend:
    (tmp_path / "state").mkdir()
    return ScreenBackend(tmp_path / "state")


def _write_log(backend: ScreenBackend, name: str, lines: list[str]) -> None:
    backend.log_path(name).write_text("".join(f"{line}\n" for line in lines))


def test_tail_returns_the_last_lines(backend: ScreenBackend) -> None:
    lines = [f"line {n} " + "x" * (n % 300) for n in range(5000)]
    _write_log(backend, "program1_IN_vi", lines)
    assert backend.tail("program1_IN_vi", 100) == lines[-100:]
    assert backend.tail("program1_IN_vi", 1) == lines[-1:]
    assert backend.tail("program1_IN_vi", 0) == []
    assert backend.tail("program1_IN_vi", 10_000) == lines


def test_tail_of_short_missing_and_partial_logs(backend: ScreenBackend) -> None:
    assert backend.tail("program1_IN_vi") == []
    _write_log(backend, "program1_IN_vi", ["a", "b"])
    assert backend.tail("program1_IN_vi") == ["a", "b"]
    backend.log_path("program1_IN_vi").write_bytes(b"a\nb\xff\npartial")
    # A line still being written waits for its end, as a follow reads it: whole, once.
    assert backend.tail("program1_IN_vi", 2) == ["a", "b\ufffd"]


def test_tail_does_not_read_the_whole_file(backend: ScreenBackend) -> None:
    path = backend.log_path("program1_IN_vi")
    with path.open("wb") as log:
        log.truncate(512 * 1024 * 1024)  # A sparse 512 MiB of NULs, then two lines.
        log.seek(0, 2)
        log.write(b"\nlast but one\nlast\n")
    assert backend.tail("program1_IN_vi", 2) == ["last but one", "last"]


def test_tail_of_long_lines_reads_a_bounded_end_of_the_log(backend: ScreenBackend) -> None:
    """A program printing lines as long as the runner keeps (64 KiB): 200 lines asked are
    the last whole ones within TAIL_MAX_BYTES, not the whole 10 MiB log."""
    lines = [f"{n:03} " + "x" * (MAX_LINE_BYTES - 5) for n in range(160)]
    _write_log(backend, "program1_IN_vi", lines)
    tail = backend.tail("program1_IN_vi", 200)
    assert 0 < len(tail) < len(lines)
    assert tail == lines[-len(tail) :]
    assert sum(len(line) + 1 for line in tail) <= TAIL_MAX_BYTES
    # One line longer than the budget before the last: only the last is whole within it.
    backend.log_path("program1_IN_vi").write_bytes(b"y" * (TAIL_MAX_BYTES * 2) + b"\nlast\n")
    assert backend.tail("program1_IN_vi", 5) == ["last"]


def test_tail_validates_its_arguments(backend: ScreenBackend) -> None:
    with pytest.raises(InvalidSessionName):
        backend.tail("../../etc/passwd")
    with pytest.raises(ValueError, match="lines"):
        backend.tail("program1_IN_vi", -1)
    with pytest.raises(ValueError, match="lines"):
        backend.tail("program1_IN_vi", 10_001)


def test_status_of_a_session_that_never_ran(backend: ScreenBackend) -> None:
    assert backend.status("program1_IN_vi") is None


HOSTILE = (
    b"\x1b]0;owned\x07title \x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ "
    b"\x1b[31mred\x1b[0m \x1b]52;c;aGk=\x07clip bell\x07 nul\x00 c1\xc2\x9b2J tab\tkept\n"
)
READABLE = "title link red clip bell nul c1 tab\tkept"


def test_tail_and_follow_take_terminal_escapes_and_controls_out(backend: ScreenBackend) -> None:
    """A program logs what providers tell it; a log read at a terminal must not retitle
    it, write its clipboard or fake a link."""
    path = backend.log_path("program1_IN_vi")
    path.write_bytes(b"before\n" + HOSTILE)
    assert backend.tail("program1_IN_vi", 2) == ["before", READABLE]
    assert read_since(path, 0) == (path.stat().st_size, ["before", READABLE])


def test_a_log_followed_with_a_backlog_repeats_its_last_lines_whole(
    backend: ScreenBackend,
) -> None:
    """The dashboard reads a log's last lines, then asks to follow it: lines written
    between the two reach it in the backlog (it drops what it holds), none is lost, and
    the backlog starts at a whole line."""
    name = "program1_IN_vi"
    path = backend.log_path(name)
    path.write_text("".join(f"line {n}\n" for n in range(1, 101)))
    page = backend.tail(name, 10)
    with path.open("a") as log:  # before the follow is asked
        log.write("line 101\nline 102\n")
    behind = LogCursor(backend, name, backlog=100)
    at_end = LogCursor(backend, name)
    with path.open("a") as log:
        log.write("line 103\n")
    repeated = behind.read_new()
    assert repeated[-3:] == ["line 101", "line 102", "line 103"]
    assert all(line.startswith("line ") and line[5:].isdigit() for line in repeated)
    joined = page + repeated[repeated.index(page[-1]) + 1 :]
    assert joined == [f"line {n}" for n in range(91, 104)]
    # From the end alone, what came between the page and the follow is gone.
    assert at_end.read_new() == ["line 103"]
