"""What every view needs, as `Annotated` dependency aliases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Role, User
from smsfleet.auth.service import TokenPolicy
from smsfleet.auth.throttle import LoginThrottle
from smsfleet.core.clock import Clock
from smsfleet.core.errors import Unauthorized
from smsfleet.core.events import EventBus
from smsfleet.core.settings import Settings
from smsfleet.sessions.models import SessionEvent
from smsfleet.sessions.runtime import SessionRuntime
from smsfleet.sessions.service import ProcessStats
from smsfleet.stores import ConfigStore


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    store: ConfigStore
    clock: Clock
    tokens: TokenPolicy
    login_throttle: LoginThrottle
    bus: EventBus
    sessions: SessionRuntime

    @property
    def process_stats(self) -> ProcessStats:
        return self.sessions.stats.usage

    def publish_session_event(self, event: SessionEvent) -> None:
        self.bus.publish("sessions", event)

    def wake_supervisor(self) -> None:
        self.sessions.supervisor.wake()

    def session_logs(self, name: str, lines: int) -> list[str]:
        return self.sessions.backend.tail(name, lines)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]

_bearer = HTTPBearer(auto_error=False, description="JWT access token from /api/v1/auth/login")


def get_current_user(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized("authentication required: send Authorization: Bearer <token>")
    return auth_service.user_for_access_token(
        users=context.store.users,
        policy=context.tokens,
        clock=context.clock,
        token=credentials.credentials,
    )


CurrentUser = Annotated[User, Depends(get_current_user)]


def _role_required(role: Role) -> Callable[[User], User]:
    def dependency(user: CurrentUser) -> User:
        auth_service.require_role(user, role)
        return user

    return dependency


OperatorUser = Annotated[User, Depends(_role_required(Role.operator))]
AdminUser = Annotated[User, Depends(_role_required(Role.admin))]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
