"""HTTP for logins, tokens and user management."""

from __future__ import annotations

from fastapi import APIRouter, status

from smsfleet.audit.models import Actor
from smsfleet.auth import service
from smsfleet.auth.models import (
    AUTH_TOPIC,
    AccessToken,
    LoginRequest,
    LoginTokens,
    LogoutRequest,
    RefreshRequest,
    TokenPair,
    TokensRevoked,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import (
    AdminUser,
    ClientAddress,
    Context,
    CurrentActor,
    CurrentUser,
    SigningOutUser,
)
from smsfleet.wiring import Services

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1", tags=["auth"])
seed_router = APIRouter(route_class=StrictJsonRoute, tags=["seed routes"])


def _login(context: Context, body: LoginRequest, address: str) -> LoginTokens:
    return service.login(
        users=context.store.users,
        logins=context.store.logins,
        throttle=context.login_throttle,
        checks=context.password_checks,
        policy=context.tokens,
        clock=context.clock,
        username=body.username,
        password=body.password,
        address=address,
        device_token=body.device_token,
    )


@router.post("/auth/login", summary="Log in and get access and refresh tokens, and a device token")
def login(body: LoginRequest, context: Context, address: ClientAddress) -> LoginTokens:
    return _login(context, body, address)


# The seed documents' answer holds the access token alone: no device token, though one
# from `/api/v1/auth/login` is taken.
@seed_router.post("/login", summary="Log in (seed route): returns the access token")
def seed_login(body: LoginRequest, context: Context, address: ClientAddress) -> AccessToken:
    return AccessToken(access_token=_login(context, body, address).access_token)


@router.post("/auth/refresh", summary="Exchange a refresh token for new tokens")
def refresh(body: RefreshRequest, context: Context) -> TokenPair:
    try:
        return service.refresh(
            users=context.store.users,
            revoked=context.store.revoked_sessions,
            logins=context.store.logins,
            policy=context.tokens,
            clock=context.clock,
            refresh_token=body.refresh_token,
        )
    except service.LoginEnded as ended:  # its live sockets close too
        context.bus.publish(AUTH_TOPIC, ended.revoked)
        raise


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End this login: its refresh token and access tokens are refused from now",
)
def logout(body: LogoutRequest, context: Context) -> None:
    revoked = service.logout(
        revoked=context.store.revoked_sessions,
        logins=context.store.logins,
        policy=context.tokens,
        clock=context.clock,
        refresh_token=body.refresh_token,
    )
    if revoked is not None:
        context.bus.publish(AUTH_TOPIC, revoked)


@router.post(
    "/auth/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out everywhere: every token of yours is refused, every live socket closed",
)
def logout_everywhere(user: SigningOutUser, actor: CurrentActor, context: Context) -> None:
    _revoke_all(context, actor, user.username)


@router.post(
    "/users/{username}/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["users"],
    summary="Log a user out everywhere",
)
def logout_user(username: str, _: AdminUser, actor: CurrentActor, context: Context) -> None:
    _revoke_all(context, actor, username)


def _revoke_all(context: Services, actor: Actor, username: str) -> None:
    revoked = service.revoke_all_tokens(
        users=context.store.users,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        username=username,
    )
    context.bus.publish(AUTH_TOPIC, revoked)


@router.get("/auth/me", summary="The logged-in user")
def me(user: CurrentUser) -> UserPublic:
    return service.public_user(user)


@router.get("/users", summary="List users", tags=["users"])
def list_users(_: AdminUser, context: Context) -> list[UserPublic]:
    return [service.public_user(u) for u in context.store.users.list()]


@router.post("/users", status_code=status.HTTP_201_CREATED, tags=["users"])
def create_user(
    body: UserCreate, _: AdminUser, actor: CurrentActor, context: Context
) -> UserPublic:
    user = service.create_user(
        users=context.store.users,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        data=body,
    )
    return service.public_user(user)


@router.get("/users/{username}", tags=["users"])
def get_user(username: str, _: AdminUser, context: Context) -> UserPublic:
    return service.public_user(service.get_user(users=context.store.users, username=username))


@router.patch("/users/{username}", tags=["users"])
def update_user(
    username: str, body: UserUpdate, _: AdminUser, actor: CurrentActor, context: Context
) -> UserPublic:
    updated = service.update_user(
        users=context.store.users,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        username=username,
        data=body,
    )
    if updated.tokens_revoked:
        context.bus.publish(AUTH_TOPIC, TokensRevoked(username=username))
    return service.public_user(updated.user)


@router.delete("/users/{username}", status_code=status.HTTP_204_NO_CONTENT, tags=["users"])
def delete_user(username: str, _: AdminUser, actor: CurrentActor, context: Context) -> None:
    service.delete_user(
        users=context.store.users,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        username=username,
    )
    context.api_keys.revoke_owned(username, actor=actor)
    context.bus.publish(AUTH_TOPIC, TokensRevoked(username=username))
