"""Two changes made at once never undo each other, on every config backend: a revoked API
key stays revoked, whichever of the two requests writes last.

Each race is made to happen every time, not by chance: the request under test reads
through a store that lets another request (on a store of its own, as on another replica)
complete its change after that read, just before the write."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Generic

import pytest
from sqlalchemy.engine import Engine

from smsfleet.apikeys.models import ApiKey, ApiKeyCreate
from smsfleet.apikeys.service import ApiKeyService
from smsfleet.apikeys.store import QuotaStore
from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Role, User
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Unauthorized
from smsfleet.core.records import R, RecordStore
from smsfleet.stores import ConfigStore, open_config_store

CLOCK = SystemClock()
NO_LOGIN = "-"  # a hash no password verifies against


class Interleaved(Generic[R]):
    """A store whose next writes each let another request's change complete first: after
    what the request writing read, before what it writes."""

    def __init__(self, store: RecordStore[R]) -> None:
        self._store = store
        self._meanwhile: list[Callable[[], object]] = []

    def before_next_writes(self, *changes: Callable[[], object]) -> None:
        self._meanwhile.extend(changes)

    @property
    def pending(self) -> int:
        """How many of those changes no write let happen yet."""
        return len(self._meanwhile)

    def _before_write(self) -> None:
        if self._meanwhile:
            self._meanwhile.pop(0)()

    def get(self, key: str) -> R | None:
        return self._store.get(key)

    def list(self) -> list[R]:
        return self._store.list()

    def add(self, record: R) -> None:
        self._store.add(record)

    def add_missing(self, records: Sequence[R]) -> int:
        return self._store.add_missing(records)

    def replace(self, record: R) -> None:
        self._before_write()
        self._store.replace(record)

    def update(
        self, key: str, changes: Mapping[str, object], *, where: Mapping[str, object]
    ) -> bool:
        self._before_write()
        return self._store.update(key, changes, where=where)

    def delete(self, key: str) -> bool:
        return self._store.delete(key)


@pytest.fixture
def elsewhere(config_store_url: str, config_store: ConfigStore) -> Iterator[ConfigStore]:
    """The test's store as another replica has it open."""
    store = open_config_store(config_store_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def quotas(sqlite_metrics_engine: Engine) -> QuotaStore:
    return QuotaStore(sqlite_metrics_engine)


def _alice(store: ConfigStore) -> User:
    now = CLOCK.now()
    alice = User(
        username="alice",
        role=Role.operator,
        password_hash=NO_LOGIN,
        created_at=now,
        updated_at=now,
        token_version=auth_service.first_token_version(),
    )
    store.users.add(alice)
    return alice


# --- API keys ----------------------------------------------------------------------------


def _keys(store: ConfigStore, keys: RecordStore[ApiKey], quotas: QuotaStore) -> ApiKeyService:
    return ApiKeyService(
        keys=keys,
        users=store.users,
        quotas=quotas,
        audit=store.audit,
        clock=CLOCK,
        max_active_per_user=5,
    )


def test_a_key_revoked_while_a_request_was_using_it_stays_revoked(
    config_store: ConfigStore, elsewhere: ConfigStore, quotas: QuotaStore
) -> None:
    """The request read the key active; its use is written once the revocation is."""
    alice = _alice(config_store)
    keys = Interleaved(config_store.api_keys)
    here = _keys(config_store, keys, quotas)
    there = _keys(elsewhere, elsewhere.api_keys, quotas)
    made = here.create(owner=alice, data=ApiKeyCreate(name="ci"))
    keys.before_next_writes(lambda: there.revoke(actor=alice, key_id=made.id))
    here.authenticate(made.key)
    assert keys.pending == 0
    stored = elsewhere.api_keys.get(made.id)
    assert stored is not None and stored.revoked_at is not None
    for service in (here, there):
        with pytest.raises(Unauthorized, match="this API key was revoked"):
            service.authenticate(made.key)


def test_a_key_used_while_it_was_being_revoked_is_revoked_with_its_use_kept(
    config_store: ConfigStore, elsewhere: ConfigStore, quotas: QuotaStore
) -> None:
    """The revocation read the key unused; its revocation is written once the use is."""
    alice = _alice(config_store)
    keys = Interleaved(config_store.api_keys)
    here = _keys(config_store, keys, quotas)
    there = _keys(elsewhere, elsewhere.api_keys, quotas)
    made = here.create(owner=alice, data=ApiKeyCreate(name="ci"))
    keys.before_next_writes(lambda: there.authenticate(made.key))
    assert here.revoke(actor=alice, key_id=made.id).active is False
    assert keys.pending == 0
    stored = elsewhere.api_keys.get(made.id)
    assert stored is not None
    assert stored.revoked_at is not None and stored.last_used_at is not None
    with pytest.raises(Unauthorized, match="this API key was revoked"):
        there.authenticate(made.key)
