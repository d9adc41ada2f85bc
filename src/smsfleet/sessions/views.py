"""HTTP for sessions: list, act, bulk act, logs and events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from fastapi import Path as PathParam

from smsfleet.auth.models import Role
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import Context, CurrentUser, LogReadsDep, OperatorActor
from smsfleet.heavy_answers import heavy_json
from smsfleet.sessions import service
from smsfleet.sessions.models import (
    ActionRequest,
    ActionResult,
    BulkActionRequest,
    HostPublic,
    LogLines,
    SessionAction,
    SessionEvent,
    SessionPublic,
    SessionState,
)
from smsfleet.sessions.names import SESSION_NAME_PATTERN

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/sessions", tags=["sessions"])
hosts_router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/hosts", tags=["sessions"])

# The log reads' own threads in the process, and how many one user may have under way
# (`api.py`): a flood of reads of a log on another host (each an ssh round trip that starts
# an agent there) neither overloads that host nor takes the threads every route shares.
LOG_READ_THREADS = 4
LOG_READS_PER_USER = 2

SessionName = Annotated[
    str, PathParam(pattern=SESSION_NAME_PATTERN, description="`{program}_{pair key}`")
]


def _act(
    context: Context, actor: OperatorActor, name: str, action: SessionAction, body: ActionRequest
) -> ActionResult:
    result = service.act(
        store=context.store,
        clock=context.clock,
        actor=actor,
        name=name,
        action=action,
        reason=body.reason,
        force=body.force,
        on_event=context.publish_session_event,
    )
    context.wake_supervisor()
    return result


@router.get("", summary="List sessions with their state, CPU and memory")
def list_sessions(
    _: CurrentUser,
    context: Context,
    country: Annotated[str | None, Query(max_length=2)] = None,
    operator: Annotated[
        str | None, Query(max_length=64, description="Pair key, slug or operator name, in any case")
    ] = None,
    program: Annotated[str | None, Query(max_length=32)] = None,
    state: SessionState | None = None,
    host: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SessionPublic]:
    return service.list_sessions(
        store=context.store,
        clock=context.clock,
        stats=context.sessions.usage,
        country=country,
        operator=operator,
        program=program,
        state=state,
        host=host,
        signs=context.signs_of_life(),
    )


@router.post("/actions", summary="Start, stop or restart every session matching filters")
def bulk_action(
    body: BulkActionRequest, actor: OperatorActor, context: Context
) -> list[ActionResult]:
    results = service.bulk_act(
        store=context.store,
        clock=context.clock,
        actor=actor,
        request=body,
        on_event=context.publish_session_event,
    )
    context.wake_supervisor()
    return results


@router.get("/{name}")
def get_session(name: SessionName, _: CurrentUser, context: Context) -> SessionPublic:
    return service.get_session(
        store=context.store,
        clock=context.clock,
        name=name,
        stats=context.sessions.usage,
        signs=context.signs_of_life(),
    )


Action = Annotated[ActionRequest, Body(default_factory=ActionRequest)]


@router.post("/{name}/start")
def start_session(
    name: SessionName, actor: OperatorActor, context: Context, body: Action
) -> ActionResult:
    return _act(context, actor, name, SessionAction.start, body)


@router.post("/{name}/stop", summary="Stop (high-priority pairs: admin and force)")
def stop_session(
    name: SessionName, actor: OperatorActor, context: Context, body: Action
) -> ActionResult:
    return _act(context, actor, name, SessionAction.stop, body)


@router.post("/{name}/restart", summary="Restart (high-priority pairs: admin and force)")
def restart_session(
    name: SessionName, actor: OperatorActor, context: Context, body: Action
) -> ActionResult:
    return _act(context, actor, name, SessionAction.restart, body)


@router.get(
    "/{name}/logs",
    summary="The last lines of the session's log",
    description="Read on threads of their own, at most two at once per user (429 past it).",
    response_model=LogLines,
)
async def session_logs(
    name: SessionName,
    user: CurrentUser,
    context: Context,
    reads: LogReadsDep,
    lines: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Response:
    """A viewer is told only that the host does not answer, not the raw error."""
    say_why = user.role.allows(Role.operator)

    def read() -> LogLines:
        service.check_exists(store=context.store, name=name)
        return LogLines(name=name, lines=context.session_logs(name, lines, say_why=say_why))

    return await heavy_json(reads, user, read)


@router.get("/{name}/events", summary="The session's recent events, newest first")
def session_events(
    name: SessionName,
    user: CurrentUser,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[SessionEvent]:
    """A viewer is told that a start failed, not its raw error."""
    service.check_exists(store=context.store, name=name)
    return service.recent_events(store=context.store, name=name, limit=limit, role=user.role)


@hosts_router.get("", summary="The hosts sessions run on and whether they answer")
def list_hosts(user: CurrentUser, context: Context) -> list[HostPublic]:
    """Viewers see each host's name and state, not how to log in to it nor raw errors."""
    hosts = service.list_hosts(store=context.store, hosts=context.sessions.hosts)
    if user.role.allows(Role.operator):
        return hosts
    return [
        host.model_copy(
            update={"address": None, "error": "does not answer" if host.error else None}
        )
        for host in hosts
    ]
