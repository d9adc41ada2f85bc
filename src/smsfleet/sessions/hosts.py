"""The hosts sessions run on: this one (`local`) and the inventory's, each with its backend.

The supervisor lists every host each tick and records here whether it answered,
so the API can tell an unreachable host from one with no sessions.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from smsfleet.core.errors import NotFound, ValidationFailed
from smsfleet.core.settings import LOCAL_HOST, Settings, SshHost
from smsfleet.sessions.backend import ScreenEntry, SessionBackend
from smsfleet.sessions.screen import ScreenBackend, ScreenError
from smsfleet.sessions.ssh import SshBackend, for_operators

__all__ = ["LOCAL_HOST", "HostHealth", "Hosts", "UnknownHost"]


class UnknownHost(NotFound):
    """A session's host is not in the inventory (any more)."""


@dataclass(frozen=True)
class HostHealth:
    reachable: bool
    checked_at: datetime
    error: str | None = None


class Hosts:
    def __init__(self, backends: Mapping[str, SessionBackend], addresses: Mapping[str, str]):
        self._backends = dict(backends)
        self._addresses = dict(addresses)
        self._health: dict[str, HostHealth] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls,
        local: ScreenBackend,
        inventory: Mapping[str, SshHost],
        program_env: Iterable[str] = (),
    ) -> Hosts:
        backends: dict[str, SessionBackend] = {LOCAL_HOST: local}
        addresses = {LOCAL_HOST: LOCAL_HOST}
        for name, host in inventory.items():
            backends[name] = SshBackend(name, host, program_env=program_env)
            addresses[name] = host.address
        return cls(backends, addresses)

    @classmethod
    def from_settings(cls, settings: Settings) -> Hosts:
        """This host's screens in the data dir, and the inventory's hosts over SSH."""
        local = ScreenBackend(
            settings.sessions_dir,
            screen_dir=settings.screen_dir,
            program_env=settings.program_env,
            log_max_bytes=settings.session_log_max_bytes,
            run_as=settings.run_as,
            run_as_uids=settings.run_as_uids,
        )
        return cls.build(local, settings.hosts, settings.program_env)

    @classmethod
    def only(cls, local: SessionBackend) -> Hosts:
        return cls({LOCAL_HOST: local}, {LOCAL_HOST: LOCAL_HOST})

    @property
    def names(self) -> list[str]:
        return list(self._backends)

    def address(self, name: str) -> str:
        self.backend(name)
        return self._addresses[name]

    def backend(self, name: str) -> SessionBackend:
        backend = self._backends.get(name)
        if backend is None:
            raise UnknownHost(f"host {name!r} is not in the inventory (SMSFLEET_HOSTS)")
        return backend

    def list(self, name: str, now: datetime) -> list[ScreenEntry]:
        """Every screen on host `name`, recording whether it answered."""
        try:
            entries = self.backend(name).list()
        except Exception as error:
            said = for_operators(error)
            self._record(name, HostHealth(reachable=False, checked_at=now, error=said))
            raise
        self._record(name, HostHealth(reachable=True, checked_at=now))
        return entries

    def program_checks(self) -> dict[str, Callable[[Sequence[str]], None]]:
        """Each SSH host's check of a program's command, made by its agent on its own
        disk; a host that cannot be asked refuses, saying why."""
        return {
            name: functools.partial(_check_there, name, backend)
            for name, backend in self._backends.items()
            if isinstance(backend, SshBackend)
        }

    def usage(self) -> dict[str, tuple[float, int]]:
        """CPU % and resident bytes of other hosts' programs, by session, as last listed."""
        found: dict[str, tuple[float, int]] = {}
        for backend in self._backends.values():
            if isinstance(backend, SshBackend):
                found.update(backend.usage)
        return found

    def health(self, name: str) -> HostHealth | None:
        """What the last listing of `name` found; None before the first."""
        with self._lock:
            return self._health.get(name)

    def _record(self, name: str, health: HostHealth) -> None:
        with self._lock:
            self._health[name] = health


def _check_there(name: str, backend: SshBackend, command: Sequence[str]) -> None:
    try:
        backend.check_program(command)
    # Unreachable, no agent there, or one too old to know the check: it cannot say yes.
    except (ScreenError, ValueError) as error:
        raise ValidationFailed.for_field(
            "command.0", f"host {name} could not check it: {for_operators(error)}"
        ) from error
