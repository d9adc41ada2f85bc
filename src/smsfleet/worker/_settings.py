"""What a program learns from its environment, set by the session backend."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SIMULATOR_URL = "http://127.0.0.1:8100"
# The control plane's own default time from SIGTERM to SIGKILL (SMSFLEET_STOP_GRACE_SECONDS):
# a program started without SMSFLEET_STOP_GRACE (by hand) plans its stop for it.
DEFAULT_STOP_GRACE = 5.0
_SESSION_RE = re.compile(
    r"^(?P<program>[A-Za-z0-9][A-Za-z0-9-]*)_(?P<pair>[A-Z]{2}_[A-Za-z0-9_-]+)$"
)


class SettingsError(ValueError):
    """The environment lacks a variable or holds an unusable value; the message names it."""


@dataclass(frozen=True)
class WorkerSettings:
    url: str
    session: str
    token: str
    pair: str
    program: str
    country: str
    simulator_url: str = DEFAULT_SIMULATOR_URL
    spool_dir: Path | None = None
    proxy: str | None = None
    heartbeat_interval: float = 15.0
    stop_grace: float = DEFAULT_STOP_GRACE
    """From the stop signal to SIGKILL: the session backend tells its own grace."""
    sentry_dsn: str | None = None
    log_stamped: bool = False
    """Whoever runs the program (the session runner) timestamps its lines already."""

    @property
    def spool_path(self) -> Path:
        return self.spool_dir or Path("var") / "spool" / self.session

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(
                    f"{name} is not set: the session backend sets it when it starts the program"
                )
            return value

        def optional(name: str) -> str | None:
            return env.get(name, "").strip() or None

        def seconds(name: str, default: float) -> float:
            raw = optional(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None
            if not value >= 0:
                raise SettingsError(f"{name} must not be negative")
            return value

        url = required("SMSFLEET_URL").rstrip("/")
        session = required("SMSFLEET_SESSION")
        token = required("SMSFLEET_WORKER_TOKEN")
        # Session names are `{program}_{pair}`: run by hand, the rest can be derived from it.
        match = _SESSION_RE.match(session)
        pair = optional("SMSFLEET_PAIR") or (match["pair"] if match else None)
        program = optional("SMSFLEET_PROGRAM") or (match["program"] if match else None)
        if pair is None:
            raise SettingsError("SMSFLEET_PAIR is not set and cannot be derived from the session")
        if program is None:
            raise SettingsError(
                "SMSFLEET_PROGRAM is not set and cannot be derived from the session"
            )
        spool = optional("SMSFLEET_SPOOL_DIR")
        return cls(
            url=url,
            session=session,
            token=token,
            pair=pair,
            program=program,
            country=optional("SMSFLEET_COUNTRY") or pair[:2],
            simulator_url=(optional("SMSFLEET_SIMULATOR_URL") or DEFAULT_SIMULATOR_URL).rstrip("/"),
            spool_dir=Path(spool).expanduser() if spool else None,
            proxy=optional("SMSFLEET_PROXY"),
            heartbeat_interval=seconds("SMSFLEET_HEARTBEAT_INTERVAL", 15.0) or 15.0,
            stop_grace=seconds("SMSFLEET_STOP_GRACE", DEFAULT_STOP_GRACE),
            sentry_dsn=optional("SMSFLEET_PROGRAM_SENTRY_DSN"),
            log_stamped=optional("SMSFLEET_LOG_STAMPED") == "1",
        )
