"""Small stand-ins the tests share: a clock the test moves by hand, a person acting, a
store that counts its reads of every record."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Generic

from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Role, User
from smsfleet.core.records import R, RecordStore

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


class Delegating(Generic[R]):
    """A `RecordStore` that hands every call to `store`. Stand-ins override its hooks:
    `_reading_all` before a `get` or a `list` (each a listing of every record, on every
    backend), `_writing` before each write but `add_missing`."""

    def __init__(self, store: RecordStore[R]) -> None:
        self._store = store

    def _reading_all(self) -> None:
        """Called before a `get` or a `list`."""

    def _writing(self) -> None:
        """Called before an `add`, `replace`, `update`, `delete` or `delete_up_to`."""

    def get(self, key: str) -> R | None:
        self._reading_all()
        return self._store.get(key)

    def list(self) -> builtins.list[R]:
        self._reading_all()
        return self._store.list()

    def add(self, record: R) -> None:
        self._writing()
        self._store.add(record)

    def add_missing(self, records: Sequence[R]) -> int:
        return self._store.add_missing(records)

    def replace(self, record: R) -> None:
        self._writing()
        self._store.replace(record)

    def update(
        self, key: str, changes: Mapping[str, object], *, where: Mapping[str, object]
    ) -> bool:
        self._writing()
        return self._store.update(key, changes, where=where)

    def delete(self, key: str, *, where: Mapping[str, object] | None = None) -> bool:
        self._writing()
        return self._store.delete(key, where=where)

    def first(
        self,
        count: int,
        *,
        order_by: str,
        descending: bool = False,
        where: Mapping[str, object] | None = None,
    ) -> builtins.list[R]:  # `list` in this class is its method
        return self._store.first(count, order_by=order_by, descending=descending, where=where)

    def delete_up_to(
        self,
        field: str,
        last: object,
        *,
        last_key: str | None = None,
        where: Mapping[str, object] | None = None,
    ) -> int:
        self._writing()
        return self._store.delete_up_to(field, last, last_key=last_key, where=where)


class ReadCounted(Delegating[R]):
    """A store that counts the reads of every record: `list`, and `get`, which on every
    backend is served from a listing of them all."""

    def __init__(self, store: RecordStore[R]) -> None:
        super().__init__(store)
        self.reads = 0

    def _reading_all(self) -> None:
        self.reads += 1
