"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import Context

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute, tags=["ops"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the config store answers")
def readyz(services: Context) -> JSONResponse:
    try:
        services.store.ping()
    except Exception as exc:  # any driver error means not ready
        return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, 503)
    supervisor = services.sessions.supervisor
    # With replicas, one leads the supervision; the others stand by.
    if not services.settings.supervise:
        supervision = "off"
    else:
        supervision = "leader" if supervisor.leading else "standby"
    return JSONResponse(
        {"status": "ok", "config_store": services.store.backend, "supervisor": supervision}
    )
