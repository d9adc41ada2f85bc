"""A host's screen backend, one request at a time: what the control plane runs over SSH.

    ssh HOST -- python3 -m smsfleet.sessions.agent   < request.json

The request is one JSON object on stdin: `op` (list, start, stop, status, tail,
log_since, check), the host's `state_dir` and `screen_dir`, the names of `program_env`
(what programs get from the host's environment beyond the allowlist), and the
operation's arguments; a start's `rules` are the host's program directories, working
directory and Python, and its command is checked against them here, on the host's
own disk (`programs.rules.check_command`), before anything starts; a check asks only
that, of a program being defined. The answer is
one JSON object on stdout: the result, or `{"error": {"kind": …, "message": …}}`
(a refused command's `details` name the argument). A launch's environment (the
worker token among it) travels in the request, never on a command line.

Standard library, the screen backend and the program rules only: it starts once per
request.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smsfleet.core.errors import ValidationFailed
from smsfleet.programs.rules import ProgramRules, check_command
from smsfleet.sessions.backend import LaunchSpec
from smsfleet.sessions.screen import (
    ScreenBackend,
    ScreenError,
    ScreenNotFound,
    SessionStartError,
)

__all__ = ["ERROR_KINDS", "main"]

# Errors that cross the wire, by the name the caller raises again; most specific first.
ERROR_KINDS: dict[str, type[Exception]] = {
    "screen_not_found": ScreenNotFound,
    "start": SessionStartError,
    "refused": ValidationFailed,  # a command this host's program rules refuse
    "screen": ScreenError,
    "value": ValueError,
}


def _backend(request: dict[str, Any]) -> ScreenBackend:
    screen_dir = request.get("screen_dir")
    return ScreenBackend(
        Path(request["state_dir"]).expanduser(),
        screen_dir=Path(screen_dir).expanduser() if screen_dir else None,
        python=sys.executable,
        program_env=[str(name) for name in request.get("program_env") or ()],
    )


def _start(backend: ScreenBackend, request: dict[str, Any]) -> dict[str, Any]:
    spec = request["spec"]
    # The host's disk is the truth: a path may lead elsewhere here than on the control
    # plane's. No rules, no start.
    check_command(spec["argv"], ProgramRules.from_json(request["rules"]))
    cwd = spec.get("cwd")
    launch = LaunchSpec(
        name=spec["name"],
        argv=tuple(spec["argv"]),
        env=dict(spec.get("env") or {}),
        cwd=Path(cwd).expanduser() if cwd else None,
    )
    if launch.cwd is not None:
        launch.cwd.mkdir(parents=True, exist_ok=True)
    return {"entry": backend.start(launch).to_json()}


def _check(_: ScreenBackend, request: dict[str, Any]) -> dict[str, Any]:
    check_command(request["argv"], ProgramRules.from_json(request["rules"]))
    return {}


def _stop(backend: ScreenBackend, request: dict[str, Any]) -> dict[str, Any]:
    run = backend.stop(request["name"], float(request["grace_seconds"]))
    return {"status": run.to_json() if run else None}


def _status(backend: ScreenBackend, request: dict[str, Any]) -> dict[str, Any]:
    run = backend.status(request["name"])
    return {"status": run.to_json() if run else None}


def _log_since(backend: ScreenBackend, request: dict[str, Any]) -> dict[str, Any]:
    offset, lines = backend.log_since(request["name"], request.get("offset"))
    return {"offset": offset, "lines": lines}


def _list(backend: ScreenBackend, _: dict[str, Any]) -> dict[str, Any]:
    entries = backend.list()
    # What each live program has used so far: the caller turns two readings into a rate.
    usage = backend.usage(entry.name for entry in entries if entry.alive)
    return {"entries": [entry.to_json() for entry in entries], "usage": usage}


OPERATIONS: dict[str, Callable[[ScreenBackend, dict[str, Any]], dict[str, Any]]] = {
    "list": _list,
    "start": _start,
    "stop": _stop,
    "status": _status,
    "tail": lambda backend, request: {"lines": backend.tail(request["name"], request["lines"])},
    "log_since": _log_since,
    "check": _check,
}


def handle(request: Any) -> dict[str, Any]:
    try:
        if not isinstance(request, dict) or request.get("op") not in OPERATIONS:
            raise ValueError(f"unknown request; ops: {', '.join(OPERATIONS)}")
        return OPERATIONS[request["op"]](_backend(request), request)
    except (KeyError, TypeError) as error:
        return {"error": {"kind": "value", "message": f"malformed request: {error!r}"}}
    except OSError as error:  # the host's files: permissions, a full disk
        return {"error": {"kind": "screen", "message": str(error)}}
    except Exception as error:
        for kind, error_type in ERROR_KINDS.items():
            if isinstance(error, error_type):
                found = {"kind": kind, "message": str(error)}
                if isinstance(error, ValidationFailed):  # which argument, and why
                    found["details"] = error.details
                return {"error": found}
        raise


def main() -> int:
    # What it and the sessions it starts write there (logs, status, the programs' spools and
    # in-flight journals, with test numbers and messages) is private, as on this host.
    os.umask(0o077)
    try:
        request = json.load(sys.stdin)
    except ValueError as error:
        request = {"op": None, "reason": str(error)}
    json.dump(handle(request), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
