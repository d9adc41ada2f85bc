"""HTTP face of the simulator: provider, gateway and admin endpoints."""

from __future__ import annotations

import hmac
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from smsfleet import __version__
from smsfleet.core.http_errors import error_response, error_responses, install_error_handlers
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.simulator._engine import Simulator
from smsfleet.simulator._errors import SimulatorError
from smsfleet.simulator.config import (
    PHONE_PATTERN,
    PROVIDER_PATTERN,
    ROUTE_KEY_PATTERN,
    ProviderConfig,
    ProviderOverlay,
    RouteOverlay,
    SimulatorConfig,
)
from smsfleet.simulator.models import (
    TRIGGER_ID_PATTERN,
    ConfigView,
    Health,
    Inbox,
    MessageStatus,
    ProviderView,
    ResetRequest,
    ResetResponse,
    RouteNumbers,
    RouteView,
    SendRequest,
    SendResponse,
    SubmitRequest,
    SubmitResponse,
    TruthReport,
)

ProviderParam = Annotated[str, PathParam(pattern=PROVIDER_PATTERN)]
RouteParam = Annotated[str, PathParam(pattern=ROUTE_KEY_PATTERN)]
TriggerParam = Annotated[str, PathParam(pattern=TRIGGER_ID_PATTERN)]

_ERRORS = error_responses(400, 401, 404, 409, 422, 429, 502, 503)
_bearer = HTTPBearer(auto_error=False, description="Admin token, when one is configured.")


def _simulator(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


SimulatorDep = Annotated[Simulator, Depends(_simulator)]


def _require_admin(
    simulator: SimulatorDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = simulator.admin_token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise SimulatorError(
            401,
            "unauthorized",
            "a valid admin bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


providers = APIRouter(
    route_class=StrictJsonRoute, prefix="/providers", tags=["providers"], responses=_ERRORS
)
gateway = APIRouter(
    route_class=StrictJsonRoute, prefix="/gateway", tags=["gateway"], responses=_ERRORS
)
admin = APIRouter(
    route_class=StrictJsonRoute,
    prefix="/admin",
    tags=["admin"],
    responses=_ERRORS,
    dependencies=[Depends(_require_admin)],
)


@providers.post("/{provider}/send")
async def send_sms(
    provider: ProviderParam, body: SendRequest, simulator: SimulatorDep
) -> SendResponse:
    """Ask a provider to send an OTP SMS; its fate is decided now and kept as ground truth."""
    return simulator.send(provider, body)


@providers.post("/{provider}/submit")
async def submit_code(
    provider: ProviderParam, body: SubmitRequest, simulator: SimulatorDep
) -> SubmitResponse:
    """Hand back the code the test phone received."""
    return simulator.submit(provider, body)


@gateway.get("/messages/{trigger_id}", response_model_exclude_none=True)
async def message_status(trigger_id: TriggerParam, simulator: SimulatorDep) -> MessageStatus:
    """What the test phone has received for a trigger: pending, delivered or not_delivered."""
    return simulator.message(trigger_id)


@gateway.get("/inbox")
async def inbox(
    phone: Annotated[str, Query(pattern=PHONE_PATTERN)],
    simulator: SimulatorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Inbox:
    """Messages delivered to a number so far, newest first."""
    return simulator.inbox(phone, limit)


@gateway.get("/numbers")
async def numbers(
    simulator: SimulatorDep,
    route: Annotated[str | None, Query(pattern=ROUTE_KEY_PATTERN)] = None,
) -> list[RouteNumbers]:
    """Test phone numbers configured per route."""
    return [
        RouteNumbers(route=key, phones=phones) for key, phones in simulator.numbers(route).items()
    ]


@admin.get("/config")
async def get_config(simulator: SimulatorDep) -> ConfigView:
    return simulator.config_view()


@admin.put("/routes/{route}")
async def put_route(route: RouteParam, body: RouteOverlay, simulator: SimulatorDep) -> RouteView:
    """Replace a route's settings; anything left out comes from the defaults."""
    return simulator.put_route(route, body)


@admin.patch("/routes/{route}")
async def patch_route(route: RouteParam, body: RouteOverlay, simulator: SimulatorDep) -> RouteView:
    """Change some of a route's settings; `null` returns a setting to the value the
    configuration file gives this route, or to `[defaults]` where it gives none."""
    return simulator.patch_route(route, body)


@admin.put("/providers/{provider}")
async def put_provider(
    provider: ProviderParam, body: ProviderConfig, simulator: SimulatorDep
) -> ProviderView:
    return simulator.put_provider(provider, body)


@admin.patch("/providers/{provider}")
async def patch_provider(
    provider: ProviderParam, body: ProviderOverlay, simulator: SimulatorDep
) -> ProviderView:
    """Change some of a provider's settings; `null` returns a setting to the value the
    configuration file gives this provider, or to the built-in default where it gives none."""
    return simulator.patch_provider(provider, body)


@admin.post("/reset")
async def reset(simulator: SimulatorDep, body: ResetRequest | None = None) -> ResetResponse:
    """Back to the loaded configuration and an empty ground truth (both by default)."""
    options = body or ResetRequest()
    simulator.reset(config=options.config, truth=options.truth)
    return ResetResponse(config=options.config, truth=options.truth)


@admin.get("/truth")
async def truth(
    simulator: SimulatorDep,
    route: Annotated[str | None, Query(pattern=ROUTE_KEY_PATTERN)] = None,
    provider: Annotated[str | None, Query(pattern=PROVIDER_PATTERN)] = None,
    since: Annotated[datetime | None, Query(description="Only triggers from this time on.")] = None,
) -> TruthReport:
    """Every trigger and its fate, with counts per route."""
    return simulator.truth(route=route, provider=provider, since=since)


async def _on_simulator_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SimulatorError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def create_simulator_app(
    config: SimulatorConfig,
    *,
    clock: Callable[[], float] | None = None,
    rng: random.Random | None = None,
) -> FastAPI:
    """The simulator as an ASGI app; `clock` (Unix seconds) and `rng` make runs repeatable."""
    app = FastAPI(
        title="smsfleet SMS gateway simulator",
        version=__version__,
        description="Simulated SMS providers and test-phone gateway for demos and tests.",
    )
    app.state.simulator = Simulator(config, clock=clock or time.time, rng=rng or random.Random())
    install_error_handlers(app)
    app.add_exception_handler(SimulatorError, _on_simulator_error)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> Health:
        return Health()

    app.include_router(providers)
    app.include_router(gateway)
    app.include_router(admin)
    return app
