"""Small stand-ins the tests share: a clock the test moves by hand, a person acting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsfleet.auth.models import Role, User


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self.current = self.start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def set_elapsed(self, milliseconds: int) -> None:
        """Put the clock `milliseconds` after its start."""
        self.current = self.start + timedelta(milliseconds=milliseconds)


def person(username: str = "admin", role: Role = Role.admin) -> User:
    """Someone acting through the services directly (no password: never logs in)."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return User(
        username=username, role=role, password_hash="-", created_at=moment, updated_at=moment
    )
