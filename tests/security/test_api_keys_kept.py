"""What API keys leave behind is bounded, on every config backend: one account keeps at
most SMSFLEET_APIKEYS_KEPT_REVOKED_PER_USER revoked keys (a revoke past it deletes their
oldest revoked ones), and making a key counts its owner's active keys in the store, not
from a listing of every key of every user. A viewer looping create-then-revoke left 650
key rows in 44 s, each create reading all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from smsfleet.apikeys.models import ApiKey, ApiKeyCreate
from smsfleet.apikeys.service import ApiKeyService
from smsfleet.apikeys.store import QuotaStore
from smsfleet.auth.models import Role, User
from smsfleet.stores import ConfigStore
from tests.support.api import running_api
from tests.support.fakes import FakeClock, ReadCounted, stored_account

KEPT = 3
ACTIVE = 5
KEYS = "/api/v1/auth/api-keys"


class Keys:
    def __init__(self, store: ConfigStore, service: ApiKeyService, clock: FakeClock) -> None:
        self.store = store
        self.service = service
        self.clock = clock

    def made_and_revoked(self, owner: User, name: str) -> str:
        self.clock.advance(1)
        made = self.service.create(owner=owner, data=ApiKeyCreate(name=name))
        self.clock.advance(1)
        self.service.revoke(actor=owner, key_id=made.id)
        return made.id

    def stored(self, owner: str) -> list[ApiKey]:
        return [key for key in self.store.api_keys.list() if key.owner == owner]


@pytest.fixture
def counted(config_store: ConfigStore) -> ReadCounted[ApiKey]:
    return ReadCounted(config_store.api_keys)


@pytest.fixture
def keys(
    request: pytest.FixtureRequest,
    config_store: ConfigStore,
    counted: ReadCounted[ApiKey],
    sqlite_metrics_engine: Engine,
) -> Keys:
    clock = FakeClock()
    bounds: dict[str, int] = {"max_active_per_user": ACTIVE, "kept_revoked_per_user": KEPT}
    if "reading_every_key" in request.node.name:  # the cap alone
        del bounds["kept_revoked_per_user"]
    service = ApiKeyService(
        keys=counted,
        users=config_store.users,
        quotas=QuotaStore(sqlite_metrics_engine),
        audit=config_store.audit,
        clock=clock,
        **bounds,
    )
    return Keys(config_store, service, clock)


def test_an_account_keeps_at_most_the_bound_of_revoked_keys(keys: Keys) -> None:
    viewer = stored_account(keys.store, "viewer", Role.viewer, at=keys.clock.now())
    other = stored_account(keys.store, "other", Role.viewer, at=keys.clock.now())
    others = [keys.made_and_revoked(other, f"other {n}") for n in range(2)]
    active = keys.service.create(owner=viewer, data=ApiKeyCreate(name="in use"))
    revoked = [keys.made_and_revoked(viewer, f"key {n}") for n in range(4 * KEPT)]
    stored = keys.stored("viewer")
    # The newest revoked stay, and the active key; the older revoked ones are gone.
    assert {k.id for k in stored} == {active.id, *revoked[-KEPT:]}
    listed = keys.service.find(actor=viewer, limit=100)
    assert [k.id for k in listed] == [*revoked[-KEPT:][::-1], active.id]
    assert [k.active for k in listed] == [False] * KEPT + [True]
    for gone in revoked[:-KEPT]:
        assert keys.store.api_keys.get(gone) is None
    # Someone else's revoked keys are theirs to keep.
    assert sorted(k.id for k in keys.stored("other")) == sorted(others)


def test_making_a_key_counts_the_owners_active_keys_without_reading_every_key(
    keys: Keys, counted: ReadCounted[ApiKey]
) -> None:
    viewer = stored_account(keys.store, "viewer", Role.viewer, at=keys.clock.now())
    other = stored_account(keys.store, "other", Role.operator, at=keys.clock.now())
    for n in range(ACTIVE):
        keys.service.create(owner=other, data=ApiKeyCreate(name=f"other {n}"))
    counted.reads = 0
    for n in range(ACTIVE):
        keys.service.create(owner=viewer, data=ApiKeyCreate(name=f"key {n}"))
    with pytest.raises(Exception, match=f"at most {ACTIVE} active API keys"):
        keys.service.create(owner=viewer, data=ApiKeyCreate(name="one too many"))
    assert counted.reads == 0
    assert len([k for k in keys.stored("viewer") if k.revoked_at is None]) == ACTIVE


def _json(answer: Any) -> Any:
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_a_create_and_revoke_loop_leaves_the_bound_of_revoked_keys(tmp_path: Path) -> None:
    with running_api(tmp_path, apikeys_kept_revoked_per_user=KEPT) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        viewer = api.headers(Role.viewer)
        made = []
        for n in range(20):
            clock.advance(1)
            key = _json(api.client.post(KEYS, json={"name": f"key {n}"}, headers=viewer))
            _json(api.client.delete(f"{KEYS}/{key['id']}", headers=viewer))
            made.append(key["id"])
        listed = _json(api.client.get(KEYS, headers=viewer))
        assert [k["id"] for k in listed] == made[-KEPT:][::-1]
        assert api.client.get(f"{KEYS}/{made[0]}", headers=viewer).status_code == 404
        assert len(api.store.api_keys.list()) == KEPT


def test_a_create_and_revoke_loop_is_held_to_the_keys_one_user_may_make_an_hour(
    tmp_path: Path,
) -> None:
    """Each key made and revoked is two audit entries, kept a year: a viewer looping made
    297 keys in 10 s. Past the most an hour, a key is a 429 until the oldest of them is an
    hour old; another user's keys are theirs to make."""
    with running_api(tmp_path, apikeys_made_per_hour=5, apikeys_kept_revoked_per_user=0) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        viewer = api.headers(Role.viewer)
        for n in range(5):
            clock.advance(60)
            key = _json(api.client.post(KEYS, json={"name": f"key {n}"}, headers=viewer))
            _json(api.client.delete(f"{KEYS}/{key['id']}", headers=viewer))
        refused = api.client.post(KEYS, json={"name": "one more"}, headers=viewer)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["message"] == (
            "you made 5 API keys in the last 60 min, the most one user may"
        )
        # The first was made 4 min ago: 56 min until it is an hour old.
        assert refused.headers["Retry-After"] == str(56 * 60)
        audited = api.client.get(
            "/api/v1/audit", params={"actor": "viewer"}, headers=api.headers(Role.admin)
        ).json()
        assert len(audited) == 10  # five made, five revoked: the refused one is not
        operator = api.headers(Role.operator)
        assert api.client.post(KEYS, json={"name": "mine"}, headers=operator).status_code == 201
        clock.advance(56 * 60 - 1)
        api.tokens.clear()  # signed in again: an access token lasts 15 min
        viewer = api.headers(Role.viewer)
        early = api.client.post(KEYS, json={"name": "a second early"}, headers=viewer)
        assert early.status_code == 429, early.text
        clock.advance(1)
        again = api.client.post(KEYS, json={"name": "an hour on"}, headers=viewer)
        assert again.status_code == 201, again.text
