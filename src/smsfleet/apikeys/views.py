"""API key routes: `/api/v1/auth/api-keys`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from smsfleet.apikeys.models import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import Context, CurrentUser, SignedInUser

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/auth/api-keys", tags=["api keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key; the whole key is in this answer only",
)
def create_key(body: ApiKeyCreate, user: SignedInUser, context: Context) -> ApiKeyCreated:
    return context.api_keys.create(owner=user, data=body)


@router.get("", summary="Your API keys (every key for an admin), newest first")
def list_keys(
    user: CurrentUser,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000, description="The newest this many")] = 100,
) -> list[ApiKeyPublic]:
    return context.api_keys.find(actor=user, limit=limit)


@router.get("/{key_id}", summary="One API key, with its quotas")
def get_key(key_id: str, user: CurrentUser, context: Context) -> ApiKeyPublic:
    keys = context.api_keys
    return keys.public(keys.get(actor=user, key_id=key_id))


@router.delete("/{key_id}", summary="Revoke an API key: it stops working at once")
def revoke_key(key_id: str, user: SignedInUser, context: Context) -> ApiKeyPublic:
    return context.api_keys.revoke(actor=user, key_id=key_id)
