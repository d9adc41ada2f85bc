"""HTTP for the audit log (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from smsfleet.audit import service
from smsfleet.audit.models import AuditAction, AuditEvent
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import AdminUser, Context

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/audit", tags=["audit"])


@router.get(
    "",
    summary="Who changed programs, high-priority pairs, accounts, API keys and caps, newest first",
)
def list_audit(
    _: AdminUser,
    context: Context,
    action: AuditAction | None = None,
    target_kind: Annotated[str | None, Query(max_length=16)] = None,
    target: Annotated[
        str | None, Query(max_length=80, description="Program, pair or session")
    ] = None,
    actor: Annotated[str | None, Query(max_length=64, description="Username")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEvent]:
    return service.recent(
        audit=context.store.audit,
        limit=limit,
        action=action,
        target_kind=target_kind,
        target=target,
        actor=actor,
    )
