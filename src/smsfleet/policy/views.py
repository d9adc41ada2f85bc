"""Policy HTTP routes: `/api/v1/policy/*`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import RootModel

from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import CurrentUser, HeavyReadsDep, OperatorUser, PolicyDep
from smsfleet.heavy_answers import heavy_json
from smsfleet.policy.models import (
    DecisionQuery,
    EvaluationResult,
    PairStanding,
    PolicyDecision,
    PolicySettings,
    StandingQuery,
)

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/policy", tags=["policy"])


@router.get("/decisions", summary="The policy's decisions with their figures, newest first")
def decisions(
    _: CurrentUser, service: PolicyDep, query: Annotated[DecisionQuery, Query()]
) -> list[PolicyDecision]:
    return service.decisions(query)


@router.get("/settings", summary="The effective global thresholds and timings")
def settings(_: CurrentUser, service: PolicyDep) -> PolicySettings:
    return service.settings()


@router.post(
    "/evaluate",
    summary="Evaluate every pair now and carry out the decisions",
    description="One evaluation runs at a time: a request that comes while one runs waits"
    " for it and answers its result, and so does one within a second of the last one's end"
    " (its decisions are then already carried out), rather than evaluating again.",
)
def evaluate(_: OperatorUser, service: PolicyDep) -> EvaluationResult:
    return service.evaluate_on_request()


# Each pair's window read and judged: tens of milliseconds of CPU, made on the heavy reads'
# threads in the reader's turn (a few at once per user), so that a flood of them by one
# viewer cannot starve the programs' leases of the process.
@router.get(
    "/standing",
    summary="Where each pair stands with the policy now: what its next look does, or why not",
    response_model=list[PairStanding],
)
async def standing(
    user: CurrentUser,
    service: PolicyDep,
    reads: HeavyReadsDep,
    query: Annotated[StandingQuery, Query()],
) -> Response:
    return await heavy_json(
        reads, user, lambda: RootModel[list[PairStanding]](service.standing(query))
    )
