"""Process wrapper that runs inside a screen window.

    python -m smsfleet.sessions.runner --status-file F --log-file L [--cwd D] -- argv...

It starts the program (an argv list, never a shell) in a process group of its
own, copies the program's stdout and stderr line by line to the log file with
a UTC timestamp prefix (flushed at once, so a live tail never lags), echoes
them to the screen window without terminal escape sequences and control characters
(`log_lines`: what one attached with `screen -r` reads, as the log's readers do), and
keeps an atomic JSON status file:

    runner_pid, screen_pid, program_pid, program_start_ticks, argv, cwd, started_at,
    ended_at, exit_code, signal, error

As the program ends, the runner tells the control plane that started the session
(`SMSFLEET_URL`, with the session's worker token), so it does not wait for its next
tick to see it.

SIGTERM, SIGINT and SIGHUP sent to the runner are forwarded to the program's
process group; the runner exits once the program has exited, with its exit
code (128 + N when the program died of signal N, 127 when it could not start).

Standard library only, and only its cheap modules (no argparse, no pathlib): it
starts once per session, hundreds at a time, and must start fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import Any, BinaryIO

__all__ = ["log_lines", "main", "process_start_ticks", "process_usage", "write_status"]

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Splits pathologically long lines instead of buffering them without bound.
MAX_LINE_BYTES = 64 * 1024
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4  # prctl(2)
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
# A session's log is rotated past this size, keeping this many older files (.1 newest).
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3
# After the program exits, a child it left behind may still hold the pipe open.
DRAIN_SECONDS = 2.0
EXIT_CANNOT_START = 127
RUNNER_TAG = b"[smsfleet-runner] "
# Telling the control plane that the program ended must never hold the screen open long.
REPORT_END_TIMEOUT_SECONDS = 2.0

# Terminal escape sequences (CSI, OSC, the rest of ESC's) and control characters but the
# tab: a program prints what providers and gateways tell it, and neither its screen window
# nor its log read at a terminal may retitle that terminal, write its clipboard or fake a
# link. Here, in the runner, for the window; the log's readers (`logtail`) use it too.
_TERMINAL_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC: titles, links, the clipboard
    r"|\x1b[@-_]?"  # any other escape
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 and C1 controls but tab and newline
)


def log_lines(data: bytes) -> list[str]:
    """Output's bytes as the lines a person may read anywhere: UTF-8 (a bad byte is
    replaced), with terminal escape sequences and control characters taken out."""
    return [
        _TERMINAL_CONTROL.sub("", line) for line in data.decode("utf-8", "replace").splitlines()
    ]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _proc_stat(pid: int) -> list[bytes]:
    """Fields 3… of /proc/<pid>/stat (Linux); empty when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return []
    # The command name (field 2) may hold spaces and parentheses: split after it.
    return stat[stat.rfind(b")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    """Start time of `pid` in clock ticks after boot (Linux), or None if unknown.

    A pid can be reused; (pid, start ticks) cannot, so the status file records
    both and a later signal goes to the program only if they still agree.
    """
    try:
        return int(_proc_stat(pid)[19])  # Field 22 of proc(5); fields here start at field 3.
    except (IndexError, ValueError):
        return None


def process_usage(pid: int) -> tuple[float, int] | None:
    """CPU seconds used so far (user + system) and resident bytes of `pid`, or None."""
    fields = _proc_stat(pid)
    try:
        ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
        pages = int(fields[21])  # rss: field 24
    except (IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK"), pages * os.sysconf("SC_PAGE_SIZE")


def write_status(path: str | os.PathLike[str], status: dict[str, Any]) -> None:
    """Replace `path` atomically so that readers never see a half-written file."""
    folder, name = os.path.split(os.fspath(path))
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(status, sort_keys=True))
    os.replace(temporary, path)


class _LogWriter:
    """Writes timestamped lines to the log file and echoes them to the window.

    Past `max_bytes` the file is rotated (`.1` … `.{backups}`), so a chatty program
    cannot fill the disk; the control plane reads a log started anew from its top.
    """

    def __init__(
        self, log_path: str, *, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS
    ) -> None:
        self._path = log_path
        self._max_bytes = max_bytes
        self._backups = backups
        self._log = open(log_path, "ab", buffering=0)  # noqa: SIM115 (closed in close())
        self._size = self._log.tell()
        self._lock = threading.Lock()
        self._closed = False

    def write_line(self, line: bytes) -> None:
        if not line.endswith(b"\n"):
            line += b"\n"
        stamped = _iso(_now()).encode() + b" " + line
        with self._lock:
            if self._closed:
                return  # Output of a leftover child after the program exited.
            if self._size and self._size + len(stamped) > self._max_bytes:
                self._rotate()
            self._log.write(stamped)  # as the program wrote it: its readers clean it
            self._size += len(stamped)
            try:
                sys.stdout.buffer.write("".join(f"{text}\n" for text in log_lines(line)).encode())
                sys.stdout.buffer.flush()
            except OSError:
                pass  # The window is gone (screen quit); the log file is what matters.

    def _rotate(self) -> None:
        self._log.close()
        for index in range(self._backups, 0, -1):
            older = f"{self._path}.{index - 1}" if index > 1 else self._path
            if os.path.exists(older):
                os.replace(older, f"{self._path}.{index}")
        self._log = open(self._path, "ab", buffering=0)  # noqa: SIM115 (closed in close())
        self._size = 0

    def note(self, message: str) -> None:
        self.write_line(RUNNER_TAG + message.encode("utf-8", "replace"))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._log.close()


def _copy_output(stream: BinaryIO, log: _LogWriter) -> None:
    while line := stream.readline(MAX_LINE_BYTES):
        log.write_line(line)


USAGE = (
    "usage: python -m smsfleet.sessions.runner --status-file F --log-file L [--cwd D] -- argv..."
)
_OPTIONS = {
    "--status-file",
    "--log-file",
    "--cwd",
    "--log-max-bytes",
    "--run-as",
    "--run-as-uids",
    "--uid-locks",
}


def _usage_error(message: str) -> SystemExit:
    print(f"{USAGE}\nerror: {message}", file=sys.stderr)
    return SystemExit(2)


def _parse_args(args: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    args = list(args)
    if "--" not in args:
        raise _usage_error("no program to run: put its argv after --")
    split = args.index("--")
    options, command = args[:split], args[split + 1 :]
    if len(options) % 2:
        raise _usage_error(f"each option takes one value: {options!r}")
    parsed = dict(zip(options[::2], options[1::2], strict=True))
    unknown = set(parsed) - _OPTIONS
    if unknown:
        raise _usage_error(f"unknown option {sorted(unknown)[0]}")
    for required in ("--status-file", "--log-file"):
        if required not in parsed:
            raise _usage_error(f"{required} is required")
    if not command:
        raise _usage_error("no program to run after --")
    return parsed, command


def _as_user(name: str, environment: dict[str, str], uid: int | None = None) -> dict[str, Any]:
    """Popen's arguments to run as `name`, or as `uid` in `name`'s group; its spool its
    own, and its home: `name`'s, or with a uid of its own, its spool."""
    user = pwd.getpwnam(name)
    spool = environment.get("SMSFLEET_SPOOL_DIR")
    home = spool if uid is not None and spool else user.pw_dir
    uid = user.pw_uid if uid is None else uid
    environment.update(HOME=home, USER=user.pw_name, LOGNAME=user.pw_name)
    if spool:
        os.makedirs(spool, mode=0o700, exist_ok=True)
        os.chown(spool, uid, user.pw_gid)
        for entry in os.scandir(spool):  # a run before it, as another user
            os.chown(entry.path, uid, user.pw_gid, follow_symlinks=False)
    return {"user": uid, "group": user.pw_gid, "extra_groups": []}


def _claim_uid(uids: str, locks: str, group: str) -> int:
    """A uid of the range `first-last` that no other session's program runs as: the
    first whose lock file in `locks` this runner can lock. The lock is held as long as
    the runner lives (the kernel lets it go even on kill -9), so two programs never share
    a uid, nor read each other's environment and spool. What a program left behind as
    that uid (its runner killed before it) is ended first."""
    import fcntl  # only here: a runner without a range of uids never needs it

    first, _, last = uids.partition("-")
    os.makedirs(locks, mode=0o700, exist_ok=True)
    for uid in range(int(first), int(last) + 1):
        lock = os.open(os.path.join(locks, str(uid)), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            continue
        _end_processes_of(uid, pwd.getpwnam(group).pw_gid)
        return uid  # its lock stays open (not inherited: Python's descriptors are not)
    raise ValueError(f"every uid of {uids} runs a session: widen SMSFLEET_RUN_AS_UIDS")


def _end_processes_of(uid: int, gid: int) -> None:
    """SIGKILL every process of `uid`, from a child that becomes it (kill(-1) reaches
    exactly the processes a user may signal: its own)."""
    child = os.fork()
    if child == 0:
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            with contextlib.suppress(ProcessLookupError):  # none left: the usual case
                os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def _program_setup(*, switched_user: bool) -> Callable[[], None]:
    """What the program's process does before its exec, in the child.

    It dies with this runner: a runner killed (`kill -9`) would otherwise leave its
    program running beside the one the supervisor starts in its place, two of one
    session. Set after any switch of user, which clears it; a runner gone before it was
    set is seen as a new parent.

    Run as another user, it drops what a control plane allowed to switch users by
    capabilities (not root) passes on as ambient ones, so the program does not keep them
    across its exec. Nor may it, or anything it runs, gain privileges by an exec: a
    set-uid file a program left in /tmp while its uid was another session's would
    otherwise be that uid again (and read that session's environment, its worker token).
    Set-uid bits and file capabilities are then ignored for good.

    Prepared here: in the child, after the switch, the new user may not read Python's
    own files to import anything.
    """
    import ctypes  # only here: the runner starts on the standard library's bare minimum

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    runner = os.getpid()

    def setup() -> None:
        if switched_user:
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
            if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "could not forbid new privileges")
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "could not tie the program to its runner")
        if os.getppid() != runner:  # the runner died before the tie was made
            os._exit(EXIT_CANNOT_START)

    return setup


def run(
    status_path: str,
    log_path: str,
    command: list[str],
    cwd: str | None,
    *,
    log_max_bytes: int = LOG_MAX_BYTES,
    run_as: str | None = None,
    run_as_uids: str | None = None,
    uid_locks: str | None = None,
) -> int:
    """Run `command` to completion under supervision; return the runner's exit code.

    With `run_as`, the program runs as that user (the runner must be allowed to switch:
    root, or CAP_SETUID and CAP_SETGID), with that user's home and its own spool folder;
    the runner, its log and its status stay the control plane's. With `run_as_uids`
    (`first-last`) too, it runs as a uid of that range of its own (`_claim_uid`, locks in
    `uid_locks`), in `run_as`'s group, its spool its home.
    """
    log = _LogWriter(log_path, max_bytes=log_max_bytes)
    status: dict[str, Any] = {
        "runner_pid": os.getpid(),
        "screen_pid": os.getppid(),
        "program_pid": None,
        "program_start_ticks": None,
        "argv": command,
        "cwd": cwd,
        "started_at": _iso(_now()),
        "ended_at": None,
        "exit_code": None,
        "signal": None,
        "error": None,
    }
    program: subprocess.Popen[bytes] | None = None
    pending: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if program is None:
            pending.append(signum)  # Arrived before the program existed.
            return
        if program.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(program.pid, signum)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)

    # Each line gets its timestamp here: the worker SDK then writes none of its own.
    environment = dict(os.environ, PYTHONUNBUFFERED="1", SMSFLEET_LOG_STAMPED="1")
    account: dict[str, Any] = {}
    try:
        if run_as is not None:
            uid = None
            if run_as_uids is not None and uid_locks is not None:
                uid = _claim_uid(run_as_uids, uid_locks, run_as)
            account = _as_user(run_as, environment, uid)
        # A process group of its own: signals reach the program's children too,
        # and the terminal's own signals reach the program only through us.
        program = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=environment,
            start_new_session=True,
            preexec_fn=_program_setup(switched_user=run_as is not None),
            **account,
        )
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as error:
        status.update(error=str(error), exit_code=EXIT_CANNOT_START, ended_at=_iso(_now()))
        log.note(f"cannot start {command!r}: {error}")
        write_status(status_path, status)
        log.close()
        _report_end(os.environ, None)
        return EXIT_CANNOT_START

    status["program_pid"] = program.pid
    status["program_start_ticks"] = process_start_ticks(program.pid)
    write_status(status_path, status)
    log.note(f"started pid {program.pid}: {command!r}")
    for early_signal in pending:
        forward(early_signal, None)

    assert program.stdout is not None
    copier = threading.Thread(target=_copy_output, args=(program.stdout, log), daemon=True)
    copier.start()
    returncode = program.wait()
    copier.join(DRAIN_SECONDS)

    if returncode < 0:
        status["signal"] = -returncode
        runner_exit = 128 - returncode
        log.note(f"pid {program.pid} killed by signal {-returncode}")
    else:
        status["exit_code"] = returncode
        runner_exit = returncode
        log.note(f"pid {program.pid} exited with code {returncode}")
    status["ended_at"] = _iso(_now())
    write_status(status_path, status)
    log.close()
    _report_end(os.environ, program.pid)
    return runner_exit


def _report_end(environ: Mapping[str, str], pid: int | None) -> None:
    """Tell the control plane that started the session that its program (`pid`, None
    when it could not start) ended (the status file just said so), so it reconciles now
    rather than at its next tick.

    Best effort: a control plane that does not answer finds out at its next tick.
    """
    url, session, token = (
        environ.get(name) for name in ("SMSFLEET_URL", "SMSFLEET_SESSION", "SMSFLEET_WORKER_TOKEN")
    )
    if not (url and session and token):
        return
    # Imported here, once, at the end: the runner starts without them.
    import http.client
    import urllib.parse

    target = urllib.parse.urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    )
    try:
        connection = connection_class(
            target.hostname or "", target.port, timeout=REPORT_END_TIMEOUT_SECONDS
        )
        try:
            connection.request(
                "POST",
                target.path.rstrip("/") + "/api/v1/worker/ended",
                body=json.dumps({"session": session, **({"pid": pid} if pid else {})}),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            connection.getresponse().read()
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError):
        pass


def main(args: Sequence[str] | None = None) -> int:
    options, command = _parse_args(sys.argv[1:] if args is None else args)
    try:
        log_max_bytes = int(options.get("--log-max-bytes", LOG_MAX_BYTES))
    except ValueError:
        raise _usage_error("--log-max-bytes takes a number of bytes") from None
    return run(
        options["--status-file"],
        options["--log-file"],
        command,
        options.get("--cwd"),
        log_max_bytes=max(log_max_bytes, 4096),
        run_as=options.get("--run-as"),
        run_as_uids=options.get("--run-as-uids"),
        uid_locks=options.get("--uid-locks"),
    )


if __name__ == "__main__":
    sys.exit(main())
