"""The environment a program gets: an allowlist, never "the control plane's minus a list".

A program learns what it needs from the `SMSFLEET_*` variables the session backend
sets for its session (control plane URL, worker token, session, pair...); from the
environment of the process that starts it, it gets only the names below and those an
admin lists in `SMSFLEET_PROGRAM_ENV`. The control plane's settings, where its secrets
are, are never passed, even when listed.

Standard library only: the session agent imports it on every host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "BASE_NAMES",
    "BASE_PREFIXES",
    "SETTINGS_PREFIX",
    "WORKER_NAMES",
    "is_withheld",
    "program_environment",
]

# What any program on a Unix host may expect, and nothing that names a secret.
BASE_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "TMPDIR",
        "PYTHONPATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }
)
BASE_PREFIXES = ("LC_",)

# What the worker SDK (`smsfleet.worker`) reads. The session backend sets the first
# ones for each session; the others pass through from the host when set there.
WORKER_NAMES = frozenset(
    {
        "SMSFLEET_URL",
        "SMSFLEET_SESSION",
        "SMSFLEET_WORKER_TOKEN",
        "SMSFLEET_PAIR",
        "SMSFLEET_PROGRAM",
        "SMSFLEET_COUNTRY",
        "SMSFLEET_SIMULATOR_URL",
        "SMSFLEET_SPOOL_DIR",
        "SMSFLEET_STOP_GRACE",
        "SMSFLEET_PROXY",
        "SMSFLEET_HEARTBEAT_INTERVAL",
        "SMSFLEET_PROGRAM_SENTRY_DSN",
    }
)

# The control plane's settings, read whatever their case, a group's as one JSON variable
# too (SMSFLEET_TELEGRAM='{"bot_token": …}'): never a program's, whatever a list says,
# but for what the worker SDK reads. A prefix rather than a list, so a setting added
# later is withheld too.
SETTINGS_PREFIX = "SMSFLEET_"


def is_withheld(name: str) -> bool:
    """Is `name` a setting of the control plane (which may hold its secrets)?"""
    return name.upper().startswith(SETTINGS_PREFIX) and name not in WORKER_NAMES


def _allowed(name: str, extra: frozenset[str]) -> bool:
    if is_withheld(name):
        return False
    return (
        name in BASE_NAMES
        or name in WORKER_NAMES
        or name in extra
        or name.startswith(BASE_PREFIXES)
    )


def program_environment(
    source: Mapping[str, str], session: Mapping[str, str], extra_names: Iterable[str] = ()
) -> dict[str, str]:
    """The allowed part of `source` (the host's environment), then the session's own
    variables over it; a withheld name is dropped from both."""
    extra = frozenset(extra_names)
    env = {name: value for name, value in source.items() if _allowed(name, extra)}
    env.update((name, value) for name, value in session.items() if not is_withheld(name))
    return env
