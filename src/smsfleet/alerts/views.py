"""Alert HTTP routes: `/api/v1/alerts/*`, and the seed documents' `POST /alert`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from smsfleet.alerts import manual
from smsfleet.alerts.models import (
    Alert,
    AlertCounts,
    AlertQuery,
    AlertRaised,
    AlertRequest,
    MessageQueued,
    MessageRequest,
    Notification,
    NotificationStatus,
)
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import AlertsDep, Context, CurrentUser, OperatorActor, OperatorUser

__all__ = ["router", "seed_router"]

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/alerts", tags=["alerts"])
seed_router = APIRouter(route_class=StrictJsonRoute, tags=["seed routes"])


class AlertsOverview(BaseModel):
    counts: AlertCounts
    telegram: NotificationStatus


@router.get("", summary="Open and past alerts, newest first, with filters")
def list_alerts(
    _: CurrentUser, service: AlertsDep, query: Annotated[AlertQuery, Query()]
) -> list[Alert]:
    return service.find(query)


@router.get("/overview", summary="How many alerts fire, and the Telegram outbox")
def overview(_: CurrentUser, service: AlertsDep) -> AlertsOverview:
    return AlertsOverview(counts=service.counts(), telegram=service.outbox_status())


@router.post("/test", status_code=202, summary="Send a message to every Telegram chat now")
def send_test(
    actor: OperatorActor, service: AlertsDep, context: Context, body: MessageRequest
) -> MessageQueued:
    return manual.send_message(
        service=service, text=body.message, actor=actor, audit=context.store.audit
    )


@router.post(
    "/evaluate",
    summary="Run the periodic alert rules now",
    description="One run at a time: a request that comes while the rules run waits for"
    " them and answers that run's changed alerts, and so does one within a second of the"
    " last run's end, rather than running them again.",
)
def evaluate(_: OperatorUser, service: AlertsDep) -> list[Alert]:
    return service.evaluate_on_request()


@router.get("/{alert_id}", summary="One alert")
def get_alert(_: CurrentUser, service: AlertsDep, alert_id: str) -> Alert:
    return service.get(alert_id)


@router.get("/{alert_id}/notifications", summary="The Telegram messages sent for an alert")
def notifications(_: CurrentUser, service: AlertsDep, alert_id: str) -> list[Notification]:
    return service.notifications(alert_id)


@router.post(
    "/{alert_id}/ack",
    summary="Acknowledge: someone is on it, no more repeats (a person's alert is resolved)",
)
def acknowledge(actor: OperatorActor, service: AlertsDep, context: Context, alert_id: str) -> Alert:
    return manual.acknowledge(
        service=service, alert_id=alert_id, actor=actor, audit=context.store.audit
    )


@seed_router.post(
    "/alert", status_code=202, summary="Raise an alert, sent where channels are (seed route)"
)
def seed_alert(user: OperatorUser, service: AlertsDep, body: AlertRequest) -> AlertRaised:
    return manual.raise_alert(
        service=service, message=body.message, actor=user.username, severity=body.severity
    )
