"""Metrics HTTP routes: `/api/v1/metrics/*` (any signed-in user) and `/metrics`.

The `/api/v1/metrics/*` reads run, and serialize their answer, on the heavy reads' own
few threads (`core.heavy_reads`), not on the pool every sync route shares; each holds its
user's place there until its answer is sent."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from smsfleet.auth.models import User
from smsfleet.core.heavy_reads import HeavyReads, Place
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import CurrentUser, HeavyReadsDep, MetricsDep
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


@dataclass(frozen=True)
class _Made:
    """A heavy read's answer as its thread made it: the body, and how it is sent."""

    content: bytes
    media_type: str
    headers: Mapping[str, str] | None = None


class _Answer(Response):
    """A heavy read's answer, holding its user's place until it is sent: a reader that
    does not read holds its places, so one user pins at most their share of answers."""

    def __init__(self, made: _Made, place: Place) -> None:
        super().__init__(made.content, media_type=made.media_type, headers=made.headers)
        self._place = place
        # Never sent (the request ended before): its place is freed all the same.
        weakref.finalize(self, place.release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._place.release()


async def _answer(reads: HeavyReads, user: User, make: Callable[[], _Made]) -> Response:
    """The answer `make` gives, made in a heavy reads' thread in `user`'s turn."""
    place = reads.admit(user.username)
    return _Answer(await reads.run(place, make), place)


async def _json(reads: HeavyReads, user: User, read: Callable[[], BaseModel]) -> Response:
    """`read`'s answer as FastAPI would serialize it, made in a heavy reads' thread."""
    return await _answer(
        reads,
        user,
        lambda: _Made(read().model_dump_json(by_alias=True).encode(), "application/json"),
    )


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
    return await _json(
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
    return await _json(
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
    return await _json(reads, user, lambda: service.heatmap(window=window, start=start, end=end))


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
    def make() -> _Made:
        result = service.export(
            format=format, window=window, start=start, end=end, group_by=group_by
        )
        disposition = {"Content-Disposition": f'attachment; filename="{result.filename}"'}
        return _Made(result.content, result.media_type, disposition)

    return await _answer(reads, user, make)


@prometheus_router.get("/metrics", summary="Prometheus exposition", response_class=Response)
async def prometheus_metrics(request: Request, metrics: MetricsDep) -> Response:
    body, content_type = await metrics.exposition.answer(request.headers.get("accept"))
    return Response(body, media_type=content_type)
