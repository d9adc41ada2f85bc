"""HTTP for the audit log (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from smsfleet.audit import service
from smsfleet.audit.models import AuditAction, AuditEvent
from smsfleet.core.bounds import QueryTime
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import AdminUser, Context

NEXT_BEFORE = "X-Next-Before"
MAX_CURSOR = 128

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/audit", tags=["audit"])


@router.get(
    "",
    summary="Who changed programs, high-priority pairs, accounts, API keys and caps, newest first",
    response_description="A page of entries, newest first. While older ones match, the"
    ' `Link` header (`rel="next"`) names the next page and `X-Next-Before` its cursor',
)
def list_audit(
    _: AdminUser,
    context: Context,
    request: Request,
    response: Response,
    action: AuditAction | None = None,
    target_kind: Annotated[str | None, Query(max_length=16)] = None,
    target: Annotated[
        str | None, Query(max_length=80, description="Program, pair or session")
    ] = None,
    actor: Annotated[str | None, Query(max_length=64, description="Username")] = None,
    since: Annotated[
        QueryTime | None, Query(description="Made at or after then (ISO 8601; UTC when no offset)")
    ] = None,
    until: Annotated[
        QueryTime | None, Query(description="Made before then (ISO 8601; UTC when no offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR,
            description="Only entries older than a page's last: the `X-Next-Before` it gave",
        ),
    ] = None,
) -> list[AuditEvent]:
    page = service.recent(
        audit=context.store.audit,
        limit=limit,
        before=before,
        action=action,
        target_kind=target_kind,
        target=target,
        actor=actor,
        since=since,
        until=until,
    )
    if page.next_before is not None:
        url = request.url.include_query_params(before=page.next_before)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
        response.headers[NEXT_BEFORE] = page.next_before
    return page.events
