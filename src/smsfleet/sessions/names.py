"""Session names: `{program}_{pair key}`, e.g. `program1_UZ_uzmobile`.

A session name reaches screen's command line and the file system (log and
status files), so it is checked against a strict ASCII pattern before any
process is spawned or any path is built.

The patterns are anchored strings so that they also work as JSON Schema /
pydantic `pattern`s. In Python they are always applied with `re.fullmatch`
and `re.ASCII`, so `$` never admits a trailing newline.
"""

from __future__ import annotations

import re

__all__ = [
    "PAIR_KEY_PATTERN",
    "PROGRAM_NAME_PATTERN",
    "SESSION_NAME_PATTERN",
    "SLUG_PATTERN",
    "InvalidSessionName",
    "parse_session_name",
    "session_name",
]

_PROGRAM = r"[a-z][a-z0-9-]{0,31}"
_COUNTRY = r"[A-Z]{2}"
_SLUG = r"[a-z0-9][a-z0-9-]{0,31}"

PROGRAM_NAME_PATTERN = rf"^{_PROGRAM}$"
SLUG_PATTERN = rf"^{_SLUG}$"
PAIR_KEY_PATTERN = rf"^{_COUNTRY}_{_SLUG}$"
SESSION_NAME_PATTERN = rf"^{_PROGRAM}_{_COUNTRY}_{_SLUG}$"

_PROGRAM_RE = re.compile(_PROGRAM, re.ASCII)
_PAIR_KEY_RE = re.compile(rf"{_COUNTRY}_{_SLUG}", re.ASCII)
_SESSION_RE = re.compile(rf"(?P<program>{_PROGRAM})_(?P<pair_key>{_COUNTRY}_{_SLUG})", re.ASCII)

# Longer than any valid name; keeps error messages short for hostile input.
_MAX_SHOWN = 80


class InvalidSessionName(ValueError):
    """A program name, pair key or session name does not match its pattern."""


def _shown(value: str) -> str:
    text = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
    return repr(text)


def session_name(program: str, pair_key: str) -> str:
    """Build the screen name for `program` run for `pair_key` (`IN_airtel`)."""
    if not isinstance(program, str) or _PROGRAM_RE.fullmatch(program) is None:
        raise InvalidSessionName(
            f"invalid program name {_shown(str(program))}: expected {PROGRAM_NAME_PATTERN}"
        )
    if not isinstance(pair_key, str) or _PAIR_KEY_RE.fullmatch(pair_key) is None:
        raise InvalidSessionName(
            f"invalid pair key {_shown(str(pair_key))}: expected {PAIR_KEY_PATTERN}"
        )
    return f"{program}_{pair_key}"


def parse_session_name(name: str) -> tuple[str, str]:
    """Split a session name into (program, pair key), or raise InvalidSessionName."""
    match = _SESSION_RE.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise InvalidSessionName(
            f"invalid session name {_shown(str(name))}: expected "
            f"{{program}}_{{CC}}_{{operator slug}} matching {SESSION_NAME_PATTERN}"
        )
    return match["program"], match["pair_key"]
