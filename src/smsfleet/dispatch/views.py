"""Worker HTTP routes: lease, report, heartbeat, ended. Authenticated by the session's
token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from smsfleet.core.errors import Unauthorized
from smsfleet.core.json_body import StrictJsonRoute, decode
from smsfleet.deps import CurrentUser, DispatcherDep, services_of
from smsfleet.dispatch.goals import CountryGoal
from smsfleet.dispatch.models import (
    EndedRequest,
    HeartbeatRequest,
    LeaseAction,
    LeaseRequest,
    ReportRequest,
    ReportResponse,
    ReportStatus,
    WorkerBody,
)
from smsfleet.dispatch.service import Dispatcher
from smsfleet.wiring import Services
from smsfleet.worker import COUNTRY_CAP_HEADER

__all__ = ["WORKER_BODIES", "goals_router", "router"]

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/worker", tags=["worker"])
goals_router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/dispatch", tags=["dispatch"])

# The bearer scheme of the schema's components (the API's own, `deps`): a worker route
# says that it takes a bearer token, here the worker token of the session in its body.
_BEARER = "HTTPBearer"


# The worker routes read their token and body themselves: FastAPI's dependencies and
# body handling cost a lease, report or heartbeat (called by every program all the
# time) about twice the CPU of the rest of the framework (measured). Their body and
# token are still documented, as `WORKER_BODIES` in the schema's components.
WORKER_BODIES = (LeaseRequest, ReportRequest, HeartbeatRequest, EndedRequest)
_Body = TypeVar("_Body", bound=WorkerBody)
_Result = TypeVar("_Result")

# Threads the worker routes take their blocking part to, apart from the pool every other
# route shares: a burst of heavy reads (a dashboard's, anyone's) queues behind its own
# kind, never ahead of the programs' leases and reports.
WORKER_THREADS = 40


async def _in_worker_threads(
    request: Request, call: Callable[..., _Result], /, **arguments: Any
) -> _Result:
    limiter: CapacityLimiter = request.app.state.worker_threads
    return await anyio.to_thread.run_sync(partial(call, **arguments), limiter=limiter)


def _documented(body: type[WorkerBody]) -> dict[str, Any]:
    """A route's JSON body and bearer token, as OpenAPI tells them."""
    schema = {"$ref": f"#/components/schemas/{body.__name__}"}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "security": [{_BEARER: []}],
    }


@dataclass(frozen=True)
class _Authenticated(Generic[_Body]):
    body: _Body
    services: Services
    # The creation time of the session the token was issued for: the route refuses it
    # unless the session's spec's, where it reads the spec.
    issued_for: datetime


async def _authenticated(request: Request, body: type[_Body]) -> _Authenticated[_Body]:
    """The request's body, once its bearer token is a worker token of the session the
    body names and that session keeps to its pace of requests (else 429); the token is
    checked first, so a caller without one learns that before anything about its body."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <SMSFLEET_WORKER_TOKEN>")
    services = services_of(request)
    dispatcher = services.dispatcher
    raw = await request.body()
    try:
        found = body.model_validate_json(raw)
    except ValidationError as error:
        _authenticate_unparsed(dispatcher, raw, token)
        # Located in the body, as FastAPI's own validation would say.
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]
        ) from None
    issued_for = dispatcher.authenticate(session=found.session, token=token)  # a hash: no I/O
    dispatcher.pace(session=found.session)  # in memory: a flood is refused before any I/O
    return _Authenticated(found, services, issued_for)


def _authenticate_unparsed(dispatcher: Dispatcher, raw: bytes, token: str) -> None:
    """The token of a body that is not a valid request, checked against the session it
    names: a caller without that session's token is told no more than 401. A body that is
    not JSON at all is a 400 for anyone: that says nothing of the fields."""
    try:
        data = decode(raw)
    except ValueError:
        return
    session = data.get("session") if isinstance(data, dict) else None
    if not isinstance(session, str):
        raise Unauthorized("the worker token is checked against the body's session: none given")
    dispatcher.authenticate(session=session, token=token)


async def _check_session(request: Request, asked: _Authenticated[_Body]) -> int | None:
    """404 for a session with no spec (a removed one's token still verifies), 401 for a
    token of an earlier session of its name; as a lease reads it: from the config in
    memory, else once in the thread pool. Its country's cap."""
    dispatcher = asked.services.dispatcher
    session, issued_for = asked.body.session, asked.issued_for
    checked = dispatcher.check_session_on_loop(session=session, issued_for=issued_for)
    if checked is not None:
        return checked.cap
    return await _in_worker_threads(
        request, dispatcher.check_session, session=session, issued_for=issued_for
    )


# The lease and the report answer bytes made here, on the event loop: FastAPI would
# otherwise check a sync route's answer against its model in a second trip to the
# thread pool. Their models still document them (`response_model`).
_LEASE_ACTION = TypeAdapter[LeaseAction](LeaseAction)
_REPORT_ANSWERS = {
    status: ReportResponse(status=status).model_dump_json().encode() for status in ReportStatus
}


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


@router.post(
    "/lease",
    summary="Ask for the next send: send, wait or stop",
    response_model=LeaseAction,
    openapi_extra=_documented(LeaseRequest),
)
async def lease(request: Request) -> Response:
    arrived = services_of(request).dispatcher.clock.now()
    asked = await _authenticated(request, LeaseRequest)
    dispatcher, body = asked.services.dispatcher, asked.body
    session, in_flight, issued_for = body.session, body.in_flight, asked.issued_for
    # On the Redis profile, from the event loop while the config it reads is in memory;
    # else one trip to the thread pool for the blocking part (the stores, the limiter).
    action = await dispatcher.lease_on_loop(
        session=session, in_flight=in_flight, issued_for=issued_for, arrived=arrived
    )
    if action is None:
        action = await _in_worker_threads(
            request,
            dispatcher.lease,
            session=session,
            in_flight=in_flight,
            issued_for=issued_for,
            arrived=arrived,
        )
    return _json(_LEASE_ACTION.dump_json(action))


@router.post(
    "/report",
    summary="Record the outcome of a leased send (idempotent)",
    response_model=ReportResponse,
    openapi_extra=_documented(ReportRequest),
)
async def report(request: Request) -> Response:
    asked = await _authenticated(request, ReportRequest)
    dispatcher, body = asked.services.dispatcher, asked.body
    session, issued_for = body.session, asked.issued_for
    # On the Redis profile, from the event loop: no trip to the thread pool.
    status = await dispatcher.report_on_loop(session=session, report=body, issued_for=issued_for)
    if status is None:
        status = await _in_worker_threads(
            request, dispatcher.report, session=session, report=body, issued_for=issued_for
        )
    return _json(_REPORT_ANSWERS[status])


@router.post(
    "/heartbeat",
    status_code=204,
    summary="The session's program is alive",
    openapi_extra=_documented(HeartbeatRequest),
)
async def heartbeat(request: Request) -> Response:
    asked = await _authenticated(request, HeartbeatRequest)
    cap = await _check_session(request, asked)
    dispatcher, body = asked.services.dispatcher, asked.body
    # Kept in memory (written to SQL by a timer): nothing here blocks the event loop.
    dispatcher.heartbeat(session=body.session)
    if body.sent:  # a few a minute at most: the ledger's write goes to a thread
        await _in_worker_threads(
            request, dispatcher.tell_sent, session=body.session, sent=body.sent
        )
    # Its country's cap: a program waiting at an older, lower one asks again at once.
    headers = {} if cap is None else {COUNTRY_CAP_HEADER: str(cap)}
    return Response(status_code=204, headers=headers)


@router.post(
    "/ended",
    status_code=204,
    summary="The session's program ended: reconcile it now",
    openapi_extra=_documented(EndedRequest),
)
async def ended(request: Request) -> Response:
    """Sent by the session's runner as its program exits, so a crash is detected (and
    alerted) at once rather than at the supervisor's next tick, which stays the safety
    net."""
    asked = await _authenticated(request, EndedRequest)
    await _check_session(request, asked)
    supervisor, body = asked.services.sessions.supervisor, asked.body
    await _in_worker_threads(request, supervisor.program_ended, name=body.session, pid=body.pid)
    return Response(status_code=204)


@goals_router.get("/goals", summary="Per country: the goal, what is granted now, and why not")
def goals(_: CurrentUser, dispatcher: DispatcherDep) -> list[CountryGoal]:
    """Grants per minute over the last two minutes (at grant time) against each country's
    cap, which is also its target; `reason` says why a country is under it."""
    return dispatcher.goals()
