"""Search routes of the control plane (the gateway): `/api/v1/search/jobs`, and the
search document's own routes over the same jobs (`/api/v1/users/{user_id}/search…`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction
from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Role, User
from smsfleet.core.breakers import BreakerState
from smsfleet.core.errors import Forbidden, NotFound
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import BreakersDep, Context, CurrentActor, CurrentUser, SearchDep
from smsfleet.messages.redaction import sees_codes
from smsfleet.search.access import check_rerun, redacted_job, searchable
from smsfleet.search.models import (
    Job,
    JobCreate,
    JobOwner,
    JobPage,
    JobQuery,
    JobView,
    RedactedJob,
)

__all__ = ["breakers_router", "router", "users_router"]

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/search", tags=["search"])
# The search document's routes: a user's searches under the user, the same jobs; listed
# with the other seed routes too.
users_router = APIRouter(
    route_class=StrictJsonRoute, prefix="/api/v1/users", tags=["search", "seed routes"]
)
breakers_router = APIRouter(
    route_class=StrictJsonRoute, prefix="/api/v1/developer", tags=["developer"]
)


JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A job's id")]
UserId = Annotated[
    str, Path(min_length=1, max_length=64, description="The user (username) the jobs belong to")
]


def _account(user: User) -> JobOwner:
    """The user's account: its name and when it was made (an account deleted and made
    again under its name is another owner, who sees none of the old one's jobs)."""
    return JobOwner(user.username, user.created_at)


def _owner(user: User) -> JobOwner | None:
    """Jobs belong to their owner; an admin sees everyone's."""
    return None if user.role is Role.admin else _account(user)


def _as_seen(user: User, job: Job) -> JobView | RedactedJob:
    return JobView.model_validate(job.model_dump()) if sees_codes(user.role) else redacted_job(job)


@router.post(
    "/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a search job (over attempts only below the operator role)",
)
def create_job(body: JobCreate, user: CurrentUser, gateway: SearchDep) -> JobView | RedactedJob:
    return _as_seen(user, gateway.create_job(searchable(body, user.role), owner=_account(user)))


@router.get("/jobs", summary="Search jobs, newest first, with filters and paging")
def list_jobs(
    user: CurrentUser, gateway: SearchDep, query: Annotated[JobQuery, Query()]
) -> JobPage:
    return gateway.jobs(query, owner=_owner(user))


@router.get("/jobs/{job_id}", summary="One search job, with its matches once done")
def get_job(job_id: JobId, user: CurrentUser, gateway: SearchDep) -> JobView | RedactedJob:
    return _as_seen(user, gateway.job(job_id, owner=_owner(user)))


@router.post("/jobs/{job_id}/cancel", summary="Cancel a queued or running job")
def cancel_job(job_id: JobId, user: CurrentUser, gateway: SearchDep) -> JobView | RedactedJob:
    return _as_seen(user, gateway.cancel(job_id, owner=_owner(user)))


@router.post("/jobs/{job_id}/retry", summary="Run a failed or cancelled job again")
def retry_job(
    job_id: JobId, user: CurrentUser, actor: CurrentActor, gateway: SearchDep, context: Context
) -> JobView | RedactedJob:
    job = gateway.job(job_id, owner=_owner(user))
    check_rerun(job, user.role)
    if job.owner != user.username:
        # An admin's retry of another's job: its owner reads what it finds, so it is held to
        # the owner's role now (one lowered since to viewer searches no SMS text again).
        try:
            owner = auth_service.get_user(users=context.store.users, username=job.owner)
        except NotFound:
            pass  # gone: only admins read it now
        else:
            check_rerun(job, owner.role, owner=job.owner)
    retried = gateway.retry(job_id, owner=_owner(user))
    if job.owner != user.username:
        _audit_run_as(context, actor, retried, "retried")
    return _as_seen(user, retried)


def _audit_run_as(context: Context, actor: Actor, job: Job, how: str) -> None:
    """An admin's job run as another user is in the audit log: its owner reads what it
    finds, and did not ask for it."""
    audit_service.record(
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        action=AuditAction.search_run_as,
        target=job.id,
        before=None,
        after=job,
        reason=f"{how} as {job.owner}",
    )


@router.get(
    "/jobs/{job_id}/details",
    summary="One search job in full, with its matches once done",
    tags=["seed routes"],  # and the router's
)
def job_details(job_id: JobId, user: CurrentUser, gateway: SearchDep) -> JobView | RedactedJob:
    return _as_seen(user, gateway.job(job_id, owner=_owner(user)))


def _search_owner(user_id: UserId, user: CurrentUser, context: Context) -> User:
    """Whose jobs the caller reaches as `user_id`: their own, or anyone's for an admin
    (the account of that name now, not an earlier one's).

    A dependency, so a refusal comes before the body is looked at."""
    if user_id == user.username:
        return user
    if user.role is not Role.admin:
        raise Forbidden(f"{user.username!r} may search as {user.username!r} only, not {user_id!r}")
    return auth_service.get_user(users=context.store.users, username=user_id)


SearchOwner = Annotated[User, Depends(_search_owner)]


@users_router.post(
    "/{user_id}/search",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a search job as the user (their own, or anyone's for an admin)",
)
def create_user_search(
    body: JobCreate,
    user: CurrentUser,
    actor: CurrentActor,
    owner: SearchOwner,
    gateway: SearchDep,
    context: Context,
) -> JobView | RedactedJob:
    # The owner reads the job, its match count too: what it searches is the owner's to.
    other = None if owner.username == user.username else owner.username
    job = gateway.create_job(searchable(body, owner.role, owner=other), owner=_account(owner))
    if other is not None:
        _audit_run_as(context, actor, job, "started")
    return _as_seen(user, job)


@users_router.get(
    "/{user_id}/search/{job_id}",
    summary="One of the user's search jobs, with its matches once done",
)
def get_user_search(
    job_id: JobId, user: CurrentUser, owner: SearchOwner, gateway: SearchDep
) -> JobView | RedactedJob:
    return _as_seen(user, gateway.job(job_id, owner=_account(owner)))


@breakers_router.get("/breakers", summary="Circuit breakers of the outside services")
def breakers(_: CurrentUser, registry: BreakersDep) -> list[BreakerState]:
    return registry.states()
