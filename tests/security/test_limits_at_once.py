"""Limits that span records hold when two changes are made at once, each allowed on what
it read (two replicas), on every config backend: a test number is never left with two
pairs, the fleet never holds more sessions than `SMSFLEET_MAX_SESSIONS`, more pairs than
`SMSFLEET_MAX_PAIRS` nor more templates than `SMSFLEET_MAX_TEMPLATES`, and a user never
more active API keys than the cap. The change written second is taken back and refused.

Each race is made to happen every time, not by chance: the change under test reads
through a store that lets another change (on a store of its own) complete after that
read, just before the write (`tests.support.interleaved`)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import Engine

from smsfleet.apikeys.models import ApiKey, ApiKeyCreate, Scope
from smsfleet.apikeys.service import ApiKeyService
from smsfleet.apikeys.store import QuotaStore
from smsfleet.audit.models import Actor
from smsfleet.auth.models import Role
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Conflict
from smsfleet.core.records import RecordStore
from smsfleet.messages import templates as templates_service
from smsfleet.messages.models import Template, TemplateCreate
from smsfleet.pairs import service as pairs_service
from smsfleet.pairs.models import Country, Pair, PairCreate, PairUpdate
from smsfleet.programs.models import Program
from smsfleet.stores import ConfigStore
from tests.support.fakes import stored_account
from tests.support.interleaved import Interleaved

CLOCK = SystemClock()
OPERATOR = Actor(username="operator", role=Role.operator)
NUMBER = "+998901234567"


def _fleet(store: ConfigStore) -> None:
    now = CLOCK.now()
    store.countries.add(Country(code="UZ", name="Uzbekistan", cap=10))
    store.programs.add(
        Program(name="program1", command=["python3", "p.py"], created_at=now, updated_at=now)
    )
    for operator in ("Ucell", "Beeline"):
        pairs_service.create_pair(
            pairs=store.pairs,
            countries=store.countries,
            programs=store.programs,
            clock=CLOCK,
            actor=OPERATOR,
            data=PairCreate(country="UZ", operator=operator),
            audit=store.audit,
        )


def _give(
    store: ConfigStore,
    key: str,
    data: PairUpdate,
    pairs: RecordStore[Pair] | None = None,
    max_sessions: int | None = None,
) -> None:
    pairs_service.update_pair(
        pairs=pairs or store.pairs,
        programs=store.programs,
        clock=CLOCK,
        actor=OPERATOR,
        key=key,
        data=data,
        audit=store.audit,
        max_sessions=max_sessions,
    )


def _add(
    store: ConfigStore,
    data: PairCreate,
    pairs: RecordStore[Pair] | None = None,
    max_sessions: int | None = None,
    max_pairs: int | None = None,
) -> None:
    pairs_service.create_pair(
        pairs=pairs or store.pairs,
        countries=store.countries,
        programs=store.programs,
        clock=CLOCK,
        actor=OPERATOR,
        data=data,
        audit=store.audit,
        max_sessions=max_sessions,
        max_pairs=max_pairs,
    )


def _holders(store: ConfigStore) -> list[str]:
    return [pair.key for pair in store.pairs.list() if NUMBER in pair.phone_numbers]


def test_a_number_given_to_two_pairs_at_once_stays_with_one(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(
        lambda: _give(elsewhere, "UZ_beeline", PairUpdate(phone_numbers=[NUMBER]))
    )
    with pytest.raises(Conflict, match=re.escape(f"{NUMBER} is a test number of UZ_beeline")):
        _give(
            config_store, "UZ_ucell", PairUpdate(phone_numbers=[NUMBER], region="Tashkent"), pairs
        )
    assert pairs.pending == 0
    assert _holders(elsewhere) == ["UZ_beeline"]
    # The refused edit is taken back whole: the region came with the number.
    ucell = elsewhere.pairs.get("UZ_ucell")
    assert ucell is not None and ucell.region is None


def test_a_pair_added_with_a_number_given_elsewhere_at_once_is_not_added(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(
        lambda: _give(elsewhere, "UZ_beeline", PairUpdate(phone_numbers=[NUMBER]))
    )
    with pytest.raises(Conflict, match="is a test number of UZ_beeline"):
        _add(
            config_store,
            PairCreate(country="UZ", operator="Uzmobile", phone_numbers=[NUMBER]),
            pairs,
        )
    assert _holders(elsewhere) == ["UZ_beeline"]
    assert elsewhere.pairs.get("UZ_uzmobile") is None


def test_sessions_added_at_once_past_the_fleets_bound_are_refused(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """One session of room left: two pairs given a program at once do not both take it."""
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    program = PairUpdate(programs=["program1"])
    pairs.before_next_writes(lambda: _give(elsewhere, "UZ_beeline", program, max_sessions=1))
    with pytest.raises(Conflict, match="more than the 1 SMSFLEET_MAX_SESSIONS allows"):
        _give(config_store, "UZ_ucell", program, pairs, max_sessions=1)
    assert sum(len(pair.programs) for pair in elsewhere.pairs.list()) == 1


def test_pairs_added_at_once_past_the_fleets_bound_are_refused(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """Room for one more pair: two added at once do not both take it."""
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(
        lambda: _add(elsewhere, PairCreate(country="UZ", operator="Uzmobile"), max_pairs=3)
    )
    with pytest.raises(Conflict, match="more than the 3 SMSFLEET_MAX_PAIRS allows"):
        _add(config_store, PairCreate(country="UZ", operator="Perfectum"), pairs, max_pairs=3)
    assert pairs.pending == 0
    assert [pair.key for pair in elsewhere.pairs.list()] == [
        "UZ_beeline",
        "UZ_ucell",
        "UZ_uzmobile",
    ]


def _add_template(
    store: ConfigStore, template_id: str, templates: RecordStore[Template] | None = None
) -> None:
    templates_service.create_template(
        templates=templates or store.templates,
        audit=store.audit,
        clock=CLOCK,
        actor=OPERATOR,
        data=TemplateCreate(id=template_id, name="Code", body="Your code: {token}"),
        max_templates=1,
    )


def test_templates_added_at_once_past_the_bound_are_refused(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """Room for one template: two added at once do not both take it."""
    templates = Interleaved(config_store.templates)
    templates.before_next_writes(lambda: _add_template(elsewhere, "otp"))
    with pytest.raises(Conflict, match="more than the 1 SMSFLEET_MAX_TEMPLATES allows"):
        _add_template(config_store, "signup", templates)
    assert templates.pending == 0
    assert [template.id for template in elsewhere.templates.list()] == ["otp"]


@pytest.fixture
def quotas(sqlite_metrics_engine: Engine) -> QuotaStore:
    return QuotaStore(sqlite_metrics_engine)


def _keys(
    store: ConfigStore, quotas: QuotaStore, keys: RecordStore[ApiKey] | None = None
) -> ApiKeyService:
    return ApiKeyService(
        keys=keys or store.api_keys,
        users=store.users,
        quotas=quotas,
        audit=store.audit,
        clock=CLOCK,
        max_active_per_user=1,
    )


def test_keys_made_at_once_on_two_replicas_keep_to_the_cap(
    config_store: ConfigStore, elsewhere: ConfigStore, quotas: QuotaStore
) -> None:
    alice = stored_account(config_store, "alice", Role.operator)
    keys = Interleaved(config_store.api_keys)
    here = _keys(config_store, quotas, keys)
    there = _keys(elsewhere, quotas)
    data = ApiKeyCreate(name="ci", scopes=[Scope.read])
    keys.before_next_writes(lambda: there.create(owner=alice, data=data))
    with pytest.raises(Conflict, match="at most 1 active API keys"):
        here.create(owner=alice, data=data)
    assert keys.pending == 0
    assert len([k for k in elsewhere.api_keys.list() if k.revoked_at is None]) == 1
