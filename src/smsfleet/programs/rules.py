"""What a program's command may run: a regular file an admin installed in a program
directory (`check_command`). Pure and light (the standard library and `core.errors`):
the control plane checks here, and each SSH host's agent checks on its own disk.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import stat
import sys
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from smsfleet.core.errors import ValidationFailed

if TYPE_CHECKING:
    from smsfleet.core.settings import Settings

__all__ = ["SHELLS_AND_INTERPRETERS", "ProgramRules", "check_command"]

# Shells and interpreters that run code given on their command line or stdin: never a
# program's executable, wherever a copy of one lies. A script runs under the configured
# Python (`ProgramRules.interpreters`) or by its own `#!` line.
SHELLS_AND_INTERPRETERS = frozenset(
    {
        "sh",
        "bash",
        "dash",
        "zsh",
        "ksh",
        "csh",
        "tcsh",
        "fish",
        "busybox",
        "env",
        "perl",
        "ruby",
        "node",
        "nodejs",
        "php",
        "lua",
        "awk",
        "gawk",
        "tclsh",
        "screen",
        "sudo",
        "su",
    }
)


@dataclass(frozen=True)
class ProgramRules:
    """Where programs may live and how they are run, on the host that runs them.

    - `dirs`: the program directories, real paths;
    - `workdir`: the programs' working directory, against which relative paths resolve;
    - `interpreters`: the Pythons that may run a script (this control plane's and each
      SSH host's `python`), given as the first argument exactly as configured;
    - `where`: the setting that names `dirs`, for a refusal to point at.
    """

    dirs: tuple[Path, ...]
    workdir: Path
    interpreters: frozenset[str]
    where: str = "SMSFLEET_PROGRAM_DIRS"

    @classmethod
    def from_settings(cls, settings: Settings) -> ProgramRules:
        return cls.build(
            dirs=settings.program_dirs,
            workdir=settings.programs_dir,
            interpreters=[sys.executable, *(host.python for host in settings.hosts.values())],
        )

    @classmethod
    def build(
        cls,
        *,
        dirs: Iterable[Path],
        workdir: Path,
        interpreters: Iterable[str] = (),
        where: str = "SMSFLEET_PROGRAM_DIRS",
    ) -> ProgramRules:
        return cls(
            dirs=tuple(Path(os.path.realpath(path)) for path in dirs),
            workdir=Path(os.path.realpath(workdir)),
            interpreters=frozenset(interpreters) | {sys.executable},
            where=where,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProgramRules:
        """Rules as an SSH host's agent gets them in a start request: that host's paths
        (`~/…` under its login's home), resolved on its own disk."""
        return cls.build(
            dirs=[Path(str(path)).expanduser() for path in data["dirs"]],
            workdir=Path(str(data["workdir"])).expanduser(),
            interpreters=[str(name) for name in data["interpreters"]],
            where=str(data["where"]),
        )


def _looks_like_python(name: str) -> bool:
    return re.fullmatch(r"(?:python|pypy)[0-9.]*", PurePosixPath(name).name) is not None


# A shell's or an interpreter's name as copies go by: `perl5.36`, `bash-5.2`, `dash.static`.
_VERSIONED_NAME = re.compile(r"([a-z]+)(?:[-_.]?[0-9][0-9.]*)?(?:\.[a-z]+)?")


def _is_shell_or_interpreter(real: Path) -> bool:
    """By its name, or, renamed, by its bytes: the same as one installed on this host."""
    named = _VERSIONED_NAME.fullmatch(real.name)
    if named is not None and named.group(1) in SHELLS_AND_INTERPRETERS:
        return True
    if _looks_like_python(real.name):
        return True
    digests = _installed_interpreters().get(real.stat().st_size)
    return digests is not None and _digest(real) in digests


@functools.cache
def _installed_interpreters() -> dict[int, frozenset[str]]:
    """The digests of this host's shells and interpreters (and its Pythons), by size: a
    file of another size is none of them, and is not read."""
    found: dict[int, set[str]] = {}
    names = [*SHELLS_AND_INTERPRETERS, "python3", "python", sys.executable]
    for name in names:
        where = shutil.which(name)
        if where is None:
            continue
        real = Path(os.path.realpath(where))
        try:
            found.setdefault(real.stat().st_size, set()).add(_digest(real))
        except OSError:
            continue
    return {size: frozenset(digests) for size, digests in found.items()}


def _digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def check_command(command: Sequence[str], rules: ProgramRules) -> None:
    """Refuse a command unless it runs a regular file an admin installed.

    - When `command[0]` is one of the configured Pythons, `command[1]` is the script:
      no interpreter option may come before it (`-c`, `-m`, `-` would run code that is
      not a file there). Otherwise `command[0]` is the executable, by path (a name
      without `/` would be looked up on PATH), and executable.
    - That path holds no `..` and is not under /proc or /dev (which name another file
      in each process); relative, it is taken from the working directory.
    - Its real path (every symlink followed) is a regular file inside a program
      directory, and is not a shell or an interpreter of code given inline.

    Raises `ValidationFailed` naming the argument (`command.0`, `command.1`).
    """
    if not command:
        raise _refused(0, "give the program's executable and its arguments")
    if not rules.dirs:
        raise _refused(0, f"no program directory is set here: set {rules.where}")
    if command[0] in rules.interpreters:
        if len(command) < 2:
            raise _refused(1, f"{command[0]} runs a script: give the script's path next")
        index, needs_exec = 1, False
        if command[1].startswith("-"):
            raise _refused(
                1,
                f"{command[1]!r}: no interpreter option may come before the script; give the"
                " path of a script inside the program directories",
            )
    else:
        index, needs_exec = 0, True
        if _looks_like_python(command[0]):
            allowed = ", ".join(sorted(rules.interpreters))
            raise _refused(0, f"{command[0]!r} is not a configured Python; use one of {allowed}")
        if "/" not in command[0]:
            raise _refused(
                0,
                f"{command[0]!r} would be looked up on PATH: give the path of an executable"
                " inside the program directories",
            )
    text = command[index]
    parts = PurePosixPath(text).parts
    if ".." in parts:
        raise _refused(index, f"{text!r}: a program's path may not hold '..'")
    # Its first name, however many slashes or dots come before it (`//proc`, `/./proc`).
    top = next((part for part in text.split("/") if part not in ("", ".")), "")
    if text.startswith("/") and top in ("proc", "dev"):
        # /proc/self/…, /dev/fd/…: checked here, they name this process's files; run, the
        # program's own.
        raise _refused(index, f"{text!r}: give the program's own path, not one through {top}")
    path = Path(text) if text.startswith("/") else rules.workdir / text
    try:
        real = Path(os.path.realpath(path, strict=True))
        mode = real.stat().st_mode
    except OSError:
        raise _refused(index, f"{text!r} does not exist") from None
    inside = [d for d in rules.dirs if real == d or real.is_relative_to(d)]
    if not inside:
        dirs = ", ".join(str(d) for d in rules.dirs)
        raise _refused(
            index,
            f"{text!r} resolves to {real}, outside the program directories ({dirs});"
            f" an admin installs programs there ({rules.where})",
        )
    if not stat.S_ISREG(mode):
        raise _refused(index, f"{text!r} is not a regular file")
    # A script is read by the configured Python, whatever its name: only an executable
    # could be a shell or an interpreter.
    if needs_exec and _is_shell_or_interpreter(real):
        raise _refused(index, f"{text!r} is a shell or an interpreter, not a program")
    if needs_exec and not os.access(real, os.X_OK):
        raise _refused(index, f"{text!r} is not executable (chmod +x, or run it with Python)")
    if not needs_exec and (why := _not_python(real, **_version_of(real))) is not None:
        raise _refused(index, f"{text!r} {why}")


# Larger than any program's script (a megabyte compiles in about a second, holding the
# control plane's interpreter): not read to be compiled, refused.
_SCRIPT_MOST_BYTES = 1024 * 1024


def _version_of(real: Path) -> dict[str, int]:
    """What tells one content of a file from another without reading it."""
    stat_ = real.stat()
    return {"size": stat_.st_size, "mtime_ns": stat_.st_mtime_ns, "inode": stat_.st_ino}


@functools.lru_cache(maxsize=256)
def _not_python(real: Path, *, size: int, mtime_ns: int, inode: int) -> str | None:
    """Why a Python could not run it as a script; None when it could: Python source,
    compiled code (`.pyc`, its header's magic ending in CR LF, whatever the Python's
    version), or a zip application (its `__main__.py` inside). Compiled only, never run;
    once per version of the file (its size, time and inode), as it is checked again at
    every start."""
    try:
        if zipfile.is_zipfile(real):
            with zipfile.ZipFile(real) as archive:
                has_main = "__main__.py" in archive.namelist()
            return None if has_main else "is a zip archive without a __main__.py"
        if size > _SCRIPT_MOST_BYTES:
            return "is over 1 MiB: no program's script is that large; split it into modules"
        with real.open("rb") as script:
            source = script.read(_SCRIPT_MOST_BYTES)
        if real.suffix == ".pyc":
            return None if source[2:4] == b"\r\n" else "is no Python's compiled code"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a program's own warnings are not a refusal
            compile(source, str(real), "exec", dont_inherit=True)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        # Nested past what the compiler takes is no script any Python runs either.
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        return f"is not a Python script: its source does not compile{where}"
    except zipfile.BadZipFile:
        return "is a damaged zip archive"
    return None


def _refused(index: int, message: str) -> ValidationFailed:
    return ValidationFailed.for_field(f"command.{index}", message, message=message)
