"""The audit log. Keyword-only functions taking their log."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.auth.models import User
from smsfleet.core.clock import Clock
from smsfleet.core.records import EventLog

MAX_REASON = 512


def snapshot(record: BaseModel | None) -> dict[str, Any] | None:
    """A record as the log keeps it: JSON values only, the same on every backend."""
    return None if record is None else record.model_dump(mode="json")


def actor_of(who: User | Actor) -> Actor:
    """Who acts, as the log names them: a user acting for themselves, with no key."""
    return who if isinstance(who, Actor) else Actor(username=who.username, role=who.role)


def record(
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    action: AuditAction,
    target: str,
    *,
    before: BaseModel | None,
    after: BaseModel | None,
    forced: bool = False,
    reason: str | None = None,
) -> AuditEvent:
    """Appends who did `action` to `target` (named by the action's kind), from `before`
    to `after`."""
    event = AuditEvent(
        id=uuid.uuid4().hex,
        at=clock.now(),
        actor=actor.username,
        actor_role=actor.role,
        api_key_id=actor.api_key_id,
        action=action,
        target_kind=action.target_kind,
        target=target,
        forced=forced,
        reason=reason[:MAX_REASON] if reason else None,
        before=snapshot(before),
        after=snapshot(after),
    )
    audit.append(event)
    return event


def recent(
    *,
    audit: EventLog[AuditEvent],
    limit: int,
    action: AuditAction | None = None,
    target_kind: str | None = None,
    target: str | None = None,
    actor: str | None = None,
) -> list[AuditEvent]:
    """The newest `limit` entries matching every filter given, newest first."""
    filters = {
        "action": action.value if action is not None else None,
        "target_kind": target_kind,
        "target": target,
        "actor": actor,
    }
    return audit.recent(limit=limit, **{k: v for k, v in filters.items() if v is not None})
