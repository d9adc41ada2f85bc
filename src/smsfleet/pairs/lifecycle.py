"""A pair's creation, change and deletion together with what they mean for its sessions.

The one call each pair route makes: the pair is written through the pairs service, and
its sessions follow through the sessions service (a re-created pair's leftover sessions
take its wishes, a deleted pair's are retired, sessions asked for are started).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from smsfleet.audit.models import Actor
from smsfleet.auth.models import User
from smsfleet.core.clock import Clock
from smsfleet.pairs import service
from smsfleet.pairs.models import Pair, PairChange, PairChangeKind, PairCreate, PairUpdate
from smsfleet.sessions import service as sessions_service
from smsfleet.sessions.models import SessionAction, SessionEvent
from smsfleet.sessions.names import session_name
from smsfleet.stores import ConfigStore

__all__ = ["PairSignals", "create", "delete", "update"]


class PairSignals(Protocol):
    """Where a pair's change tells of itself and its sessions: the pair's change and its
    sessions' events, and the supervisor, woken to act on their new wishes now rather
    than at its next tick."""

    def publish_pair_change(self, change: PairChange) -> None: ...

    def publish_session_event(self, event: SessionEvent) -> None: ...

    def wake_supervisor(self) -> None: ...


class NoSignals:
    """The signals a pair's change gives where no control plane runs (a shell): none. Its
    supervisor reads the pair at its next tick and stops or starts its sessions; open
    dashboards show it when they next read the pairs."""

    def publish_pair_change(self, change: PairChange) -> None:
        pass

    def publish_session_event(self, event: SessionEvent) -> None:
        pass

    def wake_supervisor(self) -> None:
        pass


def create(
    *,
    store: ConfigStore,
    clock: Clock,
    actor: User | Actor,
    data: PairCreate,
    hosts: Collection[str],
    max_sessions: int,
    max_pairs: int,
    signals: PairSignals,
) -> Pair:
    """Add a pair; with `data.start_sessions`, its sessions are started as their Start
    buttons would start them."""
    pair = service.create_pair(
        pairs=store.pairs,
        countries=store.countries,
        programs=store.programs,
        clock=clock,
        actor=actor,
        data=data,
        hosts=hosts,
        max_sessions=max_sessions,
        max_pairs=max_pairs,
        audit=store.audit,
    )
    sessions_service.start_pair_sessions_afresh(store=store, clock=clock, pair=pair)
    signals.publish_pair_change(PairChange(key=pair.key, change=PairChangeKind.created))
    if data.start_sessions:
        _start_sessions(
            store, clock, actor, pair, pair.programs, "started with its new pair", signals
        )
    return pair


def update(
    *,
    store: ConfigStore,
    clock: Clock,
    actor: User | Actor,
    key: str,
    data: PairUpdate,
    force: bool,
    hosts: Collection[str],
    max_sessions: int,
    signals: PairSignals,
) -> Pair:
    """Change a pair; with `data.start_sessions`, the sessions of programs it gains start;
    marked high priority, all its sessions do."""
    before = service.get_pair(pairs=store.pairs, key=key)
    pair = service.update_pair(
        pairs=store.pairs,
        programs=store.programs,
        clock=clock,
        actor=actor,
        key=key,
        data=data,
        force=force,
        hosts=hosts,
        max_sessions=max_sessions,
        audit=store.audit,
    )
    signals.publish_pair_change(PairChange(key=key, change=PairChangeKind.updated))
    if data.start_sessions:
        added = [program for program in pair.programs if program not in before.programs]
        _start_sessions(store, clock, actor, pair, added, "started as it joined its pair", signals)
    if pair.is_high_priority and not before.is_high_priority:
        # Marked, its sessions always run: those stopped (by a person) start, by the admin
        # who marked it, as a new pair's high-priority sessions do.
        _start_sessions(
            store, clock, actor, pair, pair.programs, "its pair was marked high priority", signals
        )
    return pair


def delete(
    *,
    store: ConfigStore,
    clock: Clock,
    actor: User | Actor,
    key: str,
    force: bool,
    signals: PairSignals,
) -> None:
    """Delete a pair and retire its sessions (the running ones once they have stopped)."""
    service.delete_pair(
        pairs=store.pairs, actor=actor, key=key, force=force, audit=store.audit, clock=clock
    )
    sessions_service.retire_pair_sessions(store=store, clock=clock, pair_key=key)
    signals.publish_pair_change(PairChange(key=key, change=PairChangeKind.deleted))
    signals.wake_supervisor()


def _start_sessions(
    store: ConfigStore,
    clock: Clock,
    actor: User | Actor,
    pair: Pair,
    programs: list[str],
    reason: str,
    signals: PairSignals,
) -> None:
    for program in programs:
        sessions_service.act(
            store=store,
            clock=clock,
            actor=actor,
            name=session_name(program, pair.key),
            action=SessionAction.start,
            reason=reason,
            on_event=signals.publish_session_event,
        )
    if programs:
        signals.wake_supervisor()
