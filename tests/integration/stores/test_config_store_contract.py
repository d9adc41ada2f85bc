"""The config store contract, run unchanged against SQLite, MariaDB and MongoDB.

Every test takes `config_store` (or `config_store_url`), parametrized over the three
backends, and holds no backend-specific branch: what passes here is what the service
layer may rely on whatever `SMSFLEET_CONFIG_URL` names.

Pairs and countries: a pair names its country by code. The SQL schema backs this with a
foreign key (adding a pair whose country row is missing fails, and so does deleting a
country that pairs still name), MongoDB has no such constraint. The contract therefore
only requires that a pair whose country exists round-trips; checking that the country
exists, and refusing to delete a country in use, is the pairs service's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel

from smsfleet.apikeys.models import ApiKey, Scope
from smsfleet.auth.models import Login, RevokedSession, Role, User
from smsfleet.core.errors import Conflict, NotFound
from smsfleet.core.records import RecordStore, event_id
from smsfleet.messages.models import Template
from smsfleet.pairs.models import Country, Pair, PairState
from smsfleet.programs.models import Program
from smsfleet.sessions.models import (
    DesiredState,
    EventKind,
    SessionEvent,
    SessionSpec,
    SessionState,
    SessionStatus,
)
from smsfleet.stores import ConfigStore, open_config_store

# Written with microseconds and a non-UTC offset; read back as UTC, whole milliseconds.
WRITTEN_AT = datetime(
    2026, 3, 1, 17, 30, 45, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
)
READ_AT = datetime(2026, 3, 1, 12, 0, 45, 123000, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 8, 15, 0, 999999, tzinfo=UTC)

VI_OPERATOR = "Vi India — Maharashtra & Goa"
MTS_OPERATOR = "МТС — Мобильные ТелеСистемы"  # noqa: RUF001


def make_user(username: str = "admin", **changes: Any) -> User:
    values: dict[str, Any] = {
        "username": username,
        "role": Role.admin,
        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "disabled": False,
        "created_at": WRITTEN_AT,
        "updated_at": WRITTEN_AT,
    }
    return User.model_validate(values | changes)


def make_country(code: str = "IN", **changes: Any) -> Country:
    values: dict[str, Any] = {"code": code, "name": f"Country {code}", "cap": 10}
    return Country.model_validate(values | changes)


def make_pair(key: str = "IN_vi", **changes: Any) -> Pair:
    country, slug = key.split("_", 1)
    values: dict[str, Any] = {
        "key": key,
        "country": country,
        "operator": VI_OPERATOR,
        "slug": slug,
        "region": "Maharashtra & Goa",
        "is_high_priority": True,
        "state": PairState.paused,
        "state_reason": "success rate 12 % below 50 % over 30 min",
        "state_actor": "policy",
        "state_changed_at": WRITTEN_AT,
        "pause_threshold": 1 / 3,
        "resume_threshold": 0.875,
        "phone_numbers": ["+919876543210", "+919812345678"],
        "programs": ["program1", "program2"],
        "created_at": WRITTEN_AT,
        "updated_at": WRITTEN_AT,
    }
    return Pair.model_validate(values | changes)


def make_program(name: str = "program1", **changes: Any) -> Program:
    values: dict[str, Any] = {
        "name": name,
        "command": ["python3", f"programs/{name}.py", "--label", "Ünïcödé — тест"],
        "provider": "Twilio",
        "description": "Sends through the primary gateway",
        "created_at": WRITTEN_AT,
        "updated_at": WRITTEN_AT,
    }
    return Program.model_validate(values | changes)


def make_session_spec(name: str = "program1_IN_vi", **changes: Any) -> SessionSpec:
    program, pair = name.split("_", 1)
    values: dict[str, Any] = {
        "name": name,
        "program": program,
        "pair": pair,
        "desired": DesiredState.running,
        "desired_reason": "high-priority pair",
        "desired_actor": "system",
        "desired_at": WRITTEN_AT,
        "generation": 3,
        "created_at": WRITTEN_AT,
    }
    return SessionSpec.model_validate(values | changes)


def make_session_status(name: str = "program1_IN_vi", **changes: Any) -> SessionStatus:
    values: dict[str, Any] = {
        "name": name,
        "state": SessionState.backoff,
        "observed_generation": 3,
        "pid": 4242,
        "started_at": WRITTEN_AT,
        "restarts": 2,
        "requested_restarts": 5,
        "quick_failures": 1,
        "backoff_until": LATER,
        "last_exit_code": -9,
        "last_log_lines": ["Traceback (most recent call last):", "ÜnïcödéError: тест"],
        "updated_at": WRITTEN_AT,
    }
    return SessionStatus.model_validate(values | changes)


def make_api_key(key_id: str = "0a1b2c3d", **changes: Any) -> ApiKey:
    values: dict[str, Any] = {
        "id": key_id,
        "owner": "alice",
        "name": "nightly report — ✓",
        "scopes": [Scope.control, Scope.read],
        "secret_hash": "e" * 64,
        "daily_quota": 1000,
        "monthly_quota": None,
        "created_at": WRITTEN_AT,
        "last_used_at": None,
        "revoked_at": None,
    }
    return ApiKey.model_validate(values | changes)


def make_template(template_id: str = "otp", **changes: Any) -> Template:
    values: dict[str, Any] = {
        "id": template_id,
        "name": "One-time code",
        "body": "Your code is {token}",
        "provider_bodies": {"provider1": "Код: {token}", "provider2": "{token} is your code"},
        "created_at": WRITTEN_AT,
        "updated_at": WRITTEN_AT,
    }
    return Template.model_validate(values | changes)


@dataclass(frozen=True)
class Kind:
    """One kind of record: its store, how to build one, and a change to make to it."""

    name: str
    store: Callable[[ConfigStore], RecordStore[Any]]
    make: Callable[..., BaseModel]
    key_field: str
    keys: tuple[str, ...]
    change: dict[str, Any]
    prepare: Callable[[ConfigStore], None] = lambda _store: None

    def key_of(self, record: BaseModel) -> str:
        key: str = getattr(record, self.key_field)
        return key


def _add_countries(store: ConfigStore) -> None:
    for code in ("IN", "RU", "TJ", "UZ"):
        store.countries.add(make_country(code))


KINDS = [
    Kind(
        name="users",
        store=lambda s: s.users,
        make=make_user,
        key_field="username",
        # Ordered by code point: '-' < '.' < digits < '_' < letters.
        keys=("zoe", "a_b", "aa", "a-b", "a.b", "a0", "b"),
        change={"role": Role.viewer, "disabled": True, "updated_at": LATER},
    ),
    Kind(
        name="countries",
        store=lambda s: s.countries,
        make=make_country,
        key_field="code",
        keys=("UZ", "IN", "TJ", "RU", "AE"),
        change={"name": "Узбекистан", "cap": 10_000},
    ),
    Kind(
        name="pairs",
        store=lambda s: s.pairs,
        make=make_pair,
        key_field="key",
        keys=("UZ_uzmobile", "IN_vi", "TJ_megafon", "IN_airtel", "IN_vi-2", "RU_mts"),
        change={
            "operator": MTS_OPERATOR,
            "region": None,
            "is_high_priority": False,
            "state": PairState.enabled,
            "state_reason": None,
            "state_actor": None,
            "state_changed_at": None,
            "pause_threshold": None,
            "resume_threshold": 0.0,
            "phone_numbers": [],
            "programs": ["program6"],
            "updated_at": LATER,
        },
        prepare=_add_countries,
    ),
    Kind(
        name="programs",
        store=lambda s: s.programs,
        make=make_program,
        key_field="name",
        keys=("program6", "program1", "program10", "program-2"),
        change={"command": ["/usr/bin/env", "python3", "-u"], "provider": "", "updated_at": LATER},
    ),
    Kind(
        name="session_specs",
        store=lambda s: s.session_specs,
        make=make_session_spec,
        key_field="name",
        keys=("program2_IN_vi", "program1_UZ_uzmobile", "program10_IN_vi", "program1_IN_vi"),
        change={
            "desired": DesiredState.stopped,
            "desired_reason": None,
            "generation": 4,
            "restart_requested_at": LATER,
        },
    ),
    Kind(
        name="session_status",
        store=lambda s: s.session_status,
        make=make_session_status,
        key_field="name",
        keys=("program2_IN_vi", "program1_UZ_uzmobile", "program1_IN_vi"),
        change={
            "state": SessionState.running,
            "pid": None,
            "backoff_until": None,
            "last_log_lines": [],
            "updated_at": LATER,
        },
    ),
    Kind(
        name="api_keys",
        store=lambda s: s.api_keys,
        make=make_api_key,
        key_field="id",
        keys=("ffff0000", "0a1b2c3d", "00000001", "a0b1c2d3"),
        change={"scopes": [Scope.read], "last_used_at": LATER, "revoked_at": LATER},
    ),
    Kind(
        name="templates",
        store=lambda s: s.templates,
        make=make_template,
        key_field="id",
        keys=("otp", "welcome", "otp-2", "a_b"),
        change={"body": "{token}", "provider_bodies": {}, "updated_at": LATER},
    ),
]


@pytest.fixture(params=KINDS, ids=[kind.name for kind in KINDS])
def kind(request: pytest.FixtureRequest, config_store: ConfigStore) -> Kind:
    chosen: Kind = request.param
    chosen.prepare(config_store)
    return chosen


# --- the store answers ---------------------------------------------------------------


def test_ping(config_store: ConfigStore) -> None:
    config_store.ping()


def test_backend_is_named(config_store: ConfigStore) -> None:
    assert config_store.backend in {"sqlite", "mysql", "mongodb"}


def test_new_store_is_empty(config_store: ConfigStore) -> None:
    assert config_store.users.list() == []
    assert config_store.countries.list() == []
    assert config_store.pairs.list() == []
    assert config_store.programs.list() == []
    assert config_store.pairs.get("IN_vi") is None


# --- every kind: add, get, list, replace, delete -------------------------------------


def test_add_then_get(config_store: ConfigStore, kind: Kind) -> None:
    store = kind.store(config_store)
    record = kind.make(kind.keys[0])
    store.add(record)
    assert store.get(kind.keys[0]) == record
    assert store.list() == [record]


def test_get_missing_is_none(config_store: ConfigStore, kind: Kind) -> None:
    store = kind.store(config_store)
    store.add(kind.make(kind.keys[0]))
    assert store.get(kind.keys[1]) is None


def test_keys_are_exact(config_store: ConfigStore, kind: Kind) -> None:
    """No case folding, no padding: another spelling of a key is another key."""
    store = kind.store(config_store)
    key = kind.keys[0]
    store.add(kind.make(key))
    assert store.get(key.swapcase()) is None
    assert store.get(f"{key} ") is None
    assert store.delete(key.swapcase()) is False
    assert [kind.key_of(r) for r in store.list()] == [key]


def test_list_is_ordered_by_key(config_store: ConfigStore, kind: Kind) -> None:
    store = kind.store(config_store)
    records = {key: kind.make(key) for key in kind.keys}
    for record in records.values():
        store.add(record)
    listed = store.list()
    assert [kind.key_of(record) for record in listed] == sorted(kind.keys)
    assert listed == [records[key] for key in sorted(kind.keys)]


def test_add_duplicate_key_conflicts_and_keeps_first(config_store: ConfigStore, kind: Kind) -> None:
    store = kind.store(config_store)
    first = kind.make(kind.keys[0])
    second = first.model_copy(update=kind.change)
    store.add(first)
    with pytest.raises(Conflict):
        store.add(second)
    assert store.get(kind.keys[0]) == first
    assert store.list() == [first]


def test_add_missing_inserts_only_the_absent_keys_and_keeps_the_rest(
    config_store: ConfigStore, kind: Kind
) -> None:
    store = kind.store(config_store)
    kept = kind.make(kind.keys[0])
    store.add(kept)
    changed = kept.model_copy(update=kind.change)
    offered = [changed, *(kind.make(key) for key in kind.keys[1:])]
    assert store.add_missing(offered) == len(kind.keys) - 1
    assert store.get(kind.keys[0]) == kept  # not overwritten by the offered change
    assert [kind.key_of(r) for r in store.list()] == sorted(kind.keys)
    assert store.get(kind.keys[1]) == offered[1]
    assert store.add_missing(offered) == 0
    assert store.add_missing([]) == 0


def test_add_missing_from_another_connection_meanwhile_adds_each_once(
    config_store_url: str, config_store: ConfigStore
) -> None:
    """Two replicas starting together both offer every country: each is stored once."""
    countries = [make_country(code) for code in ("IN", "UZ", "KE", "GE")]
    other = open_config_store(config_store_url)
    try:
        assert other.countries.add_missing(countries[1:3]) == 2
        assert config_store.countries.add_missing(countries) == 2
    finally:
        other.close()
    assert [c.code for c in config_store.countries.list()] == ["GE", "IN", "KE", "UZ"]


def test_replace_changes_the_record(config_store: ConfigStore, kind: Kind) -> None:
    store = kind.store(config_store)
    first = kind.make(kind.keys[0])
    other = kind.make(kind.keys[1])
    store.add(first)
    store.add(other)
    changed = kind.make(kind.keys[0], **kind.change)
    assert changed != first
    store.replace(changed)
    assert store.get(kind.keys[0]) == changed
    assert store.get(kind.keys[1]) == other


def test_replace_with_same_values_is_not_missing(config_store: ConfigStore, kind: Kind) -> None:
    store = kind.store(config_store)
    record = kind.make(kind.keys[0])
    store.add(record)
    store.replace(record)
    store.replace(record)
    assert store.get(kind.keys[0]) == record


def test_replace_missing_raises_not_found_and_creates_nothing(
    config_store: ConfigStore, kind: Kind
) -> None:
    store = kind.store(config_store)
    existing = kind.make(kind.keys[0])
    store.add(existing)
    with pytest.raises(NotFound):
        store.replace(kind.make(kind.keys[1]))
    assert store.get(kind.keys[1]) is None
    assert store.list() == [existing]


def test_delete_returns_true_then_false(config_store: ConfigStore, kind: Kind) -> None:
    store = kind.store(config_store)
    kept = kind.make(kind.keys[1])
    store.add(kind.make(kind.keys[0]))
    store.add(kept)
    assert store.delete(kind.keys[0]) is True
    assert store.get(kind.keys[0]) is None
    assert store.delete(kind.keys[0]) is False
    assert store.list() == [kept]


def test_add_after_delete(config_store: ConfigStore, kind: Kind) -> None:
    store = kind.store(config_store)
    store.add(kind.make(kind.keys[0]))
    assert store.delete(kind.keys[0]) is True
    again = kind.make(kind.keys[0], **kind.change)
    store.add(again)
    assert store.get(kind.keys[0]) == again


# --- update: written only while the fields it was decided on hold --------------------


def test_update_sets_the_named_fields_while_the_others_read_still_hold(
    config_store_url: str, config_store: ConfigStore
) -> None:
    """A change decided on what was read is written only if that still holds, even when
    another connection changed the record since (this store's listing is then stale)."""
    users = config_store.users
    user = make_user("alice", token_version=7)
    users.add(user)
    assert users.get("alice") == user
    other = open_config_store(config_store_url)
    try:
        assert other.users.update("alice", {"disabled": True}, where={"role": Role.admin})
    finally:
        other.close()
    as_read = {"token_version": 7, "disabled": False, "role": Role.admin}
    assert not users.update("alice", {"token_version": 8, "updated_at": LATER}, where=as_read)
    assert users.get("alice") == user.model_copy(update={"disabled": True})
    as_now = as_read | {"disabled": True}
    assert users.update("alice", {"token_version": 8, "updated_at": LATER}, where=as_now)
    changed = {
        "disabled": True,
        "token_version": 8,
        "updated_at": LATER.replace(microsecond=999000),
    }
    assert users.get("alice") == user.model_copy(update=changed)


def test_update_where_a_field_is_none_matches_only_while_it_is_unset(
    config_store: ConfigStore,
) -> None:
    keys = config_store.api_keys
    key = make_api_key()
    keys.add(key)
    assert keys.update(key.id, {"last_used_at": READ_AT}, where={"revoked_at": None})
    assert keys.update(key.id, {"revoked_at": LATER}, where={"revoked_at": None})
    assert not keys.update(key.id, {"last_used_at": LATER}, where={"revoked_at": None})
    assert not keys.update(key.id, {"revoked_at": READ_AT}, where={"revoked_at": None})
    revoked = {"last_used_at": READ_AT, "revoked_at": LATER.replace(microsecond=999000)}
    assert keys.get(key.id) == key.model_copy(update=revoked)


def test_update_missing_is_false_and_creates_nothing(config_store: ConfigStore) -> None:
    config_store.users.add(make_user("alice"))
    assert not config_store.users.update("bob", {"disabled": True}, where={})
    assert [u.username for u in config_store.users.list()] == ["alice"]


def test_update_where_a_time_holds_matches_it_as_read_though_written_finer(
    config_store: ConfigStore,
) -> None:
    """A record written with a time finer than milliseconds (`model_copy` validates
    nothing) reads back to the millisecond: a change decided on that reading is written."""
    programs = config_store.programs
    finer = make_program().model_copy(update={"updated_at": LATER})
    programs.add(finer)
    read = programs.get(finer.name)
    assert read is not None and read.updated_at == LATER.replace(microsecond=999000)
    assert not programs.update(read.name, {"provider": "X"}, where={"updated_at": READ_AT})
    assert programs.update(read.name, {"provider": "Y"}, where={"updated_at": read.updated_at})
    assert programs.update(read.name, {"provider": "Z"}, where={"updated_at": read.updated_at})
    assert programs.get(read.name) == read.model_copy(update={"provider": "Z"})


def test_update_writes_list_and_mapping_fields(config_store: ConfigStore) -> None:
    templates, programs = config_store.templates, config_store.programs
    templates.add(make_template())
    programs.add(make_program())
    bodies = {"provider1": "Код {token}", "provider3": "{token}"}
    assert templates.update("otp", {"provider_bodies": bodies}, where={})
    assert programs.update("program1", {"command": ["python3", "тест.py"]}, where={})
    assert templates.get("otp") == make_template(provider_bodies=bodies)
    assert programs.get("program1") == make_program(command=["python3", "тест.py"])


# --- first, delete_up_to: a few records in order, and records removed by a condition --


# MongoDB drops logins and revoked sessions past their end itself (a TTL index, swept
# every minute): these end far ahead, so only the store under test removes them.
ENDS_AT = datetime(2099, 3, 1, 12, 0, 45, 123000, tzinfo=UTC)
ENDS_FINER = datetime(2099, 3, 2, 8, 15, 0, 999999, tzinfo=UTC)


def make_login(session: str, username: str = "alice", seconds: int = 0) -> Login:
    return Login(
        session=session,
        username=username,
        refresh_id=f"refresh-{session}",
        expires_at=ENDS_AT + timedelta(seconds=seconds),
    )


def _add_logins(store: ConfigStore) -> None:
    """Alice's by when they end, two of them at the same moment; and one of Bob's."""
    for login in (
        make_login("s3", seconds=3),
        make_login("s1b", seconds=1),
        make_login("s1a", seconds=1),
        make_login("s2", seconds=2),
        make_login("s0", seconds=0),
        make_login("bob", "bob", seconds=1),
    ):
        store.logins.add(login)


def _sessions(records: list[Login]) -> list[str]:
    return [record.session for record in records]


def test_first_gives_the_first_records_in_order_of_a_field_then_the_key(
    config_store: ConfigStore,
) -> None:
    _add_logins(config_store)
    logins = config_store.logins
    alices = {"username": "alice"}
    assert _sessions(logins.first(3, order_by="expires_at", where=alices)) == ["s0", "s1a", "s1b"]
    newest = logins.first(3, order_by="expires_at", descending=True, where=alices)
    assert _sessions(newest) == ["s3", "s2", "s1b"]
    assert newest[0] == make_login("s3", seconds=3)
    everyones = logins.first(10, order_by="expires_at")
    assert _sessions(everyones) == ["s0", "bob", "s1a", "s1b", "s2", "s3"]
    assert logins.first(10, order_by="expires_at", where={"username": "carol"}) == []
    assert logins.first(0, order_by="expires_at") == []


def test_delete_up_to_a_time_removes_those_at_or_before_it(config_store: ConfigStore) -> None:
    _add_logins(config_store)
    logins = config_store.logins
    at_one = ENDS_AT + timedelta(seconds=1, microseconds=999)  # read as that millisecond
    assert logins.delete_up_to("expires_at", at_one) == 4
    assert _sessions(logins.list()) == ["s2", "s3"]
    assert logins.delete_up_to("expires_at", ENDS_AT) == 0
    assert _sessions(logins.list()) == ["s2", "s3"]


def test_delete_up_to_a_time_removes_what_reads_as_it_though_written_finer(
    config_store: ConfigStore,
) -> None:
    """A time kept finer than milliseconds (`model_copy` validates nothing) reads back to
    its millisecond, and is removed up to what was read."""
    revoked = config_store.revoked_sessions
    finer = RevokedSession(session="s", username="alice", expires_at=ENDS_AT)
    revoked.add(finer.model_copy(update={"expires_at": ENDS_FINER}))
    read = revoked.get("s")
    assert read is not None and read.expires_at == ENDS_FINER.replace(microsecond=999000)
    assert revoked.delete_up_to("expires_at", ENDS_FINER - timedelta(milliseconds=1)) == 0
    assert revoked.delete_up_to("expires_at", read.expires_at) == 1
    assert revoked.list() == []


def test_delete_up_to_a_record_removes_it_and_those_before_it_only(
    config_store: ConfigStore,
) -> None:
    """A record `first` gave, by its time and key: of two at one moment, the one before."""
    _add_logins(config_store)
    logins = config_store.logins
    alices = {"username": "alice"}
    [_, last] = logins.first(2, order_by="expires_at", where=alices)
    assert last.session == "s1a"
    removed = logins.delete_up_to("expires_at", last.expires_at, last_key="s1a", where=alices)
    assert removed == 2
    assert _sessions(logins.list()) == ["bob", "s1b", "s2", "s3"]
    assert logins.delete_up_to("expires_at", ENDS_AT, last_key="s0", where=alices) == 0


def test_a_reader_sees_records_removed_up_to_a_time_through_another_connection(
    config_store_url: str, config_store: ConfigStore
) -> None:
    _add_logins(config_store)
    assert len(config_store.logins.list()) == 6
    other = open_config_store(config_store_url)
    try:
        assert other.logins.delete_up_to("expires_at", ENDS_AT + timedelta(seconds=2)) == 5
    finally:
        other.close()
    assert _sessions(config_store.logins.list()) == ["s3"]
    assert config_store.logins.get("s0") is None


# --- values round-trip exactly ---------------------------------------------------------


def test_timestamps_read_back_as_utc_milliseconds(config_store: ConfigStore) -> None:
    config_store.countries.add(make_country("IN"))
    config_store.pairs.add(make_pair("IN_vi", updated_at=LATER))
    got = config_store.pairs.get("IN_vi")
    assert got is not None
    for value in (got.created_at, got.state_changed_at, got.updated_at):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
    assert got.created_at == READ_AT
    assert got.state_changed_at == READ_AT
    assert got.updated_at == LATER.replace(microsecond=999000)
    assert got.created_at.microsecond == 123000


def test_pair_round_trips_every_field(config_store: ConfigStore) -> None:
    config_store.countries.add(make_country("IN", name="India"))
    config_store.countries.add(make_country("RU", name="Российская Федерация"))
    full = make_pair("IN_vi")
    sparse = Pair(
        key="RU_mts",
        country="RU",
        operator=MTS_OPERATOR,
        slug="mts",
        created_at=WRITTEN_AT,
        updated_at=WRITTEN_AT,
    )
    config_store.pairs.add(full)
    config_store.pairs.add(sparse)

    got_full = config_store.pairs.get("IN_vi")
    got_sparse = config_store.pairs.get("RU_mts")
    assert got_full == full
    assert got_sparse == sparse
    assert got_full is not None
    assert got_sparse is not None
    assert got_full.operator == VI_OPERATOR
    assert got_full.is_high_priority is True
    assert got_full.state is PairState.paused
    assert got_full.pause_threshold == 1 / 3
    assert got_full.resume_threshold == 0.875
    assert got_full.phone_numbers == ["+919876543210", "+919812345678"]
    assert got_sparse.operator == MTS_OPERATOR
    assert got_sparse.region is None
    assert got_sparse.is_high_priority is False
    assert got_sparse.state_changed_at is None
    assert got_sparse.pause_threshold is None
    assert got_sparse.phone_numbers == []
    assert got_sparse.programs == []
    assert config_store.countries.get("RU") == make_country("RU", name="Российская Федерация")


@pytest.mark.parametrize(
    ("pause", "resume"),
    [(0.0, 1.0), (1 / 3, 2 / 3), (0.1 + 0.2, 0.95), (1e-9, 0.999999999)],
)
def test_thresholds_round_trip_exactly(
    config_store: ConfigStore, pause: float, resume: float
) -> None:
    config_store.countries.add(make_country("IN"))
    config_store.pairs.add(make_pair(pause_threshold=pause, resume_threshold=resume))
    got = config_store.pairs.get("IN_vi")
    assert got is not None
    assert got.pause_threshold == pause
    assert got.resume_threshold == resume


def test_booleans_round_trip(config_store: ConfigStore) -> None:
    config_store.users.add(make_user("on", disabled=True))
    config_store.users.add(make_user("off", disabled=False))
    on, off = config_store.users.get("on"), config_store.users.get("off")
    assert on is not None
    assert off is not None
    assert on.disabled is True
    assert off.disabled is False
    assert on.role is Role.admin


def test_program_argv_round_trips_in_order(config_store: ConfigStore) -> None:
    argv = ["python3", "-u", "programs/program1.py", "--country", "UZ", "", "a b", '"q"', "é"]
    config_store.programs.add(make_program("program1", command=argv))
    got = config_store.programs.get("program1")
    assert got is not None
    assert got.command == argv


# --- the four kinds are independent --------------------------------------------------


def test_kinds_do_not_interfere(config_store: ConfigStore) -> None:
    # The same key string in two kinds names two different records.
    user = make_user("program1")
    program = make_program("program1")
    country = make_country("IN")
    pair = make_pair("IN_vi")
    config_store.users.add(user)
    config_store.programs.add(program)
    config_store.countries.add(country)
    config_store.pairs.add(pair)

    assert config_store.users.list() == [user]
    assert config_store.programs.list() == [program]
    assert config_store.countries.list() == [country]
    assert config_store.pairs.list() == [pair]

    assert config_store.users.delete("program1") is True
    assert config_store.programs.get("program1") == program
    assert config_store.pairs.delete("IN_vi") is True
    assert config_store.countries.get("IN") == country
    assert config_store.users.list() == []
    assert config_store.pairs.list() == []


def test_pair_with_its_country_round_trips(config_store: ConfigStore) -> None:
    """The part of the pair-country link every backend honours (see module docstring)."""
    config_store.countries.add(make_country("UZ", name="Uzbekistan"))
    pair = make_pair("UZ_uzmobile", operator="Uzmobile", region=None)
    config_store.pairs.add(pair)
    got = config_store.pairs.get("UZ_uzmobile")
    assert got == pair
    assert got is not None
    assert config_store.countries.get(got.country) == make_country("UZ", name="Uzbekistan")
    assert [p.key for p in config_store.pairs.list() if p.country == "UZ"] == ["UZ_uzmobile"]


# --- opening the store ---------------------------------------------------------------


def test_open_twice_keeps_the_data(config_store_url: str) -> None:
    first = open_config_store(config_store_url)
    try:
        first.countries.add(make_country("IN"))
        first.pairs.add(make_pair("IN_vi"))
        # A second opening runs the migrations (or index creation) again, harmlessly.
        second = open_config_store(config_store_url)
        try:
            assert second.pairs.get("IN_vi") == make_pair("IN_vi")
            second.users.add(make_user("admin"))
            assert first.users.get("admin") == make_user("admin")
        finally:
            second.close()
    finally:
        first.close()

    third = open_config_store(config_store_url)
    try:
        third.ping()
        assert third.countries.list() == [make_country("IN")]
        assert third.pairs.list() == [make_pair("IN_vi")]
        assert third.users.list() == [make_user("admin")]
    finally:
        third.close()


def test_open_without_upgrade_reads_an_upgraded_store(config_store_url: str) -> None:
    upgraded = open_config_store(config_store_url)
    try:
        upgraded.programs.add(make_program("program1"))
    finally:
        upgraded.close()
    plain = open_config_store(config_store_url, upgrade=False)
    try:
        assert plain.programs.list() == [make_program("program1")]
    finally:
        plain.close()


# --- the event log -------------------------------------------------------------------


def make_event(index: int, session: str = "program1_IN_vi") -> SessionEvent:
    return SessionEvent(
        id=f"event-{index:04d}",
        at=WRITTEN_AT + timedelta(seconds=index),
        session=session,
        kind=EventKind.exited,
        from_state=SessionState.running,
        to_state=SessionState.exited,
        actor="supervisor",
        reason="exited unexpectedly",
        details={"exit_code": 1, "log_tail": ["bye — пока"]},
    )


def test_event_log_returns_newest_first_filtered_and_limited(config_store: ConfigStore) -> None:
    log = config_store.session_events
    for index in range(6):
        log.append(make_event(index, "program1_IN_vi" if index % 2 else "program2_UZ_uzmobile"))
    newest = log.recent(limit=3)
    assert [event.id for event in newest] == ["event-0005", "event-0004", "event-0003"]
    assert newest[0] == make_event(5)
    mine = log.recent(limit=10, session="program1_IN_vi")
    assert [event.id for event in mine] == ["event-0005", "event-0003", "event-0001"]
    assert log.recent(limit=10, session="program9_IN_vi") == []


def test_events_of_one_millisecond_come_back_in_the_order_they_were_made(
    config_store: ConfigStore,
) -> None:
    """A crash's exit and its backoff are written in one tick, at one `at`: newest first,
    the backoff comes first every time, not as their random ids fall."""
    log = config_store.session_events
    made = [make_event(0).model_copy(update={"id": event_id()}) for _ in range(20)]
    for event in made:
        log.append(event)
    assert [event.id for event in log.recent(limit=20)] == [event.id for event in made[::-1]]


def test_a_reader_sees_writes_made_through_another_connection(
    config_store_url: str, config_store: ConfigStore
) -> None:
    """Another process (the CLI, another replica) writes; a reader that listed before sees it."""
    config_store.programs.add(make_program("program1"))
    assert [p.name for p in config_store.programs.list()] == ["program1"]
    other = open_config_store(config_store_url)
    try:
        other.programs.add(make_program("program2"))
        other.programs.replace(make_program("program1", description="changed elsewhere"))
        assert [p.name for p in config_store.programs.list()] == ["program1", "program2"]
        changed = config_store.programs.get("program1")
        assert changed is not None
        assert changed.description == "changed elsewhere"
        other.programs.delete("program2")
        assert config_store.programs.get("program2") is None
        assert [p.name for p in config_store.programs.list()] == ["program1"]
    finally:
        other.close()
