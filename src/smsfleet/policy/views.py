"""Policy HTTP routes: `/api/v1/policy/*`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from smsfleet.deps import CurrentUser, OperatorUser
from smsfleet.policy.models import DecisionQuery, EvaluationResult, PolicyDecision, PolicySettings
from smsfleet.policy.runtime import Policy
from smsfleet.policy.service import PolicyService

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])


def _service(request: Request) -> PolicyService:
    policy: Policy = request.app.state.policy
    return policy.service


ServiceDep = Annotated[PolicyService, Depends(_service)]


@router.get("/decisions", summary="The policy's decisions with their figures, newest first")
def decisions(
    _: CurrentUser, service: ServiceDep, query: Annotated[DecisionQuery, Query()]
) -> list[PolicyDecision]:
    return service.decisions(query)


@router.get("/settings", summary="The effective global thresholds and timings")
def settings(_: CurrentUser, service: ServiceDep) -> PolicySettings:
    return service.settings()


@router.post("/evaluate", summary="Evaluate every pair now and carry out the decisions")
def evaluate(_: OperatorUser, service: ServiceDep) -> EvaluationResult:
    return service.evaluate()
