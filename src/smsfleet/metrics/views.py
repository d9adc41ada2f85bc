"""Metrics HTTP routes: `/api/v1/metrics/*` (any signed-in user) and `/metrics`.

The `/api/v1/metrics/*` reads run, and serialize their answer, on the heavy reads' own
few threads (`core.heavy_reads`), not on the pool every sync route shares; each holds its
user's place there until its answer is sent."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import CurrentUser, HeavyReadsDep, MetricsDep
from smsfleet.heavy_answers import Made, heavy_answer, heavy_json
from smsfleet.metrics.models import (
    ExportFormat,
    GroupBy,
    Heatmap,
    Step,
    Summary,
    Timeseries,
    Window,
)
from smsfleet.metrics.service import DEFAULT_STEPS, MAX_POINTS, MetricsService

__all__ = ["prometheus_router", "router"]


router = APIRouter(
    route_class=StrictJsonRoute,
    prefix="/api/v1/metrics",
    tags=["metrics"],
)
prometheus_router = APIRouter(route_class=StrictJsonRoute, tags=["ops"])


def _service(metrics: MetricsDep) -> MetricsService:
    return metrics.service


ServiceDep = Annotated[MetricsService, Depends(_service)]


def _enum(kind: type[Any], description: str) -> Any:
    # Checked by the service (422 with its own message); listed here for the schema.
    return Query(description=description, json_schema_extra={"enum": [m.value for m in kind]})


WindowParam = Annotated[str | None, _enum(Window, "Window ending now (or give start/end)")]
StartParam = Annotated[str | None, Query(description="ISO 8601 start (UTC when no offset)")]
EndParam = Annotated[str | None, Query(description="ISO 8601 end, default now")]
GroupParam = Annotated[str, _enum(GroupBy, "Group by country, pair or program")]
OptionalGroupParam = Annotated[str | None, _enum(GroupBy, "Group by; none sums everything")]
KeyParam = Annotated[str | None, Query(max_length=64, description="Only this group key")]


@router.get(
    "/summary", summary="Counters, success rate and latency per group", response_model=Summary
)
async def summary(
    user: CurrentUser,
    reads: HeavyReadsDep,
    service: ServiceDep,
    window: WindowParam = None,
    start: StartParam = None,
    end: EndParam = None,
    group_by: GroupParam = GroupBy.pair.value,
    key: KeyParam = None,
) -> Response:
    return await heavy_json(
        reads,
        user,
        lambda: service.summary(window=window, start=start, end=end, group_by=group_by, key=key),
    )


@router.get(
    "/timeseries",
    summary="Counters per step, missing steps filled with zeros",
    response_model=Timeseries,
)
async def timeseries(
    user: CurrentUser,
    reads: HeavyReadsDep,
    service: ServiceDep,
    window: WindowParam = None,
    start: StartParam = None,
    end: EndParam = None,
    step: Annotated[
        str | None,
        _enum(
            Step,
            "Step between points; by default the finest of "
            f"{', '.join(DEFAULT_STEPS)} that makes at most {MAX_POINTS} points",
        ),
    ] = None,
    group_by: OptionalGroupParam = None,
    key: KeyParam = None,
) -> Response:
    return await heavy_json(
        reads,
        user,
        lambda: service.timeseries(
            window=window, start=start, end=end, step=step, group_by=group_by, key=key
        ),
    )


@router.get("/heatmap", summary="Success rate per country and hour", response_model=Heatmap)
async def heatmap(
    user: CurrentUser,
    reads: HeavyReadsDep,
    service: ServiceDep,
    window: WindowParam = None,
    start: StartParam = None,
    end: EndParam = None,
) -> Response:
    return await heavy_json(
        reads, user, lambda: service.heatmap(window=window, start=start, end=end)
    )


@router.get(
    "/export",
    summary="The summary as a CSV or JSON download",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def export(
    user: CurrentUser,
    reads: HeavyReadsDep,
    service: ServiceDep,
    format: Annotated[str, _enum(ExportFormat, "csv or json")] = ExportFormat.csv.value,
    window: WindowParam = None,
    start: StartParam = None,
    end: EndParam = None,
    group_by: GroupParam = GroupBy.pair.value,
) -> Response:
    def make() -> Made:
        result = service.export(
            format=format, window=window, start=start, end=end, group_by=group_by
        )
        disposition = {"Content-Disposition": f'attachment; filename="{result.filename}"'}
        return Made(result.content, result.media_type, disposition)

    return await heavy_answer(reads, user, make)


@prometheus_router.get("/metrics", summary="Prometheus exposition", response_class=Response)
async def prometheus_metrics(request: Request, metrics: MetricsDep) -> Response:
    body, content_type = await metrics.exposition.answer(request.headers.get("accept"))
    return Response(body, media_type=content_type)
