"""API key routes: `/api/v1/auth/api-keys`."""

from __future__ import annotations

from fastapi import APIRouter, status

from smsfleet.apikeys.models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, ApiKeyAudited, AuditAction
from smsfleet.deps import Context, CurrentActor, CurrentUser, SignedInUser
from smsfleet.wiring import Services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/auth/api-keys", tags=["api keys"])


def _audit(
    context: Services,
    actor: Actor,
    action: AuditAction,
    *,
    before: ApiKey | None,
    after: ApiKeyPublic,
) -> None:
    """Its id, name, owner, scopes and quotas: never the key, nor its hash."""

    def audited(key: ApiKey | ApiKeyPublic | None) -> ApiKeyAudited | None:
        if key is None:
            return None
        return ApiKeyAudited.model_validate(key.model_dump(include=set(ApiKeyAudited.model_fields)))

    audit_service.record(
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        action=action,
        target_kind="api_key",
        target=after.id,
        before=audited(before),
        after=audited(after),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key; the whole key is in this answer only",
)
def create_key(
    body: ApiKeyCreate, user: SignedInUser, actor: CurrentActor, context: Context
) -> ApiKeyCreated:
    created = context.api_keys.create(owner=user, data=body)
    _audit(context, actor, AuditAction.api_key_created, before=None, after=created)
    return created


@router.get("", summary="Your API keys (every key for an admin), newest first")
def list_keys(user: CurrentUser, context: Context) -> list[ApiKeyPublic]:
    return context.api_keys.find(actor=user)


@router.get("/{key_id}", summary="One API key, with its quotas")
def get_key(key_id: str, user: CurrentUser, context: Context) -> ApiKeyPublic:
    keys = context.api_keys
    return keys.public(keys.get(actor=user, key_id=key_id))


@router.delete("/{key_id}", summary="Revoke an API key: it stops working at once")
def revoke_key(
    key_id: str, user: SignedInUser, actor: CurrentActor, context: Context
) -> ApiKeyPublic:
    keys = context.api_keys
    before = keys.get(actor=user, key_id=key_id)
    revoked = keys.revoke(actor=user, key_id=key_id)
    if before.revoked_at is None:  # revoking a revoked key changes nothing
        _audit(context, actor, AuditAction.api_key_revoked, before=before, after=revoked)
    return revoked
