"""What the security suite's tests share with its fixture `live` (tests/security/conftest.py):
the secrets the control plane holds, and its high-priority session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smsfleet.auth.models import Role
from smsfleet.sessions.screen import ScreenBackend
from tests.support.api import Api

# What the control plane holds and no program may see.
SECRETS = {
    "SMSFLEET_SECRET_KEY": "k" * 24 + "-secret-signing-key-for-tests",
    "SMSFLEET_SEARCH_TOKEN": "search-token-never-for-programs",
    "SMSFLEET_INBOUND_TOKEN": "inbound-token-never-for-programs",
    "SMSFLEET_TELEGRAM_BOT_TOKEN": "123456:telegram-token-never-for-programs",
    "SMSFLEET_ADMIN_PASSWORD": "admin-password-never-for-programs",
    "SMSFLEET_METRICS_URL": "sqlite:////nonexistent/metrics-never-for-programs.db",
    "SMSFLEET_REDIS_URL": "redis://:redis-password-never-for-programs@127.0.0.1:1/0",
    "SMSFLEET_SENTRY_DSN": "http://control-plane-dsn-never-for-programs@127.0.0.1:9/1",
}
# The DSN programs report to: theirs to hold.
PROGRAM_SENTRY_DSN = "http://programs-dsn@127.0.0.1:9/2"
HP_PAIR = "IN_vi"
HP_SESSION = f"ticker_{HP_PAIR}"


@dataclass
class Live:
    api: Api
    programs: Path  # the program directory
    screens: ScreenBackend  # this host's sessions, as the supervisor sees them

    def headers(self, role: Role = Role.admin) -> dict[str, str]:
        return self.api.headers(role)


def running(live: Live, name: str) -> bool:
    """The session's screen lives and the runner has started its program."""
    entry = live.screens.find(name)
    status = live.screens.status(name)
    return entry is not None and status is not None and status.program_pid is not None
