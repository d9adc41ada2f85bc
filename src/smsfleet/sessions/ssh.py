"""Sessions on another host: its screen backend driven over OpenSSH.

Every call runs `ssh … HOST -- <python> -m smsfleet.sessions.agent` with one JSON
request on stdin (see `agent`), so the host runs the very argv the local backend
would. The ssh command is an argv list; the remote command line is built from
the host's configured paths with `shlex` quoting, and session names, program
argv and environment travel only inside the JSON request.

Connections are shared (ControlMaster) so a supervisor tick costs one round
trip per host, not a TCP and key exchange. Host keys are checked strictly and
ssh never prompts.
"""

from __future__ import annotations

import builtins
import json
import os
import shlex
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from cachetools import TTLCache

from smsfleet.core.errors import DomainError
from smsfleet.core.settings import SshHost
from smsfleet.sessions.agent import ERROR_KINDS
from smsfleet.sessions.backend import LaunchSpec, RunStatus, ScreenEntry
from smsfleet.sessions.screen import ScreenError

__all__ = ["HostError", "HostUnreachable", "SshBackend", "default_control_dir", "for_operators"]

AGENT_MODULE = "smsfleet.sessions.agent"
SSH_FAILED = 255  # ssh's own exit status: the connection, not the command, failed
# Beyond the connection: what the host's backend may take for a call (it polls screen).
_CALL_SECONDS = 15.0
_START_SECONDS = 10.0
_STOP_EXTRA_SECONDS = 10.0
# Every socket following a log reads it 4 times a second, each read a round trip here: the
# readers at one place in one log (or of its same last lines) share a read this fresh, so
# a log costs the host the same however many follow it.
LOG_READ_FRESH_SECONDS = 0.5
_LOG_READS_KEPT = 4096
# ("since", log, offset) or ("tail", log, how many lines).
_LogReadKey = tuple[str, str, int | None]


class HostError(ScreenError):
    """A host's failure. Its message names the host only, since it reaches every signed-in
    user (a session's events, its log's 503); `detail` is what ssh or the host's agent
    printed, how the host is reached included, for operators (`GET /api/v1/hosts`)."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class HostUnreachable(HostError):
    """ssh could not reach the host or log in: nothing is known of its sessions."""


def for_operators(error: Exception) -> str:
    """An error as operators may read it: a host's detail included."""
    return (
        f"{error}: {error.detail}" if isinstance(error, HostError) and error.detail else str(error)
    )


def default_control_dir() -> Path:
    """Shared-connection sockets: short (a socket path holds 107 bytes) and private."""
    path = Path(tempfile.gettempdir()) / f"smsfleet-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    # Not followed: a link another user made there could later point at sockets of theirs.
    found = path.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        raise ScreenError(
            f"{path} is not a directory of this user's own (a link, or another user's);"
            " set TMPDIR to a private directory"
        )
    path.chmod(0o700)
    return path


class SshBackend:
    """A `SessionBackend` for the sessions of one remote host."""

    def __init__(
        self,
        name: str,
        host: SshHost,
        *,
        ssh_bin: str = "ssh",
        control_dir: Path | None = None,
        program_env: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.host = host
        self.program_env = list(program_env)
        self._ssh_bin = ssh_bin
        self._control_dir = control_dir
        # From the latest two listings: (CPU seconds so far, when read) and (CPU %, bytes).
        self._readings: dict[str, tuple[float, float]] = {}
        self.usage: dict[str, tuple[float, int]] = {}
        # What a read of a log answered, while fresh: (offset after, lines) for a read from
        # an offset, (0, lines) for its last lines.
        self._log_reads: TTLCache[_LogReadKey, tuple[int, tuple[str, ...]]]
        self._log_reads = TTLCache(_LOG_READS_KEPT, ttl=LOG_READ_FRESH_SECONDS, timer=clock)
        self._log_reads_lock = threading.Lock()  # readers are the thread pool's
        # The reads under way, each told to those waiting for it once it has answered.
        self._log_reads_under_way: dict[_LogReadKey, threading.Event] = {}

    @property
    def state_dir(self) -> str:
        return f"{self.host.data_dir.rstrip('/')}/sessions"

    def ssh_argv(self) -> list[str]:
        host = self.host
        control_dir = self._control_dir or default_control_dir()
        argv = [
            self._ssh_bin,
            "-p",
            str(host.port),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"ConnectTimeout={host.connect_timeout_seconds}",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=2",
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={control_dir}/%C",
            "-o",
            "ControlPersist=60",
        ]
        if host.identity_file is not None:
            argv += ["-o", "IdentitiesOnly=yes", "-i", str(host.identity_file)]
        if host.known_hosts_file is not None:
            argv += ["-o", f"UserKnownHostsFile={host.known_hosts_file}"]
        remote = shlex.join([host.python, "-m", AGENT_MODULE])
        return [*argv, "--", host.ssh, remote]

    # -- SessionBackend ----------------------------------------------------

    def list(self) -> builtins.list[ScreenEntry]:
        """The host's screens; also refreshes `usage`, CPU % between this listing and the last."""
        answer = self._call("list")
        self._take_usage(answer.get("usage") or {}, time.monotonic())
        return [ScreenEntry.from_json(entry) for entry in answer["entries"]]

    def _take_usage(self, found: dict[str, Any], now: float) -> None:
        readings: dict[str, tuple[float, float]] = {}
        usage: dict[str, tuple[float, int]] = {}
        for name, (cpu_seconds, rss) in found.items():
            readings[name] = (float(cpu_seconds), now)
            before = self._readings.get(name)
            percent = 0.0  # a first reading has nothing to compare with, as in psutil
            if before is not None and cpu_seconds >= before[0] and now > before[1]:
                percent = round((cpu_seconds - before[0]) / (now - before[1]) * 100, 1)
            usage[name] = (percent, int(rss))
        self._readings, self.usage = readings, usage

    def start(self, spec: LaunchSpec) -> ScreenEntry:
        launch = {
            "name": spec.name,
            "argv": list(spec.argv),
            "env": dict(spec.env),
            "cwd": str(spec.cwd) if spec.cwd is not None else None,
        }
        answer = self._call(
            "start", extra_seconds=_START_SECONDS, spec=launch, rules=self.program_rules()
        )
        return ScreenEntry.from_json(answer["entry"])

    def program_rules(self) -> dict[str, Any]:
        """What the host's agent checks a command against, on the host's own disk: its
        program directories, its programs' working directory, its Python."""
        host = self.host
        return {
            "dirs": host.program_dirs_there,
            "workdir": host.programs_dir or host.data_dir.rstrip("/"),
            "interpreters": [host.python],
            "where": f"program_dirs (or programs_dir) of host {self.name} in SMSFLEET_HOSTS",
        }

    def check_program(self, command: Sequence[str]) -> None:
        """Raise `ValidationFailed` unless this host's rules accept `command` on its own
        disk (a program being defined: each start checks again)."""
        self._call("check", argv=list(command), rules=self.program_rules())

    def stop(self, name: str, grace_seconds: float = 5.0) -> RunStatus | None:
        answer = self._call(
            "stop",
            extra_seconds=grace_seconds + _STOP_EXTRA_SECONDS,
            name=name,
            grace_seconds=grace_seconds,
        )
        return _run_status(answer["status"])

    def status(self, name: str) -> RunStatus | None:
        return _run_status(self._call("status", name=name)["status"])

    def tail(self, name: str, lines: int = 100) -> builtins.list[str]:
        def read() -> tuple[int, tuple[str, ...]]:
            answer = self._call("tail", name=name, lines=lines)
            return 0, tuple(str(line) for line in answer["lines"])

        return list(self._shared_read(("tail", name, lines), read)[1])

    def log_since(self, name: str, offset: int | None) -> tuple[int, builtins.list[str]]:
        def read() -> tuple[int, tuple[str, ...]]:
            answer = self._call("log_since", name=name, offset=offset)
            return int(answer["offset"]), tuple(str(line) for line in answer["lines"])

        after, lines = self._shared_read(("since", name, offset), read)
        return after, list(lines)

    def _shared_read(
        self, key: _LogReadKey, read: Callable[[], tuple[int, tuple[str, ...]]]
    ) -> tuple[int, tuple[str, ...]]:
        """What `read` answered for `key` while fresh, read once however many ask: those
        asking while it is read wait for its answer rather than read it too."""
        while True:
            with self._log_reads_lock:
                found = self._log_reads.get(key)
                if found is not None:
                    return found
                under_way = self._log_reads_under_way.get(key)
                if under_way is None:
                    mine = self._log_reads_under_way[key] = threading.Event()
            if under_way is not None:
                under_way.wait(self.host.connect_timeout_seconds + _CALL_SECONDS)
                continue  # its answer, or (it failed) a read of this caller's own
            try:
                found = read()
                with self._log_reads_lock:
                    self._log_reads[key] = found
                return found
            finally:
                with self._log_reads_lock:
                    del self._log_reads_under_way[key]
                mine.set()

    # -- the wire ----------------------------------------------------------

    def _call(self, op: str, *, extra_seconds: float = 0.0, **arguments: Any) -> dict[str, Any]:
        request = {
            "op": op,
            "state_dir": self.state_dir,
            "screen_dir": self.host.screen_dir,
            "program_env": self.program_env,
            **arguments,
        }
        timeout = self.host.connect_timeout_seconds + _CALL_SECONDS + extra_seconds
        try:
            result = subprocess.run(
                self.ssh_argv(),
                input=json.dumps(request),
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise HostUnreachable(f"host {self.name}: no answer within {timeout:g} s") from error
        except FileNotFoundError as error:
            raise HostUnreachable(
                f"the OpenSSH client ({self._ssh_bin!r}) is not installed"
            ) from error
        detail = result.stderr.strip()[-500:]
        if result.returncode == SSH_FAILED:
            raise HostUnreachable(
                f"host {self.name} does not answer", detail=f"{self.host.address}: {detail}"
            )
        if result.returncode != 0:
            raise HostError(
                f"host {self.name}: its agent failed ({result.returncode});"
                " is smsfleet installed there?",
                detail=f"`{self.host.python} -m {AGENT_MODULE}` on {self.host.address}: {detail}",
            )
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ScreenError(f"host {self.name}: unreadable answer {result.stdout[:200]!r}")
        if "error" in answer:
            said = answer["error"]
            error_type = ERROR_KINDS.get(said.get("kind"), ScreenError)
            message = f"host {self.name}: {said.get('message')}"
            if issubclass(error_type, DomainError):  # a refusal: which argument, and why
                raise error_type(message, details=said.get("details"))
            raise error_type(message)
        return answer


def _run_status(data: dict[str, Any] | None) -> RunStatus | None:
    return RunStatus.from_json(data) if data is not None else None
