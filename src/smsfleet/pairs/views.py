"""HTTP for countries and country-operator pairs, plus the seed documents' routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from smsfleet.audit.models import Actor
from smsfleet.auth.models import User
from smsfleet.deps import AdminUser, Context, CurrentUser, OperatorActor, OperatorUser
from smsfleet.pairs import service
from smsfleet.pairs.models import (
    Country,
    CountryUpdate,
    Pair,
    PairCreate,
    PairPublic,
    PairState,
    PairUpdate,
    SeedPair,
    SeedPairCreate,
)
from smsfleet.sessions import service as sessions_service
from smsfleet.sessions.models import SessionAction
from smsfleet.sessions.names import session_name

router = APIRouter(prefix="/api/v1")
seed_router = APIRouter(tags=["seed routes"])

Force = Annotated[
    bool,
    Query(
        description="Confirm (admin) a change that stops some of a high-priority pair's sessions"
    ),
]


@router.get("/countries", tags=["countries"], summary="Countries with their per-minute cap")
def list_countries(_: CurrentUser, context: Context) -> list[Country]:
    return context.store.countries.list()


@router.get("/countries/{code}", tags=["countries"])
def get_country(code: str, _: CurrentUser, context: Context) -> Country:
    return service.get_country(countries=context.store.countries, code=code)


@router.patch("/countries/{code}", tags=["countries"], summary="Set a country's cap")
def update_country(code: str, body: CountryUpdate, _: AdminUser, context: Context) -> Country:
    return service.update_country(countries=context.store.countries, code=code, data=body)


def _public(context: Context, pair: Pair) -> PairPublic:
    return service.to_public(pair, context.store.countries)


@router.get("/pairs", tags=["pairs"], summary="List pairs")
def list_pairs(
    _: CurrentUser,
    context: Context,
    country: Annotated[str | None, Query(max_length=2)] = None,
    state: PairState | None = None,
    high_priority: bool | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Search text")] = None,
) -> list[PairPublic]:
    found = service.list_pairs(
        pairs=context.store.pairs,
        country=country,
        state=state,
        high_priority=high_priority,
        query=q,
    )
    return [_public(context, pair) for pair in found]


@router.post("/pairs", tags=["pairs"], status_code=status.HTTP_201_CREATED)
def create_pair(body: PairCreate, actor: OperatorUser, context: Context) -> PairPublic:
    store = context.store
    pair = service.create_pair(
        pairs=store.pairs,
        countries=store.countries,
        programs=store.programs,
        clock=context.clock,
        actor=actor,
        data=body,
        hosts=context.sessions.hosts.names,
    )
    sessions_service.start_pair_sessions_afresh(store=store, clock=context.clock, pair=pair)
    if body.start_sessions:
        _start_sessions(context, actor, pair, pair.programs, reason="started with its new pair")
    return _public(context, pair)


def _start_sessions(
    context: Context, actor: User | Actor, pair: Pair, programs: list[str], *, reason: str
) -> None:
    """Start the sessions of `programs` on `pair`, as their Start buttons would."""
    for program in programs:
        sessions_service.act(
            store=context.store,
            clock=context.clock,
            actor=actor,
            name=session_name(program, pair.key),
            action=SessionAction.start,
            reason=reason,
            on_event=context.publish_session_event,
        )
    if programs:
        context.wake_supervisor()


@router.get("/pairs/{key}", tags=["pairs"])
def get_pair(key: str, _: CurrentUser, context: Context) -> PairPublic:
    return _public(context, service.get_pair(pairs=context.store.pairs, key=key))


@router.patch("/pairs/{key}", tags=["pairs"])
def update_pair(
    key: str, body: PairUpdate, actor: OperatorActor, context: Context, force: Force = False
) -> PairPublic:
    before = service.get_pair(pairs=context.store.pairs, key=key)
    pair = service.update_pair(
        pairs=context.store.pairs,
        programs=context.store.programs,
        clock=context.clock,
        actor=actor,
        key=key,
        data=body,
        force=force,
        hosts=context.sessions.hosts.names,
        audit=context.store.audit,
    )
    if body.start_sessions:
        added = [program for program in pair.programs if program not in before.programs]
        _start_sessions(context, actor, pair, added, reason="started as it joined its pair")
    return _public(context, pair)


@router.delete("/pairs/{key}", tags=["pairs"], status_code=status.HTTP_204_NO_CONTENT)
def delete_pair(key: str, actor: OperatorActor, context: Context, force: Force = False) -> None:
    service.delete_pair(
        pairs=context.store.pairs,
        actor=actor,
        key=key,
        force=force,
        audit=context.store.audit,
        clock=context.clock,
    )
    sessions_service.retire_pair_sessions(store=context.store, clock=context.clock, pair_key=key)
    context.wake_supervisor()


def _seed_pair(context: Context, pair: Pair) -> SeedPair:
    public = _public(context, pair)
    return SeedPair(
        country=public.country_name,
        country_code=pair.country,
        operator=pair.operator,
        slug=pair.slug,
        key=pair.key,
        is_high_priority=pair.is_high_priority,
        state=pair.state,
    )


@seed_router.post(
    "/country-operator", status_code=status.HTTP_201_CREATED, summary="Add a pair (seed route)"
)
def seed_create_pair(body: SeedPairCreate, actor: OperatorUser, context: Context) -> SeedPair:
    store = context.store
    country = service.resolve_country(countries=store.countries, text=body.country)
    pair = service.create_pair(
        pairs=store.pairs,
        countries=store.countries,
        programs=store.programs,
        clock=context.clock,
        actor=actor,
        data=PairCreate(
            country=country.code, operator=body.operator, is_high_priority=body.is_high_priority
        ),
    )
    sessions_service.start_pair_sessions_afresh(store=store, clock=context.clock, pair=pair)
    return _seed_pair(context, pair)


@seed_router.get("/country-operator", summary="List pairs (seed route)")
def seed_list_pairs(_: CurrentUser, context: Context) -> list[SeedPair]:
    return [_seed_pair(context, pair) for pair in context.store.pairs.list()]


@seed_router.delete("/country-operator/{country}/{operator}", summary="Delete a pair (seed route)")
def seed_delete_pair(
    country: str, operator: str, actor: OperatorActor, context: Context, force: Force = False
) -> JSONResponse:
    store = context.store
    pair = service.find_pair(
        pairs=store.pairs, countries=store.countries, country=country, operator=operator
    )
    service.delete_pair(
        pairs=store.pairs,
        actor=actor,
        key=pair.key,
        force=force,
        audit=store.audit,
        clock=context.clock,
    )
    sessions_service.retire_pair_sessions(store=store, clock=context.clock, pair_key=pair.key)
    context.wake_supervisor()
    return JSONResponse({"message": f"{pair.key} deleted", "key": pair.key})
