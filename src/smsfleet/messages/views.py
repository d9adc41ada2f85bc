"""Messages routes: `/api/v1/messages/*`, and the seed services' own routes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import RootModel

from smsfleet.auth.models import User
from smsfleet.core.bounds import QueryTime
from smsfleet.core.errors import Unauthorized
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import (
    Context,
    CurrentUser,
    HeavyReadsDep,
    InboundDep,
    OperatorActor,
    OperatorUser,
    SendsDep,
)
from smsfleet.heavy_answers import heavy_json
from smsfleet.messages import templates as templates_service
from smsfleet.messages.inbound import CONVERSATION_PAGE
from smsfleet.messages.models import (
    Conversation,
    Direction,
    InboundMessage,
    Message,
    RedactedConversation,
    RedactedSeedConversation,
    RedactedSend,
    RetryRequest,
    SeedAnswer,
    SeedConversation,
    SeedSendRequest,
    SeedSms,
    Send,
    SendAccepted,
    SendQuery,
    SendRequest,
    SendView,
    Template,
    TemplateCreate,
    TemplateUpdate,
)
from smsfleet.messages.redaction import (
    redacted_conversation,
    redacted_seed_conversation,
    redacted_send,
    sees_codes,
)

__all__ = ["router", "seed_router"]

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/messages", tags=["messages"])
seed_router = APIRouter(route_class=StrictJsonRoute, tags=["seed routes"])


_gateway_bearer = HTTPBearer(auto_error=False, description="SMSFLEET_INBOUND_TOKEN")


def _gateway(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_gateway_bearer)],
) -> None:
    token = context.settings.inbound_token
    if token is None:
        raise Unauthorized("the inbound webhook is off: set SMSFLEET_INBOUND_TOKEN to turn it on")
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise Unauthorized("send the gateway's token: Authorization: Bearer <token>")


@router.post(
    "/inbound",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(_gateway)],
    summary="The gateway's webhook: an SMS received at one of the fleet's numbers",
)
def inbound(body: InboundMessage, inbound: InboundDep) -> Message:
    return inbound.receive(body)


@router.get(
    "/conversations/{phone}",
    summary="The SMS and attempts of a number, in time order, a page at a time from the newest",
)
def conversation(
    phone: str,
    user: CurrentUser,
    inbound: InboundDep,
    limit: Annotated[int, Query(ge=1, le=500)] = CONVERSATION_PAGE,
    before: Annotated[
        QueryTime | None, Query(description="Only items before then: the `older` of a page")
    ] = None,
) -> Conversation | RedactedConversation:
    found = inbound.conversation(phone, limit=limit, before=before)
    return found if sees_codes(user.role) else redacted_conversation(found)


@router.post("/send", status_code=status.HTTP_202_ACCEPTED, summary="Send one SMS now")
def send(body: SendRequest, user: OperatorUser, sends: SendsDep) -> SendAccepted:
    return sends.accepted(sends.create_send(body, actor=user.username))


def _as_seen(
    user: User, context: Context, send: Send, reason: str | None
) -> SendView | RedactedSend:
    """`send` as `user` reads it, with why it waits (`reason`: names no code)."""
    if sees_codes(user.role):
        return SendView.model_validate({**send.model_dump(), "waiting_reason": reason})
    return redacted_send(send, context.store.templates).model_copy(
        update={"waiting_reason": reason}
    )


@router.get(
    "/sends",
    summary="On-demand sends, newest first (their values hidden below the operator role)",
)
def sends(
    user: CurrentUser, context: Context, sends: SendsDep, query: Annotated[SendQuery, Query()]
) -> list[SendView | RedactedSend]:
    found = sends.sends(query)
    reasons = sends.waiting_reasons(found)
    return [_as_seen(user, context, send, reasons.get(send.id)) for send in found]


@router.get(
    "/sends/{send_id}", summary="One on-demand send (its values hidden below the operator role)"
)
def get_send(
    send_id: str, user: CurrentUser, context: Context, sends: SendsDep
) -> SendView | RedactedSend:
    send = sends.send(send_id)
    return _as_seen(user, context, send, sends.waiting_reasons([send]).get(send.id))


@router.post("/sends/{send_id}/cancel", summary="Cancel a pending send: it is never sent")
def cancel(send_id: str, _: OperatorUser, sends: SendsDep) -> Send:
    return sends.cancel(send_id)


@router.post("/sends/{send_id}/retry", summary="Try a failed or cancelled send again")
def retry(
    send_id: str, user: OperatorUser, sends: SendsDep, body: RetryRequest | None = None
) -> Send:
    return sends.retry(send_id, actor=user.username, again=body is not None and body.again)


# Up to 500 templates of 21 bodies: megabytes, made on the heavy reads' threads in the
# reader's turn (a few at once per user), not on the pool the other routes share.
@router.get("/templates", summary="Message templates", response_model=list[Template])
async def templates(user: CurrentUser, reads: HeavyReadsDep, context: Context) -> Response:
    return await heavy_json(
        reads,
        user,
        lambda: RootModel[list[Template]](
            templates_service.list_templates(templates=context.store.templates)
        ),
    )


@router.post("/templates", status_code=status.HTTP_201_CREATED, summary="Add a template")
def create_template(body: TemplateCreate, actor: OperatorActor, context: Context) -> Template:
    return templates_service.create_template(
        templates=context.store.templates,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        data=body,
        max_templates=context.settings.max_templates,
    )


@router.get("/templates/{template_id}", summary="One template")
def get_template(template_id: str, _: CurrentUser, context: Context) -> Template:
    return templates_service.get_template(
        templates=context.store.templates, template_id=template_id
    )


@router.put("/templates/{template_id}", summary="Change a template")
def update_template(
    template_id: str, body: TemplateUpdate, actor: OperatorActor, context: Context
) -> Template:
    return templates_service.update_template(
        templates=context.store.templates,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        template_id=template_id,
        data=body,
    )


@router.delete(
    "/templates/{template_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove one"
)
def delete_template(template_id: str, actor: OperatorActor, context: Context) -> None:
    templates_service.delete_template(
        templates=context.store.templates,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        template_id=template_id,
    )


@seed_router.post("/api/send-sms", summary="Record an SMS sent (seed SMS service)")
def seed_send_sms(
    body: SeedSms, actor: OperatorActor, inbound: InboundDep, context: Context
) -> SeedAnswer:
    inbound.record_seed(body, Direction.outbound, actor=actor, audit=context.store.audit)
    return SeedAnswer(message="SMS sent successfully")


@seed_router.post("/api/receive-sms", summary="Record an SMS received (seed SMS service)")
def seed_receive_sms(
    body: SeedSms, actor: OperatorActor, inbound: InboundDep, context: Context
) -> SeedAnswer:
    inbound.record_seed(body, Direction.inbound, actor=actor, audit=context.store.audit)
    return SeedAnswer(message="SMS received successfully")


@seed_router.get(
    "/api/get-conversation/{phone_number}", summary="A number's messages (seed SMS service)"
)
def seed_conversation(
    phone_number: str, user: CurrentUser, inbound: InboundDep
) -> SeedConversation | RedactedSeedConversation:
    found = inbound.seed_conversation(phone_number)
    return found if sees_codes(user.role) else redacted_seed_conversation(found)


@seed_router.post(
    "/sendsms/",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a code with a template (seed verification service)",
)
def seed_sendsms(body: SeedSendRequest, user: OperatorUser, sends: SendsDep) -> SendAccepted:
    return sends.accepted(sends.seed_send(body, actor=user.username))
