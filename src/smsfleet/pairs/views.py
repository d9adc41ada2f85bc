"""HTTP for countries and country-operator pairs, plus the seed documents' routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from smsfleet.audit.models import Actor
from smsfleet.core.bounds import QueryTime
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import (
    AdminUser,
    Context,
    CurrentActor,
    CurrentUser,
    OperatorActor,
)
from smsfleet.pairs import lifecycle, service
from smsfleet.pairs.models import (
    CapChange,
    Country,
    CountryUpdate,
    Pair,
    PairChange,
    PairChangeKind,
    PairCreate,
    PairPublic,
    PairState,
    PairUpdate,
    SeedPair,
    SeedPairCreate,
)

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1")
seed_router = APIRouter(route_class=StrictJsonRoute, tags=["seed routes"])

Force = Annotated[
    bool,
    Query(
        description="Confirm (admin) a change that stops some of a high-priority pair's sessions"
    ),
]


CapForce = Annotated[
    bool,
    Query(description="Confirm a cap raised above `SMSFLEET_COUNTRY_CAP_CONFIRM_ABOVE` (60)"),
]


@router.get("/countries", tags=["countries"], summary="Countries with their per-minute cap")
def list_countries(_: CurrentUser, context: Context) -> list[Country]:
    return context.store.countries.list()


@router.get(
    "/countries/cap-changes",
    tags=["countries"],
    summary="The countries' cap changes since a moment, oldest first",
)
def list_cap_changes(
    _: CurrentUser,
    context: Context,
    since: Annotated[
        QueryTime, Query(description="At or after then (ISO 8601; UTC when no offset)")
    ],
) -> list[CapChange]:
    return service.cap_changes(audit=context.store.audit, since=since)


@router.get("/countries/{code}", tags=["countries"])
def get_country(code: str, _: CurrentUser, context: Context) -> Country:
    return service.get_country(countries=context.store.countries, code=code)


@router.patch("/countries/{code}", tags=["countries"], summary="Set a country's cap")
def update_country(
    code: str,
    body: CountryUpdate,
    _: AdminUser,
    actor: CurrentActor,
    context: Context,
    force: CapForce = False,
) -> Country:
    country = service.update_country(
        countries=context.store.countries,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        code=code,
        data=body,
        confirm_above=context.settings.country_cap_confirm_above,
        force=force,
    )
    # Its pairs read as halted, or no longer: open pages read them again.
    for pair in service.list_pairs(pairs=context.store.pairs, country=country.code):
        context.publish_pair_change(PairChange(key=pair.key, change=PairChangeKind.updated))
    return country


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
    return service.to_public_all(found, context.store.countries)


@router.post("/pairs", tags=["pairs"], status_code=status.HTTP_201_CREATED)
def create_pair(body: PairCreate, actor: OperatorActor, context: Context) -> PairPublic:
    pair = lifecycle.create(
        store=context.store,
        clock=context.clock,
        actor=actor,
        data=body,
        hosts=context.sessions.hosts.names,
        max_sessions=context.settings.max_sessions,
        max_pairs=context.settings.max_pairs,
        signals=context,
    )
    return _public(context, pair)


@router.get("/pairs/{key}", tags=["pairs"])
def get_pair(key: str, _: CurrentUser, context: Context) -> PairPublic:
    return _public(context, service.get_pair(pairs=context.store.pairs, key=key))


@router.patch("/pairs/{key}", tags=["pairs"])
def update_pair(
    key: str, body: PairUpdate, actor: OperatorActor, context: Context, force: Force = False
) -> PairPublic:
    pair = lifecycle.update(
        store=context.store,
        clock=context.clock,
        actor=actor,
        key=key,
        data=body,
        force=force,
        hosts=context.sessions.hosts.names,
        max_sessions=context.settings.max_sessions,
        signals=context,
    )
    return _public(context, pair)


@router.delete("/pairs/{key}", tags=["pairs"], status_code=status.HTTP_204_NO_CONTENT)
def delete_pair(key: str, actor: OperatorActor, context: Context, force: Force = False) -> None:
    _delete(context, actor, key, force)


def _delete(context: Context, actor: Actor, key: str, force: bool) -> None:
    lifecycle.delete(
        store=context.store,
        clock=context.clock,
        actor=actor,
        key=key,
        force=force,
        signals=context,
    )


def _seed_pair(context: Context, pair: Pair) -> SeedPair:
    return _seed(_public(context, pair))


def _seed(public: PairPublic) -> SeedPair:
    return SeedPair(
        country=public.country_name,
        country_code=public.country,
        operator=public.operator,
        slug=public.slug,
        key=public.key,
        is_high_priority=public.is_high_priority,
        state=public.state,
    )


@seed_router.post(
    "/country-operator", status_code=status.HTTP_201_CREATED, summary="Add a pair (seed route)"
)
def seed_create_pair(body: SeedPairCreate, actor: OperatorActor, context: Context) -> SeedPair:
    country = service.resolve_country(countries=context.store.countries, text=body.country)
    data = PairCreate(
        country=country.code, operator=body.operator, is_high_priority=body.is_high_priority
    )
    pair = lifecycle.create(
        store=context.store,
        clock=context.clock,
        actor=actor,
        data=data,
        hosts=context.sessions.hosts.names,
        max_sessions=context.settings.max_sessions,
        max_pairs=context.settings.max_pairs,
        signals=context,
    )
    return _seed_pair(context, pair)


@seed_router.get("/country-operator", summary="List pairs (seed route)")
def seed_list_pairs(_: CurrentUser, context: Context) -> list[SeedPair]:
    store = context.store
    return [_seed(public) for public in service.to_public_all(store.pairs.list(), store.countries)]


@seed_router.delete("/country-operator/{country}/{operator}", summary="Delete a pair (seed route)")
def seed_delete_pair(
    country: str, operator: str, actor: OperatorActor, context: Context, force: Force = False
) -> JSONResponse:
    store = context.store
    pair = service.find_pair(
        pairs=store.pairs, countries=store.countries, country=country, operator=operator
    )
    _delete(context, actor, pair.key, force)
    return JSONResponse({"message": f"{pair.key} deleted", "key": pair.key})
