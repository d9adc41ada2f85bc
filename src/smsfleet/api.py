"""The control plane's app factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import CapacityLimiter
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from smsfleet import __version__, live, ops
from smsfleet.alerts import views as alerts_views
from smsfleet.apidocs import document_bodies, mount_api_docs
from smsfleet.apikeys import views as apikeys_views
from smsfleet.audit import views as audit_views
from smsfleet.auth import views as auth_views
from smsfleet.core.clock import Clock
from smsfleet.core.heavy_reads import HeavyReads
from smsfleet.core.http_errors import error_response, error_responses, install_error_handlers
from smsfleet.core.settings import Settings
from smsfleet.developer import views as developer_views
from smsfleet.developer.log import RequestRecorder, worker_request_seconds
from smsfleet.dispatch import views as dispatch_views
from smsfleet.edge import Edge
from smsfleet.messages import views as messages_views
from smsfleet.metrics import views as metrics_views
from smsfleet.pairs import views as pairs_views
from smsfleet.policy import views as policy_views
from smsfleet.programs import views as programs_views
from smsfleet.search import views as search_views
from smsfleet.sessions import views as sessions_views
from smsfleet.stores import ConfigStore
from smsfleet.wiring import Services, build_services

__all__ = ["create_app"]

# What a route of the API may answer besides its success.
ERROR_RESPONSES = error_responses(400, 401, 403, 404, 409, 422, 429)

log = logging.getLogger("smsfleet")

API_PREFIX = "/api/"


class _DashboardRoute(APIRoute):
    """The dashboard's catch-all: it serves GET only, and no path of the API. Another
    method on a path no route of the API has is then 404, not 405 "use GET"."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.PARTIAL and scope["path"].startswith(API_PREFIX):
            return Match.NONE, {}
        return match, child_scope


def _mount_web(app: FastAPI, web_dir: Path) -> None:
    """Serve the built dashboard, falling back to index.html for client-side routes."""
    root = web_dir.resolve()

    def web(path: str) -> FileResponse | JSONResponse:
        if "\x00" in path:  # no file has it in its name, and no page of the dashboard
            return error_response(404, "not_found", "no such page")
        if path.startswith(("api/", "docs", "openapi.json")):
            return error_response(404, "not_found", f"no route /{path}")
        index = root / "index.html"
        if not index.is_file():
            message = "the dashboard is not built: run `make web` (or `make run`)"
            return error_response(404, "not_found", message)
        if not path:
            return FileResponse(index)
        try:
            candidate = (root / path).resolve()
            found = candidate.is_relative_to(root) and candidate.is_file()
        except (ValueError, OSError):  # a name too long for the file system, and the like
            return error_response(404, "not_found", "no such page")
        if not found and path.startswith("assets/"):
            # A built file no longer there (an old tab after a new build): not the page in
            # its place, which the browser would run as the script it asked for.
            return error_response(404, "not_found", f"no file /{path}")
        return FileResponse(candidate if found else index)

    app.router.add_api_route(
        "/{path:path}",
        web,
        methods=["GET"],
        include_in_schema=False,
        response_model=None,
        route_class_override=_DashboardRoute,
    )


# The API's sections in /docs, in the order a person reads them; the programs' own routes
# last (routed first, below, for their speed).
OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "auth", "description": "Log in, tokens, your own account"},
    {"name": "users", "description": "People and their roles (admins)"},
    {"name": "pairs", "description": "Country-operator pairs: test numbers, programs, state"},
    {"name": "countries", "description": "Countries and their caps of SMS a minute"},
    {"name": "programs", "description": "The SMS test programs and where they run"},
    {"name": "sessions", "description": "A program's screen session per pair: start, stop, logs"},
    {"name": "dispatch", "description": "Each country's goal and what holds it back"},
    {"name": "metrics", "description": "Sent, success, failures and latency, with trends"},
    {"name": "analytics", "description": "Figures of the seed documents' own routes"},
    {"name": "policy", "description": "Pausing failing routes, probing and resuming them"},
    {"name": "alerts", "description": "Alerts, acknowledgements and Telegram"},
    {"name": "messages", "description": "On-demand SMS, templates, a number's conversation"},
    {"name": "search", "description": "Search over attempts and messages"},
    {"name": "api keys", "description": "API keys: scopes and quotas"},
    {"name": "developer", "description": "How the API is used, per key and endpoint"},
    {"name": "audit", "description": "Who changed what (admins)"},
    {"name": "seed routes", "description": "The seed documents' own sample routes"},
    {"name": "ops", "description": "Health, readiness and Prometheus metrics"},
    {"name": "worker", "description": "Internal: for the programs only (a worker token)"},
]

# Routes are matched in order, and every program's lease, report and heartbeat goes to
# the worker routes: first, they are found in one step (about 10 µs) rather than after
# the others (about 140 µs a request, measured).
ROUTERS = (
    dispatch_views.router,
    auth_views.router,
    auth_views.seed_router,
    apikeys_views.router,
    developer_views.keys_router,
    developer_views.router,
    pairs_views.router,
    pairs_views.seed_router,
    programs_views.router,
    audit_views.router,
    sessions_views.router,
    sessions_views.hosts_router,
    metrics_views.router,
    dispatch_views.goals_router,
    metrics_views.prometheus_router,
    policy_views.router,
    alerts_views.router,
    alerts_views.seed_router,
    messages_views.router,
    messages_views.seed_router,
    search_views.router,
    search_views.users_router,
    search_views.breakers_router,
    live.router,
)


def _add_middleware(app: FastAPI, settings: Settings, services: Services) -> None:
    recorder = RequestRecorder(
        request_log=lambda: services.usage.log,
        worker_seconds=worker_request_seconds(services.metrics.registry),
    )
    app.add_middleware(
        Edge,
        max_bytes=settings.max_body_bytes,
        finished=recorder,
        hosts=settings.allowed_hosts,
    )
    if settings.cors_origins:
        # Outside the edge, so that the edge's own answers (a 413) carry CORS headers
        # too; its preflight answers, which have no body, go without the edge's headers.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            max_age=600,
        )


def create_app(
    settings: Settings | None = None,
    *,
    store: ConfigStore | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or Settings()
    services = build_services(settings, store=store, clock=clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with services.running():
            async with services.dispatcher.on_loop():
                yield

    app = FastAPI(
        title="smsfleet",
        version=__version__,
        summary="Control plane for a fleet of SMS test programs",
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        # Served from the package's own files by mount_api_docs, never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.live_sockets = live.LiveSockets(
        per_user=settings.live.max_sockets_per_user,
        total=settings.live.max_sockets,
        signing_in_per_address=settings.live.max_signing_in_per_address,
        signing_in=settings.live.max_signing_in,
        command_rate=settings.live.commands_per_second,
        command_burst=settings.live.command_burst,
    )
    # The worker routes' own threads (`dispatch.views`), one limiter per app.
    app.state.worker_threads = CapacityLimiter(dispatch_views.WORKER_THREADS)
    app.state.heavy_reads = HeavyReads(
        threads=settings.metrics.read_threads, per_user=settings.metrics.reads_per_user
    )
    # A session's log on another host is an ssh round trip and an agent started there: a
    # few at once in the process, two per user, apart from the pool every route shares.
    app.state.log_reads = HeavyReads(
        threads=sessions_views.LOG_READ_THREADS,
        per_user=sessions_views.LOG_READS_PER_USER,
        named="session log reads of yours",
    )
    _add_middleware(app, settings, services)
    install_error_handlers(app, (*ROUTERS, ops.router))
    for router in ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(ops.router)
    mount_api_docs(app)
    document_bodies(app, dispatch_views.WORKER_BODIES)
    _mount_web(app, settings.web_dir)
    return app
