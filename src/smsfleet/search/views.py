"""Search routes of the control plane (the gateway): `/api/v1/search/jobs`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from smsfleet.auth.models import Role, User
from smsfleet.core.breakers import Breakers, BreakerState
from smsfleet.deps import CurrentUser
from smsfleet.search.gateway import SearchGateway
from smsfleet.search.models import Job, JobCreate, JobPage, JobQuery

__all__ = ["breakers_router", "router"]

router = APIRouter(prefix="/api/v1/search", tags=["search"])
breakers_router = APIRouter(prefix="/api/v1/developer", tags=["developer"])


def _gateway(request: Request) -> SearchGateway:
    gateway: SearchGateway = request.app.state.search
    return gateway


GatewayDep = Annotated[SearchGateway, Depends(_gateway)]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A job's id")]


def _owner(user: User) -> str | None:
    """Jobs belong to their owner; an admin sees everyone's."""
    return None if user.role is Role.admin else user.username


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED, summary="Start a search job")
def create_job(body: JobCreate, user: CurrentUser, gateway: GatewayDep) -> Job:
    return gateway.create_job(body, owner=user.username)


@router.get("/jobs", summary="Search jobs, newest first, with filters and paging")
def list_jobs(
    user: CurrentUser, gateway: GatewayDep, query: Annotated[JobQuery, Query()]
) -> JobPage:
    return gateway.jobs(query, owner=_owner(user))


@router.get("/jobs/{job_id}", summary="One search job, with its matches once done")
def get_job(job_id: JobId, user: CurrentUser, gateway: GatewayDep) -> Job:
    return gateway.job(job_id, owner=_owner(user))


@router.post("/jobs/{job_id}/cancel", summary="Cancel a queued or running job")
def cancel_job(job_id: JobId, user: CurrentUser, gateway: GatewayDep) -> Job:
    return gateway.cancel(job_id, owner=_owner(user))


@router.post("/jobs/{job_id}/retry", summary="Run a failed or cancelled job again")
def retry_job(job_id: JobId, user: CurrentUser, gateway: GatewayDep) -> Job:
    return gateway.retry(job_id, owner=_owner(user))


@breakers_router.get("/breakers", summary="Circuit breakers of the outside services")
def breakers(_: CurrentUser, request: Request) -> list[BreakerState]:
    registry: Breakers = request.app.state.breakers
    return registry.states()
