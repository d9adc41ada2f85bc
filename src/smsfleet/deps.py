"""What every view needs, as `Annotated` dependency aliases."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from smsfleet.alerts.service import AlertService
from smsfleet.apikeys.models import ApiKey
from smsfleet.apikeys.service import QuotaUsedUp, looks_like_api_key
from smsfleet.audit.models import Actor
from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Role, User
from smsfleet.core.breakers import Breakers
from smsfleet.core.error_reports import tag
from smsfleet.core.errors import Forbidden, Unauthorized
from smsfleet.core.heavy_reads import HeavyReads
from smsfleet.developer.service import UsageService
from smsfleet.dispatch.service import Dispatcher
from smsfleet.messages.inbound import Inbound
from smsfleet.messages.sends import Sends
from smsfleet.metrics.runtime import Metrics
from smsfleet.policy.service import PolicyService
from smsfleet.search.gateway import SearchGateway
from smsfleet.wiring import Services

IPNetwork = IPv4Network | IPv6Network


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """The one getter: every part of the process, built once by the composition root.

    The dependencies that only pick a part or check what is known already are `async`:
    run on the event loop, not handed to the thread pool as a blocking one would be."""
    return services_of(request)


Context = Annotated[Services, Depends(get_services)]


async def _dispatcher(services: Context) -> Dispatcher:
    return services.dispatcher


async def _metrics(services: Context) -> Metrics:
    return services.metrics


async def _policy(services: Context) -> PolicyService:
    return services.policy.service


async def _alerts(services: Context) -> AlertService:
    return services.alerts.service


async def _sends(services: Context) -> Sends:
    return services.messages.sends


async def _inbound(services: Context) -> Inbound:
    return services.messages.inbound


async def _usage(services: Context) -> UsageService:
    return services.usage.service


async def _search(services: Context) -> SearchGateway:
    return services.search


async def _breakers(services: Context) -> Breakers:
    return services.breakers


async def _heavy_reads(request: Request) -> HeavyReads:
    reads: HeavyReads = request.app.state.heavy_reads
    return reads


async def _log_reads(request: Request) -> HeavyReads:
    reads: HeavyReads = request.app.state.log_reads
    return reads


# One alias per feature, for the views.
DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
PolicyDep = Annotated[PolicyService, Depends(_policy)]
AlertsDep = Annotated[AlertService, Depends(_alerts)]
SendsDep = Annotated[Sends, Depends(_sends)]
InboundDep = Annotated[Inbound, Depends(_inbound)]
UsageDep = Annotated[UsageService, Depends(_usage)]
SearchDep = Annotated[SearchGateway, Depends(_search)]
BreakersDep = Annotated[Breakers, Depends(_breakers)]
HeavyReadsDep = Annotated[HeavyReads, Depends(_heavy_reads)]
LogReadsDep = Annotated[HeavyReads, Depends(_log_reads)]

_bearer = HTTPBearer(
    auto_error=False, description="JWT access token from /api/v1/auth/login, or an API key"
)
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key from /api/v1/auth/api-keys"
)


def _principal_of(key: ApiKey) -> str:
    """Who a request with this key was, as the request log reads it."""
    return f"key:{key.id}:{key.owner}"


def _logged_as(request: Request, principal: str, user: User) -> None:
    """Who made the request, for the request log: the principal, and when their account
    was made (an account made again under its name is another owner of its use)."""
    request.state.principal = principal
    request.state.owner_since = user.created_at


def get_current_user(
    request: Request,
    response: Response,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> User:
    """The user a request acts as: by its JWT, or by its API key within the key's scopes;
    a change (a POST, PUT, PATCH or DELETE) spends one of their change budget (429 past it).

    Who it was is left in `request.state.principal` and `owner_since` for the request log.
    """
    user = _authenticated(request, response, context, credentials, api_key)
    # The route's own path, not the request's: `/templates/logout-all` is a template's.
    route = str(getattr(request.scope.get("route"), "path", ""))
    if request.method not in _READS and route != _LOGGING_OUT_EVERYWHERE:
        context.changes.spend(user.username)
    return user


# What reads only spends nothing of a user's change budget, nor logging oneself out
# everywhere (never refused: it ends a stolen login; audited at most 5 times an hour).
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOGGING_OUT_EVERYWHERE = "/api/v1/auth/logout-all"


def _authenticated(
    request: Request,
    response: Response,
    context: Services,
    credentials: HTTPAuthorizationCredentials | None,
    api_key: str | None,
) -> User:
    bearer = credentials.credentials if credentials is not None else None
    if api_key is None and bearer is not None and looks_like_api_key(bearer):
        api_key = bearer
    if api_key is not None:
        try:
            access = context.api_keys.authenticate(api_key)
        except QuotaUsedUp as refused:
            # A refusal is an answer the key got: it counts in the key's use.
            _logged_as(request, _principal_of(refused.key), refused.owner)
            raise
        response.headers.update(access.headers())
        _logged_as(request, _principal_of(access.key), access.user)
        tag(role=access.user.role.value, api_key_id=access.key.id)
        return access.user
    if bearer is None:
        raise Unauthorized(
            "authentication required: send Authorization: Bearer <token> or X-API-Key: <key>"
        )
    user = auth_service.user_for_access_token(
        users=context.store.users,
        revoked=context.store.revoked_sessions,
        policy=context.tokens,
        clock=context.clock,
        token=bearer,
    )
    _logged_as(request, f"user:{user.username}", user)
    tag(role=user.role.value)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def _require(request: Request, role: Role, have: Role) -> None:
    """Refuse a role short of `role`, saying whose it is: a key acts as no more than its
    scope (an admin's `control` key is an operator)."""
    if not have.allows(role):
        by_key = str(getattr(request.state, "principal", "")).startswith("key:")
        who = "this API key acts as" if by_key else "you are"
        raise Forbidden(f"this needs the {role.value} role; {who} {have.value}")


def _role_required(role: Role) -> Callable[[Request, User], Coroutine[Any, Any, User]]:
    async def dependency(request: Request, user: CurrentUser) -> User:
        _require(request, role, user.role)
        return user

    return dependency


def _signed_in(what: str) -> Callable[[Request, User], Coroutine[Any, Any, User]]:
    async def dependency(request: Request, user: CurrentUser) -> User:
        if str(getattr(request.state, "principal", "")).startswith("key:"):
            raise Forbidden(f"API keys cannot {what}: sign in to do this")
        return user

    return dependency


# A leaked key must not be able to mint or revoke keys, nor end its owner's sign-ins (a
# read key would otherwise change something): that takes a person.
SignedInUser = Annotated[User, Depends(_signed_in("manage API keys"))]
SigningOutUser = Annotated[User, Depends(_signed_in("log their owner out everywhere"))]
OperatorUser = Annotated[User, Depends(_role_required(Role.operator))]
AdminUser = Annotated[User, Depends(_role_required(Role.admin))]


async def _acting(request: Request, user: CurrentUser) -> Actor:
    kind, _, rest = str(getattr(request.state, "principal", "")).partition(":")
    key_id = rest.partition(":")[0] if kind == "key" else None
    return Actor(username=user.username, role=user.role, api_key_id=key_id)


async def _interactive_admin(request: Request, actor: Annotated[Actor, Depends(_acting)]) -> Actor:
    # What runs on the hosts is defined by a person: a leaked key, even an admin's, must
    # not be able to change it.
    if actor.via_api_key:
        raise Forbidden(
            "API keys cannot define programs, even an admin's: sign in as an admin to do this"
        )
    _require(request, Role.admin, actor.role)
    return actor


def _role_acting(role: Role) -> Callable[[Request, Actor], Coroutine[Any, Any, Actor]]:
    async def dependency(request: Request, actor: Annotated[Actor, Depends(_acting)]) -> Actor:
        _require(request, role, actor.role)
        return actor

    return dependency


# Who acts, for the audit log: the user, and the API key if one was used.
CurrentActor = Annotated[Actor, Depends(_acting)]
OperatorActor = Annotated[Actor, Depends(_role_acting(Role.operator))]
# An admin signed in with a password (a JWT), never an API key: programs take one.
InteractiveAdmin = Annotated[Actor, Depends(_interactive_admin)]


def forwarded_client(peer: str, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The client's address: the direct peer, or, when the peer is a trusted proxy, the
    nearest address of `X-Forwarded-For` that is not a trusted proxy itself.
    """
    if not trusted or not forwarded_for or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    client = peer
    for hop in reversed(hops):
        try:
            address = str(ip_address(hop))
        except ValueError:
            break  # not an address: the hops before it cannot be told apart from forgeries
        client = address
        if not _within(address, trusted):
            break
    return client


def _within(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in networks)


async def client_address(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    return forwarded_client(
        peer,
        ", ".join(request.headers.getlist("x-forwarded-for")),
        services_of(request).settings.trusted_proxies,
    )


ClientAddress = Annotated[str, Depends(client_address)]
