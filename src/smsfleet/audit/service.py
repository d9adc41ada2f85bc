"""The audit log. Keyword-only functions taking their log."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from smsfleet.audit.models import Actor, AuditAction, AuditEvent, AuditNotice
from smsfleet.auth.models import User
from smsfleet.core.bounds import EARLIEST, check_moment
from smsfleet.core.clock import Clock
from smsfleet.core.errors import Forbidden, ValidationFailed
from smsfleet.core.limits import check_window
from smsfleet.core.records import EventKey, EventLog, event_id

MAX_REASON = 512
REFUSALS_LOGGED_EVERY = timedelta(minutes=1)
# Refusals to one person of one target a minute looked through for the same one: more
# kinds than this (keys, reasons) at once are each logged.
_REFUSALS_LOOKED_AT = 20
# An entry's id as `record` makes it (`event_id`), or as a store's column holds one.
_CURSOR_KEY = re.compile(r"[0-9A-Za-z_-]{1,36}")


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
        id=event_id(),
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


@contextmanager
def refusals_recorded(
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: User | Actor,
    action: AuditAction,
    target: str,
    *,
    record_as_was: BaseModel | None,
) -> Iterator[None]:
    """A change refused to `actor` within (`Forbidden`: not for their role) is logged as
    `action` on `target`, as it was, with the refusal as its reason; then raised. The same
    refusal of the same record as it was, to the same person (and key), is logged once a
    minute: one asking again and again would fill the log with it."""
    try:
        yield
    except Forbidden as refusal:
        who, reason = actor_of(actor), str(refusal)[:MAX_REASON]
        logged = audit.recent(
            limit=_REFUSALS_LOOKED_AT,
            since=clock.now() - REFUSALS_LOGGED_EVERY,
            action=action.value,
            target=target,
            actor=who.username,
        )
        was = snapshot(record_as_was)
        if not any(
            (e.reason, e.api_key_id, e.before) == (reason, who.api_key_id, was) for e in logged
        ):
            record(
                audit, clock, who, action, target, before=record_as_was, after=None, reason=reason
            )
        raise


def check_audited_pace(
    audit: EventLog[AuditEvent],
    *,
    action: AuditAction,
    actor: str,
    most: int,
    window: timedelta,
    now: datetime,
    said: str,
) -> None:
    """Refuse one more `action` by `actor` past `most` in `window` (429, `check_window`
    and its `said`), counted on the log's entries of it: kept long after what they record
    is gone (a key revoked, a message deleted)."""
    times = audited_times(audit, action=action, actor=actor, window=window, now=now, most=most)
    check_window(times, most=most, window=window, now=now, said=said)


def audited_times(
    audit: EventLog[AuditEvent],
    *,
    action: AuditAction,
    actor: str,
    window: timedelta,
    now: datetime,
    most: int,
    target: str | None = None,
) -> list[datetime]:
    """When `actor`'s newest `most` entries of `action` (on `target`, when given) within
    `window` before `now` were made, oldest first."""
    on = {"target": target} if target is not None else {}
    entries = audit.recent(
        limit=most, older_than=None, since=now - window, action=action.value, actor=actor, **on
    )
    # As old as the window, one is out of it: as `Retry-After` says.
    return sorted(entry.at for entry in entries if entry.at > now - window)


def cursor_of(event: AuditEvent) -> str:
    """Where the page after `event` starts: its time and id, as one opaque word."""
    millis = (event.at - EARLIEST) // timedelta(milliseconds=1)
    return base64.urlsafe_b64encode(f"{millis}.{event.id}".encode()).decode().rstrip("=")


def key_of(cursor: str) -> EventKey:
    """The entry a cursor of `cursor_of` names; `ValidationFailed` on `before` when it
    is none (not one of `cursor_of`'s, or changed)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        millis, _, key = text.partition(".")
        if not _CURSOR_KEY.fullmatch(key) or not millis.isdigit():
            raise ValueError(cursor)
        return EventKey(at=check_moment(EARLIEST + timedelta(milliseconds=int(millis))), id=key)
    except (ValueError, OverflowError):
        raise ValidationFailed.for_field(
            "before", "not a cursor of this log: give the one the page before named"
        ) from None


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, and where the next (older) page starts: None at the last."""

    events: list[AuditEvent]
    next_before: str | None


def recent(
    *,
    audit: EventLog[AuditEvent],
    limit: int,
    before: str | None = None,
    action: AuditAction | None = None,
    target_kind: str | None = None,
    target: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    """The newest `limit` entries matching every filter given, newest first, made at or
    after `since` and before `until`; with `before` (a page's `next_before`), the newest
    of those older than that page."""
    if since is not None and until is not None and until <= since:
        raise ValidationFailed.for_field(
            "until", "must be later than since, by a millisecond at least (times are kept to it)"
        )
    # Before `until`: older than a first entry of that millisecond could be (ids are
    # never empty).
    bounds = [key_of(before)] if before is not None else []
    if until is not None:
        bounds.append(EventKey(at=until, id=""))
    older_than = min(bounds, default=None)
    filters = {
        "action": action.value if action is not None else None,
        "target_kind": target_kind,
        "target": target,
        "actor": actor,
    }
    found = audit.recent(
        limit=limit + 1,
        older_than=older_than,
        since=since,
        **{k: v for k, v in filters.items() if v is not None},
    )
    events = found[:limit]
    more = len(found) > limit
    return AuditPage(events=events, next_before=cursor_of(events[-1]) if more else None)


class ToldLog:
    """An audit log that tells `tell` of each entry once it is written (the live socket's
    `audit` topic: an open Audit page reloads)."""

    def __init__(self, log: EventLog[AuditEvent], tell: Callable[[AuditNotice], None]) -> None:
        self._log = log
        self._tell = tell

    def append(self, event: AuditEvent) -> None:
        self._log.append(event)
        self._tell(AuditNotice.model_validate(event, from_attributes=True))

    def recent(
        self,
        *,
        limit: int,
        older_than: EventKey | None = None,
        since: datetime | None = None,
        **equals: str,
    ) -> list[AuditEvent]:
        return self._log.recent(limit=limit, older_than=older_than, since=since, **equals)

    def forget_before(self, at: datetime, *, limit: int) -> int:
        return self._log.forget_before(at, limit=limit)
