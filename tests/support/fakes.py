"""Small stand-ins the tests share: a clock the test moves by hand, a person acting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Role, User

if TYPE_CHECKING:
    from smsfleet.stores import ConfigStore


NO_LOGIN = "-"  # a hash no password verifies against


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
        username=username, role=role, password_hash=NO_LOGIN, created_at=moment, updated_at=moment
    )


def stored_account(
    store: ConfigStore,
    username: str,
    role: Role,
    *,
    password_hash: str = NO_LOGIN,
    at: datetime | None = None,
) -> User:
    """A user stored as `users add` makes one: with its first token version, so that its
    tokens are checked against it (`person` has none)."""
    moment = at or datetime.now(UTC)
    user = User(
        username=username,
        role=role,
        password_hash=password_hash,
        created_at=moment,
        updated_at=moment,
        token_version=auth_service.first_token_version(),
    )
    store.users.add(user)
    return user
