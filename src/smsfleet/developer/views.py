"""Usage analytics routes: `/api/v1/analytics/*` and a key's own `/usage`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import Context, CurrentUser, UsageDep
from smsfleet.developer.models import UsageDay, UsageEndpoint, UsageKey, UsageQuery, UsageSummary

__all__ = ["keys_router", "router"]

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/analytics", tags=["analytics"])
keys_router = APIRouter(
    route_class=StrictJsonRoute, prefix="/api/v1/auth/api-keys", tags=["api keys"]
)


QueryDep = Annotated[UsageQuery, Query()]


@router.get("/usage", summary="Requests, errors and latency over a date range")
def usage(user: CurrentUser, service: UsageDep, query: QueryDep) -> UsageSummary:
    return service.summary(query, actor=user)


@router.get("/usage/daily", summary="The same, day by day")
def usage_daily(user: CurrentUser, service: UsageDep, query: QueryDep) -> list[UsageDay]:
    return service.daily(query, actor=user)


@router.get("/usage/endpoints", summary="The same, per route, busiest first")
def usage_endpoints(user: CurrentUser, service: UsageDep, query: QueryDep) -> list[UsageEndpoint]:
    return service.endpoints(query, actor=user)


@router.get("/usage/keys", summary="The same, per API key, to compare them")
def usage_keys(user: CurrentUser, service: UsageDep, query: QueryDep) -> list[UsageKey]:
    return service.keys(query, actor=user)


def _key_query(context: Context, user: CurrentUser, key_id: str, query: UsageQuery) -> UsageQuery:
    context.api_keys.get(actor=user, key_id=key_id)  # 404 unless the caller's (or an admin)
    return query.model_copy(update={"api_key_id": key_id})


@keys_router.get("/{key_id}/usage", summary="One API key's use over a date range")
def key_usage(
    key_id: str, user: CurrentUser, context: Context, service: UsageDep, query: QueryDep
) -> UsageSummary:
    return service.summary(_key_query(context, user, key_id, query), actor=user)


@keys_router.get("/{key_id}/usage/daily", summary="One API key's use, day by day")
def key_usage_daily(
    key_id: str, user: CurrentUser, context: Context, service: UsageDep, query: QueryDep
) -> list[UsageDay]:
    return service.daily(_key_query(context, user, key_id, query), actor=user)
