"""GNU screen backend: list, start, stop and read the sessions of one host.

Each session is a detached screen named `{program}_{pair key}` whose only
window runs `python -I -S …/smsfleet/sessions/runner.py`, which in turn runs the
program. The runner keeps, in `state_dir`:

- `<name>.log`: the program's output, one timestamped line at a time;
- `<name>.status.json`: runner and program pids, start time, exit code or
  signal and end time.

Screen is always called with an argv list, and a session name is validated
before it reaches screen or the file system. Screen matches `-S` by prefix
(`program1_IN_vi` would also hit `program1_IN_vip`), so commands to one
session always target the exact `pid.name` found by `list()`.

The API is blocking; the supervisor calls it from a worker thread.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from smsfleet.core.program_env import program_environment
from smsfleet.sessions import runner
from smsfleet.sessions.backend import EXITED, LaunchSpec, RunStatus, ScreenEntry
from smsfleet.sessions.logtail import log_lines, read_since
from smsfleet.sessions.names import parse_session_name
from smsfleet.sessions.runner import process_start_ticks, process_usage

__all__ = [
    "ScreenBackend",
    "ScreenError",
    "ScreenNotFound",
    "SessionStartError",
    "parse_screen_ls",
]

_ENTRY_RE = re.compile(r"\s+(?P<pid>\d+)\.(?P<name>[^\t]+)(?P<fields>(?:\t+\([^\t]*\))+)\s*")
_FIELD_RE = re.compile(r"\(([^\t]*)\)")
# `screen -ls` prints the start time with the locale's %x %X: try the usual ones.
_SCREEN_TIME_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%y %I:%M:%S %p",
    "%m/%d/%y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)
RUNNER_PATH = runner.__file__
_LS_HEADERS = ("No Sockets found", "There is a screen on", "There are screens on")
# The listing's last line: "No Sockets found in /run/screen/S-fleet." or "22 Sockets in …".
_LS_DIRECTORY = re.compile(r"^(?:No Sockets found|\d+ Sockets?) in (.+?)\.?\s*$", re.MULTILINE)

_POLL_SECONDS = 0.02
_KILL_WAIT_SECONDS = 3.0
_SCREEN_EXIT_WAIT_SECONDS = 2.0
_TAIL_BLOCK_BYTES = 8192
# A tail reads at most this much of a log's end: a log of long lines (up to the runner's
# MAX_LINE_BYTES each) gives fewer lines than asked rather than megabytes per request.
TAIL_MAX_BYTES = 2 * 1024 * 1024
MAX_TAIL_LINES = 10_000

_T = TypeVar("_T")


class ScreenError(RuntimeError):
    """Screen failed or answered something this backend does not understand."""


class ScreenNotFound(ScreenError):
    """The screen binary is not installed or not on PATH."""


class SessionStartError(ScreenError):
    """A session was launched but never reported that it started."""


def _parse_screen_time(text: str) -> datetime | None:
    for time_format in _SCREEN_TIME_FORMATS:
        try:
            naive = datetime.strptime(text.strip(), time_format)
        except ValueError:
            continue
        return naive.astimezone()  # screen prints the host's local time
    return None


def screen_ls_directory(output: str) -> str | None:
    """The directory a `screen -ls` looked in, as its last line says; None if unsaid."""
    found = _LS_DIRECTORY.search(output)
    return found.group(1) if found else None


def parse_screen_ls(output: str) -> list[ScreenEntry]:
    """Entries of `screen -ls` output, in the order screen printed them.

    Understands lines with and without a start time
    (`\\t3245168.program1_UZ_uzmobile\\t(10/20/2024 12:06:21 PM)\\t(Detached)`,
    `\\t12345.name\\t(Detached)`); an unknown time format gives `started_at=None`.
    """
    entries: list[ScreenEntry] = []
    for line in output.splitlines():
        match = _ENTRY_RE.fullmatch(line)
        if match is None:
            continue
        fields = _FIELD_RE.findall(match["fields"])
        started_at = None
        for text in fields[:-1]:
            started_at = started_at or _parse_screen_time(text)
        entries.append(
            ScreenEntry(
                pid=int(match["pid"]),
                name=match["name"],
                started_at=started_at,
                status=fields[-1],
            )
        )
    return entries


def _runner_state_dir(screen_pid: int) -> Path | None:
    """The folder of the `--status-file` the runner in this screen was given, or None
    when the screen runs no runner (or it cannot be read)."""
    try:
        children = Path(f"/proc/{screen_pid}/task/{screen_pid}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--status-file" in argv[:-1]:
            status_file = argv[argv.index(b"--status-file") + 1]
            return Path(os.fsdecode(status_file)).resolve().parent
    return None


def _tail_lines(path: Path, count: int) -> list[str]:
    """Last `count` complete lines of `path`, reading backwards from its end, at most
    `TAIL_MAX_BYTES` of it. A line still being written is left for a follow to read whole
    (`read_since`), as it does."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        position = end = handle.seek(0, os.SEEK_END)
        blocks: list[bytes] = []
        newlines = 0
        # One more newline than lines wanted, so the first line kept is whole.
        while position > 0 and newlines <= count and end - position < TAIL_MAX_BYTES:
            step = min(_TAIL_BLOCK_BYTES, position)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            blocks.append(block)
            newlines += block.count(b"\n")
    data = b"".join(reversed(blocks))
    lines = log_lines(data[: data.rfind(b"\n") + 1])
    if position > 0:
        lines = lines[1:]  # Started mid-line.
    return lines[-count:] if count else []


class ScreenBackend:
    """Sessions in GNU screen on this host.

    `screen_dir` sets SCREENDIR for every screen command, isolating these
    sessions from the user's other screens (tests, benchmarks, several
    control planes on one host); by default the SCREENDIR this process has,
    else screen's own. Keep it short: screen's sockets live there and a Unix
    socket path is limited to 107 bytes.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        screen_bin: str = "screen",
        screen_dir: Path | None = None,
        python: str = sys.executable,
        start_timeout: float = 5.0,
        command_timeout: float = 10.0,
        program_env: Iterable[str] = (),
        log_max_bytes: int | None = None,
        run_as: str | None = None,
        run_as_uids: tuple[int, int] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        # The user programs run as (the runner switches to it), None: the runner's own;
        # with a range of uids, each program one of its own in that user's group.
        self.run_as = run_as
        self.run_as_uids = run_as_uids
        # Past this size a session's log is rotated (None: the runner's own bound).
        self.log_max_bytes = log_max_bytes
        # Names passed on to programs from this host's environment beyond the allowlist.
        self.program_env = tuple(program_env)
        self.screen_bin = screen_bin
        # Else the SCREENDIR this process was started with, if any: the programs' screens
        # are started with an environment of their own, and must be where the listings,
        # stops and wipes, run with this process's, look.
        inherited = os.environ.get("SCREENDIR")
        if screen_dir is None and inherited:
            screen_dir = Path(inherited)
        self.screen_dir = Path(screen_dir) if screen_dir is not None else None
        self.python = python
        self.start_timeout = start_timeout
        self.command_timeout = command_timeout
        self._screen_path: str | None = None
        # The directory the last whole listing looked in, as screen said (None before it).
        self.listed_in: str | None = None
        # Each live screen's runner's state dir, by screen pid (it never changes).
        self._owners: dict[int, Path] = {}
        self._state_dir_resolved = self.state_dir.resolve()

    # -- paths -----------------------------------------------------------

    def log_path(self, name: str) -> Path:
        parse_session_name(name)
        return self.state_dir / f"{name}.log"

    def status_path(self, name: str) -> Path:
        parse_session_name(name)
        return self.state_dir / f"{name}.status.json"

    # -- queries ---------------------------------------------------------

    def list(self) -> list[ScreenEntry]:
        """Every screen in the screen directory, ours or not, dead ones included."""
        return self._ls()

    def _ls(self, *match: str, foreign: bool = False) -> builtins.list[ScreenEntry]:
        """The screens listed, but those another control plane runs (`foreign`: only
        those): another smsfleet's sessions in the same screen directory are not this
        one's to adopt, stop or count."""
        # `screen -ls NAME` lists the names starting with NAME, and costs a fraction of a
        # full listing when hundreds of sessions run: callers keep the exact matches.
        result = self._screen("-ls", *match)
        output = result.stdout + result.stderr
        # Exit status is 1 with no sessions and varies with sessions: judge the text.
        if not any(header in output for header in _LS_HEADERS):
            raise ScreenError(f"unexpected `screen -ls` output: {output.strip()[:500]!r}")
        entries = parse_screen_ls(result.stdout)
        if not match:  # a whole listing: forget the screens gone (their pids may come back)
            self.listed_in = screen_ls_directory(output)
            listed = {entry.pid for entry in entries}
            self._owners = {pid: dir_ for pid, dir_ in self._owners.items() if pid in listed}
        return [entry for entry in entries if self._foreign(entry) == foreign]

    def _foreign(self, entry: ScreenEntry) -> bool:
        """Whether the screen's runner keeps its status outside this backend's state dir:
        a session of another control plane (a screen started by hand runs no runner)."""
        if not entry.alive:
            return False
        owner = self._owners.get(entry.pid)
        if owner is None:
            owner = _runner_state_dir(entry.pid)
            if owner is None:
                return False  # started by hand, or its runner not started yet
            self._owners[entry.pid] = owner
        return owner != self._state_dir_resolved

    def find(self, name: str) -> ScreenEntry | None:
        """The live screen with exactly this name, if any."""
        parse_session_name(name)
        return next(iter(self._live_entries(name)), None)

    def status(self, name: str) -> RunStatus | None:
        """The runner's status file, or None if this session never ran here."""
        path = self.status_path(name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return RunStatus.from_json(data)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            raise ScreenError(f"unreadable status file {path}: {error}") from error

    # `builtins.list` from here on: inside this class `list` is the method above.
    def tail(self, name: str, lines: int = 100) -> builtins.list[str]:
        """The last `lines` lines of the session's log (at most MAX_TAIL_LINES)."""
        if not 0 <= lines <= MAX_TAIL_LINES:
            raise ValueError(f"lines must be between 0 and {MAX_TAIL_LINES}")
        return _tail_lines(self.log_path(name), lines)

    def usage(self, names: Iterable[str]) -> dict[str, tuple[float, int]]:
        """CPU seconds so far and resident bytes of each named session's running program."""
        found: dict[str, tuple[float, int]] = {}
        for name in names:
            run = self.status(name)
            if run is not None and run.program_pid is not None and self._program_alive(run):
                reading = process_usage(run.program_pid)
                if reading is not None:
                    found[name] = reading
        return found

    def log_since(self, name: str, offset: int | None) -> tuple[int, builtins.list[str]]:
        """Complete log lines written after `offset` and the offset to read from next.

        `None` starts at the log's end as it is now; a log started anew is read
        from its top.
        """
        return read_since(self.log_path(name), offset)

    # -- actions ---------------------------------------------------------

    def start(self, spec: LaunchSpec) -> ScreenEntry:
        """Start `spec` in a detached screen, or return the live screen of that name.

        Returns once the program has been spawned. If it already exited by
        then (and its screen closed), the entry has status `Exited` and
        `status()` holds its exit code.
        """
        name = spec.name
        parse_session_name(name)
        self._prepare_dirs()
        with self._name_lock(name):
            if self._ls(name, foreign=True):
                raise ScreenError(
                    f"{name} runs under another smsfleet control plane in this screen"
                    " directory: give each control plane its own SMSFLEET_SCREEN_DIR"
                )
            named = self._named(name)
            existing = [entry for entry in named if entry.alive]
            if existing:
                return existing[0]  # Adopt: never a second screen of one name.
            if named:
                self._screen("-wipe")  # A dead socket of that name.
            status_path = self.status_path(name)
            status_path.unlink(missing_ok=True)  # A previous run's exit is not this run's.
            command = [
                "-dmS",
                name,
                self.python,
                # By path, isolated and without site: the runner needs only the standard
                # library, and this halves its start-up when hundreds start at once.
                "-I",
                "-S",
                RUNNER_PATH,
                "--status-file",
                str(status_path),
                "--log-file",
                str(self.log_path(name)),
            ]
            if spec.cwd is not None:
                command += ["--cwd", str(spec.cwd)]
            if self.log_max_bytes is not None:
                command += ["--log-max-bytes", str(self.log_max_bytes)]
            if self.run_as is not None:
                command += ["--run-as", self.run_as]
                if self.run_as_uids is not None:
                    first, last = self.run_as_uids
                    locks = str(self.state_dir / "uids")
                    command += ["--run-as-uids", f"{first}-{last}", "--uid-locks", locks]
            command += ["--", *spec.argv]
            self._screen(*command, env=self._program_env(spec.env), check=True)
            return self._await_start(name)

    def stop(self, name: str, grace_seconds: float = 5.0) -> RunStatus | None:
        """Stop a session: SIGTERM, SIGKILL after `grace_seconds`, then quit its screen.

        Signals go to the program's process group, so its own children stop
        too. A screen without a status file (started by hand) is quit directly,
        which hangs up its window. Returns the final status, if any.
        """
        parse_session_name(name)
        if grace_seconds < 0:
            raise ValueError("grace_seconds must not be negative")
        self._prepare_dirs()
        with self._name_lock(name):
            run = self.status(name)
            if run is not None and run.program_pid is not None and self._program_alive(run):
                program_pid = run.program_pid
                _signal_group(program_pid, signal.SIGTERM)
                run = self._await_end(name, grace_seconds)
                if run is not None and self._program_alive(run):
                    _signal_group(program_pid, signal.SIGKILL)
                    run = self._await_end(name, _KILL_WAIT_SECONDS)
                # The runner exits with the program and screen closes with it.
                self._poll(lambda: not self._live_entries(name), _SCREEN_EXIT_WAIT_SECONDS)
            for entry in self._live_entries(name):
                self._screen("-S", entry.socket_name, "-X", "quit")
            if not self._poll(lambda: not self._live_entries(name), _SCREEN_EXIT_WAIT_SECONDS):
                raise ScreenError(f"screen session {name} is still running after quit")
            return self.status(name)

    # -- internals -------------------------------------------------------

    def _named(self, name: str) -> builtins.list[ScreenEntry]:
        return [entry for entry in self._ls(name) if entry.name == name]

    def _live_entries(self, name: str) -> builtins.list[ScreenEntry]:
        return [entry for entry in self._named(name) if entry.alive]

    def _await_start(self, name: str) -> ScreenEntry:
        def started() -> ScreenEntry | None:
            run = self.status(name)
            if run is None:
                return None
            live = self._live_entries(name)
            if not run.running:  # Its screen is gone or about to close.
                pid = live[0].pid if live else run.screen_pid or 0
                return ScreenEntry(pid, name, run.started_at, EXITED)
            return live[0] if live else None

        entry = self._poll(started, self.start_timeout)
        if entry is None:
            run = self.status(name)
            if run is not None and run.program_pid is not None and self._program_alive(run):
                # Its runner reported a program whose screen the listings do not show: left
                # running, it would never be stopped, and the next start would add another.
                _signal_group(run.program_pid, signal.SIGKILL)
                raise SessionStartError(
                    f"screen session {name} started its program (pid {run.program_pid}),"
                    " but screen does not list it: the program was killed; check that"
                    " nothing changes SCREENDIR between this control plane and screen"
                )
            raise SessionStartError(
                f"screen session {name} did not report a start within {self.start_timeout:g} s;"
                f" check that `{self.python} {RUNNER_PATH}` runs on this host"
            )
        return entry

    def _await_end(self, name: str, timeout: float) -> RunStatus | None:
        self._poll(lambda: (run := self.status(name)) is None or not run.running, timeout)
        return self.status(name)

    @staticmethod
    def _poll(check: Callable[[], _T | None], timeout: float) -> _T | None:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result or time.monotonic() >= deadline:
                return result
            time.sleep(_POLL_SECONDS)

    @staticmethod
    def _program_alive(run: RunStatus) -> bool:
        """Is the program of `run` still this very process (not a reused pid)?"""
        if not run.running or run.program_pid is None:
            return False
        if run.program_start_ticks is not None:
            return process_start_ticks(run.program_pid) == run.program_start_ticks
        try:  # No /proc where the runner ran: the pid existing is all we can check.
            os.kill(run.program_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _prepare_dirs(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_screen_dir()

    def _prepare_screen_dir(self) -> None:
        if self.screen_dir is not None:
            # Screen refuses a SCREENDIR that others can read.
            self.screen_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.screen_dir.chmod(0o700)

    @contextmanager
    def _name_lock(self, name: str) -> Iterator[None]:
        """Serialise start/stop of one name across threads and processes."""
        lock_dir = self.state_dir / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        # Each call opens its own file description, so flock also excludes
        # other threads of this process.
        with (lock_dir / f"{name}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.screen_dir is not None:
            env["SCREENDIR"] = str(self.screen_dir)
        return env

    def _program_env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """Screen's environment, which its window and so the program inherit: the
        allowlist of `core.program_env` from this host's, and the session's own."""
        env = program_environment(os.environ, extra, self.program_env)
        if self.screen_dir is not None:
            env["SCREENDIR"] = str(self.screen_dir)
        return env

    def _resolve_screen(self) -> str:
        if self._screen_path is None:
            found = shutil.which(self.screen_bin)
            if found is None:
                raise ScreenNotFound(
                    f"GNU screen ({self.screen_bin!r}) is not installed or not on PATH;"
                    " install it, e.g. `apt-get install screen`"
                )
            self._screen_path = found
        return self._screen_path

    def _screen(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        self._prepare_screen_dir()
        command = [self._resolve_screen(), *args]
        try:
            result = subprocess.run(
                command,
                env=dict(env) if env is not None else self._base_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.command_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ScreenError(f"`screen {' '.join(args[:3])}` timed out") from error
        if check and result.returncode != 0:
            output = (result.stderr or result.stdout).strip()
            raise ScreenError(
                f"`screen {' '.join(args[:3])}` failed ({result.returncode}): {output[:500]}"
            )
        return result


def _signal_group(pid: int, signum: int) -> None:
    """Signal the program's process group (the runner starts it as group leader)."""
    with suppress(ProcessLookupError):
        os.killpg(pid, signum)
