"""Sessions: their specs follow the pairs' program assignments; people start and stop them.

Keyword-only functions taking their stores. Actions only write the desired state
(with who and why) and an event; the supervisor makes it so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction
from smsfleet.auth.models import Role, User
from smsfleet.core.clock import Clock, human_time
from smsfleet.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    ForceRequired,
    NotFound,
    ValidationFailed,
)
from smsfleet.core.records import change_record, event_id
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.models import named_actor
from smsfleet.sessions.backend import RunStatus
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.machine import MAY_RUN, check_transition
from smsfleet.sessions.models import (
    STOPPED_FOR_LENGTH,
    ActionResult,
    BulkActionRequest,
    DesiredState,
    EventKind,
    HostPublic,
    SessionAction,
    SessionEvent,
    SessionPublic,
    SessionSpec,
    SessionState,
    SessionStatus,
    SignsOfLife,
    drains,
    exit_said,
    hang_restart_at,
    silence_said,
)
from smsfleet.sessions.names import session_name
from smsfleet.stores import ConfigStore

SYSTEM_ACTOR = "system"
# sessions (spec, status) -> (CPU %, resident bytes) of those whose program runs
SessionUsage = Callable[
    [Iterable[tuple[SessionSpec, SessionStatus | None]]], dict[str, tuple[float, int]]
]
EventSink = Callable[[SessionEvent], None]

_AUDITED = {
    SessionAction.start: AuditAction.session_started,
    SessionAction.stop: AuditAction.session_stopped,
    SessionAction.restart: AuditAction.session_restarted,
}


def sync_specs(
    *,
    store: ConfigStore,
    clock: Clock,
    pairs: list[Pair] | None = None,
    specs: list[SessionSpec] | None = None,
    statuses: dict[str, SessionStatus] | None = None,
    on_event: EventSink | None = None,
) -> list[SessionSpec]:
    """One spec per program assigned to a pair; specs of dropped assignments go once down.

    A new session of a high-priority pair is wanted running from the start; a
    session's host follows its pair's (the supervisor moves it). A new session is
    a `created` event (stored, and given to `on_event`). Callers
    that already hold the pairs, specs or statuses pass them in. Returns the specs.
    """
    now = clock.now()
    by_name = {spec.name: spec for spec in (store.session_specs.list() if specs is None else specs)}
    assigned: set[str] = set()
    for pair in store.pairs.list() if pairs is None else pairs:
        for program in pair.programs:
            name = session_name(program, pair.key)
            assigned.add(name)
            if name in by_name:
                if by_name[name].host != pair.host:
                    moved = _change_unless_removed(store, name, _moving_to(pair.host))
                    if moved is not None:
                        by_name[name] = moved
                    else:
                        del by_name[name]
                continue
            desired, reason = _first_desire(pair)
            spec = SessionSpec(
                name=name,
                program=program,
                pair=pair.key,
                host=pair.host,
                desired=desired,
                desired_reason=reason,
                desired_actor=SYSTEM_ACTOR,
                desired_at=now,
                created_at=now,
            )
            try:
                store.session_specs.add(spec)
            except Conflict:  # created meanwhile by another request
                by_name[name] = spec
                continue
            by_name[name] = spec
            event = SessionEvent(
                id=event_id(),
                at=now,
                session=name,
                kind=EventKind.created,
                to_state=SessionState.stopped,
                actor=SYSTEM_ACTOR,
                reason=f"{program} assigned to {pair.key}",
            )
            store.session_events.append(event)
            if on_event is not None:
                on_event(event)
    dropped = set(by_name) - assigned
    if dropped and statuses is None:
        statuses = {status.name: status for status in store.session_status.list()}
    for name in dropped:
        status = (statuses or {}).get(name)
        if status is None or status.state in (SessionState.stopped, SessionState.fatal):
            store.session_specs.delete(name)
            store.session_status.delete(name)
            del by_name[name]
        elif by_name[name].desired != DesiredState.stopped:
            stopping = _change_unless_removed(
                store, name, _stopping(SYSTEM_ACTOR, "program unassigned", now)
            )
            if stopping is not None:
                by_name[name] = stopping
            else:
                del by_name[name]
    return sorted(by_name.values(), key=lambda spec: spec.name)


# A new session of a normal pair is created stopped unless its pair was saved with
# `start_sessions` (the dashboard's default): said beside it, so the one who saved the
# pair through the API learns why it does not run and what runs it.
NEVER_STARTED_NOTE = (
    "never started: its pair was saved without starting its sessions; start it to run it"
)


def never_asked(spec: SessionSpec) -> bool:
    """Stopped as every new session of a normal pair is, before anyone acted on it."""
    return (
        spec.desired is DesiredState.stopped
        and spec.desired_actor == SYSTEM_ACTOR
        and spec.desired_reason is None
    )


def _never_ran(status: SessionStatus | None) -> bool:
    """The supervisor has never seen it run, exit or restart."""
    return status is None or (
        status.state is SessionState.stopped
        and status.started_at is None
        and status.last_exit_at is None
        and status.restarts == 0
        and status.requested_restarts == 0
    )


def _first_desire(pair: Pair) -> tuple[DesiredState, str | None]:
    """What a new session of `pair` is wanted to do before anyone acts on it."""
    if pair.is_high_priority:
        return DesiredState.running, "high-priority pair"
    return DesiredState.stopped, None


# What a change of a spec is decided on: it is written only while these are as read, so
# a person's action, the supervisor's adoption and a pair's move never undo each other.
SPEC_DECIDED_ON = frozenset(
    {"host", "desired", "desired_actor", "desired_reason", "desired_at", "generation"}
    | {"restart_requested_at"}
)

SpecChange = Callable[[SessionSpec], dict[str, object]]


def _change_unless_removed(store: ConfigStore, name: str, change: SpecChange) -> SessionSpec | None:
    """The spec after `change`, decided on it as it is (`change_record`); None when it
    was removed meanwhile (its pair deleted)."""

    def read() -> SessionSpec:
        spec = store.session_specs.get(name)
        if spec is None:
            raise NotFound(f"session {name!r} does not exist")
        return spec

    try:
        _, after = change_record(
            store.session_specs,
            name,
            change,
            read=read,
            decided_on=SPEC_DECIDED_ON,
            what=f"session {name!r}",
        )
    except NotFound:
        return None
    return after


def _moving_to(host: str) -> SpecChange:
    """A spec follows its pair's host; nothing else of it changes."""
    return lambda spec: {"host": host} if spec.host != host else {}


def _stopping(actor: str, reason: str, now: datetime) -> SpecChange:
    """Wanted stopped, unless it is already."""

    def change(spec: SessionSpec) -> dict[str, object]:
        if spec.desired == DesiredState.stopped:
            return {}
        return _desire(spec, DesiredState.stopped, actor, reason, now)

    return change


def retire_pair_sessions(*, store: ConfigStore, clock: Clock, pair_key: str) -> None:
    """Once a pair is deleted: its sessions that do not run are removed at once; those
    that do are wanted stopped, and removed once the supervisor has stopped them."""
    now = clock.now()
    for spec in store.session_specs.list():
        if spec.pair != pair_key:
            continue
        status = store.session_status.get(spec.name)
        if status is None or status.state in (SessionState.stopped, SessionState.fatal):
            store.session_specs.delete(spec.name)
            store.session_status.delete(spec.name)
        elif spec.desired != DesiredState.stopped:
            reason = f"pair {pair_key} deleted"
            _change_unless_removed(store, spec.name, _stopping(SYSTEM_ACTOR, reason, now))


def start_pair_sessions_afresh(*, store: ConfigStore, clock: Clock, pair: Pair) -> None:
    """For a pair just created: a session of the same name left by a deleted pair of the
    same key (still stopping) takes the new pair's wishes, not the old ones."""
    now = clock.now()
    desired, reason = _first_desire(pair)
    renewed = {"host": pair.host, "restart_requested_at": None, "created_at": now}

    def renew(leftover: SessionSpec) -> dict[str, object]:
        return {**_desire(leftover, desired, SYSTEM_ACTOR, reason, now), **renewed}

    for program in pair.programs:
        name = session_name(program, pair.key)
        if store.session_specs.get(name) is not None:
            _change_unless_removed(store, name, renew)


def _desire(
    spec: SessionSpec, desired: DesiredState, actor: str, reason: str | None, now: datetime
) -> dict[str, object]:
    """The changes of a spec now wanted `desired`: someone acted (a new generation)."""
    return {
        "desired": desired,
        "desired_actor": actor,
        "desired_reason": reason,
        "desired_at": now,
        "generation": spec.generation + 1,
    }


def _public(
    spec: SessionSpec,
    status: SessionStatus | None,
    pair: Pair | None,
    now: datetime,
    usage: dict[str, tuple[float, int]],
    signs: SignsOfLife | None,
    halted: bool = False,
) -> SessionPublic:
    state = status.state if status else SessionState.stopped
    alive = state in MAY_RUN
    started_at = status.started_at if status and alive else None
    heartbeat = signs.heartbeats.get(spec.name) if signs else None
    restart_at = (
        hang_restart_at(state, started_at, heartbeat, now, signs.hang_timeout) if signs else None
    )
    pid = status.pid if status and alive else None
    cpu_memory = usage.get(spec.name) if alive else None
    exit_code = status.last_exit_code if status and not alive else None
    return SessionPublic(
        name=spec.name,
        program=spec.program,
        pair=spec.pair,
        country=pair.country if pair else spec.pair[:2],
        host=spec.host,
        desired=spec.desired,
        desired_reason=spec.desired_reason,
        desired_actor=spec.desired_actor,
        state=state,
        pid=pid,
        started_at=started_at,
        uptime_seconds=(now - started_at).total_seconds() if started_at else None,
        restarts=status.restarts if status else 0,
        requested_restarts=status.requested_restarts if status else 0,
        # A run alive has not exited: the code kept is an earlier run's (a kill -9).
        last_exit_code=exit_code,
        last_exit=_exit_told(status) if status and not alive and status.last_exit_at else None,
        last_exit_at=status.last_exit_at if status else None,
        # While it stops, the reason kept is this stop's, not the earlier run's.
        previous_exit=(
            _exit_told(status, with_reason=state is not SessionState.stopping)
            if status and alive and status.last_exit_at
            else None
        ),
        last_heartbeat=heartbeat,
        hang_restart_at=restart_at,
        is_high_priority=bool(pair and pair.is_high_priority),
        cpu_percent=cpu_memory[0] if cpu_memory else None,
        memory_bytes=cpu_memory[1] if cpu_memory else None,
        retry_at=status.backoff_until if status and state is SessionState.backoff else None,
        note=_note(spec, pair, status, now, heartbeat, restart_at, halted),
    )


def _exit_told(status: SessionStatus, *, with_reason: bool = True) -> str:
    """How its last run ended, and why, when the supervisor stopped it: `killed by signal 9
    (SIGKILL) when stopped (no heartbeat)`, not as if someone else had killed it."""
    # No code kept: its runner ended without recording the program's end (killed).
    said = exit_said(status.last_exit_code, status.last_exit_code is not None)
    if status.stopped_for is None or not with_reason:
        return said
    return f"{said} when stopped ({status.stopped_for})"


def _names_operator(asked: str, pair_key: str, pair: Pair | None) -> bool:
    """`asked` names the pair `pair_key`: its key, slug or operator as shown, in any case."""
    names = {pair_key, pair_key.partition("_")[2], *([pair.operator] if pair else [])}
    return asked.casefold() in {name.casefold() for name in names}


def list_sessions(
    *,
    store: ConfigStore,
    clock: Clock,
    stats: SessionUsage | None = None,
    country: str | None = None,
    operator: str | None = None,
    program: str | None = None,
    state: SessionState | None = None,
    host: str | None = None,
    signs: SignsOfLife | None = None,
) -> list[SessionPublic]:
    """The sessions the filters select; `signs`: their last signs of life, for the
    heartbeats' times and whether they are overdue."""
    statuses = {status.name: status for status in store.session_status.list()}
    pairs = {pair.key: pair for pair in store.pairs.list()}
    now = clock.now()
    chosen = [
        spec
        for spec in store.session_specs.list()
        if (not country or spec.pair[:2] == country.upper())
        and (not operator or _names_operator(operator, spec.pair, pairs.get(spec.pair)))
        and (not program or spec.program == program)
        and (not host or spec.host == host)
    ]
    usage = stats((spec, statuses.get(spec.name)) for spec in chosen) if stats else {}
    halted = {country.code for country in store.countries.list() if country.halted}
    views = [
        _public(
            s,
            statuses.get(s.name),
            pair := pairs.get(s.pair),
            now,
            usage,
            signs,
            halted=pair is not None and pair.country in halted,
        )
        for s in chosen
    ]
    return [view for view in views if not state or view.state == state]


def check_exists(*, store: ConfigStore, name: str) -> None:
    """NotFound unless `name` is a session (has a spec): a deleted one's log is no
    longer anyone's to read, through the API or the live socket."""
    if store.session_specs.get(name) is None:
        raise NotFound(f"session {name!r} does not exist")


def _spec(store: ConfigStore, clock: Clock, name: str) -> SessionSpec:
    """The spec of `name`, created now if its program was just assigned to its pair."""
    spec = store.session_specs.get(name)
    if spec is None:
        spec = next((s for s in sync_specs(store=store, clock=clock) if s.name == name), None)
    if spec is None:
        raise NotFound(f"session {name!r} does not exist")
    return spec


def get_session(
    *,
    store: ConfigStore,
    clock: Clock,
    name: str,
    stats: SessionUsage | None = None,
    signs: SignsOfLife | None = None,
) -> SessionPublic:
    spec = _spec(store, clock, name)
    status = store.session_status.get(name)
    pair = store.pairs.get(spec.pair)
    usage = stats([(spec, status)]) if stats else {}
    country = store.countries.get(pair.country) if pair is not None else None
    halted = country is not None and country.halted
    return _public(spec, status, pair, clock.now(), usage, signs, halted=halted)


def act(
    *,
    store: ConfigStore,
    clock: Clock,
    actor: User | Actor,
    name: str,
    action: SessionAction,
    reason: str | None = None,
    force: bool = False,
    on_event: EventSink | None = None,
) -> ActionResult:
    """Write what a person asked for, audited; a start of a running session, or a restart
    asked again before it is carried out, changes nothing."""
    spec = _spec(store, clock, name)
    pair = store.pairs.get(spec.pair)
    status = store.session_status.get(name)
    state = status.state if status else SessionState.stopped
    now = clock.now()
    kind: EventKind | None = None
    interrupts_high_priority = False

    # Decided again on the spec as it is at each try (`change_record`): another action
    # made meanwhile (a restart asked, a stop) is kept, and this one decided on it.
    def change(spec: SessionSpec) -> dict[str, object]:
        nonlocal kind, interrupts_high_priority, pair
        kind = None
        # Read after the spec, at each try: a marking written before this read is seen
        # here; one written after it either finds this action written (and starts what it
        # stopped) or is seen by the look after the write (`_undone_if_marked_meanwhile`).
        pair = store.pairs.get(spec.pair)
        # A stop or a restart both end a high-priority pair's running program for a while.
        interrupts_high_priority = (
            action != SessionAction.start
            and pair is not None
            and pair.is_high_priority
            and spec.desired == DesiredState.running
        )
        if interrupts_high_priority:
            if not actor.role.allows(Role.admin):
                raise Forbidden(f"only an admin may {action} {name}: its pair is high priority")
            if not force:
                raise ForceRequired(f"{name} belongs to a high-priority pair: repeat with force")
        # Stopped by an admin: started again, it runs until an admin stops it once more.
        commits_high_priority = (
            action != SessionAction.stop
            and pair is not None
            and pair.is_high_priority
            and spec.desired == DesiredState.stopped
        )
        if commits_high_priority and not actor.role.allows(Role.admin):
            raise Forbidden(
                f"only an admin may {action} {name}: its pair is high priority, and only an"
                " admin can stop it again"
            )
        if (
            action == SessionAction.stop
            and pair is not None
            and pair.is_high_priority
            and not actor.role.allows(Role.admin)
        ):
            # Stopped already (by an admin, or by a stop being undone as the pair was
            # marked): a stop asked again is not an operator's either.
            raise Forbidden(f"only an admin may {action} {name}: its pair is high priority")
        if action == SessionAction.start:
            if spec.desired == DesiredState.running and state not in (
                SessionState.fatal,
                SessionState.backoff,
            ):
                return {}
            kind = EventKind.start_requested
            return _desire(spec, DesiredState.running, actor.username, reason, now)
        if action == SessionAction.stop:
            kind = EventKind.stop_requested
            return _desire(spec, DesiredState.stopped, actor.username, reason, now)
        pending = status is not None and spec.restart_asked_since(status.started_at)
        if spec.desired == DesiredState.running and pending:  # clicked again: one restart
            return {}
        kind = EventKind.restart_requested
        changes = _desire(spec, DesiredState.running, actor.username, reason, now)
        return {**changes, "restart_requested_at": now}

    with audit_service.refusals_recorded(
        store.audit, clock, actor, AuditAction.session_refused, name, record_as_was=spec
    ):
        spec, updated = change_record(
            store.session_specs,
            name,
            change,
            read=lambda: _spec(store, clock, name),
            decided_on=SPEC_DECIDED_ON,
            what=f"session {name!r}",
        )
        if kind is not None and not interrupts_high_priority:
            _undone_if_marked_meanwhile(
                store, actor, action, spec, updated, read=lambda: _spec(store, clock, name)
            )
    if kind is None:  # asked already: nothing to write
        return _result(name, state, updated.desired, pair)
    event = SessionEvent(
        id=event_id(),
        at=now,
        session=name,
        kind=kind,
        from_state=state,
        actor=actor.username,
        reason=reason,
        details={"force": force} if force else {},
    )
    store.session_events.append(event)
    audit_service.record(
        audit=store.audit,
        clock=clock,
        actor=audit_service.actor_of(actor),
        action=_AUDITED[action],
        target=name,
        before=spec,
        after=updated,
        forced=interrupts_high_priority,
        reason=reason,
    )
    if on_event is not None:
        on_event(event)
    return _result(name, state, updated.desired, pair)


def _undone_if_marked_meanwhile(
    store: ConfigStore,
    actor: User | Actor,
    action: SessionAction,
    before: SessionSpec,
    after: SessionSpec,
    *,
    read: Callable[[], SessionSpec],
) -> None:
    """A stop or restart decided on its pair unmarked, by someone who may not end a
    high-priority pair's program, while an admin marked the pair: the marking, which
    starts its stopped sessions, may have read this one still running. Looked at after
    writing, as the marking looks at the sessions after it, so one of the two sees the
    other: the action is undone and refused, as it would have been a moment later."""
    if (
        action == SessionAction.start
        or before.desired != DesiredState.running
        or actor.role.allows(Role.admin)
    ):
        return
    pair = store.pairs.get(before.pair)
    if pair is None or not pair.is_high_priority:
        return

    def undo(spec: SessionSpec) -> dict[str, object]:
        if spec.generation != after.generation:
            return {}  # someone acted since (an admin's stop, the marking's start): it stands
        return {
            **before.model_dump(include=set(SPEC_DECIDED_ON - {"host", "generation"})),
            "generation": spec.generation + 1,  # someone acted: the supervisor looks again
        }

    seen, undone = change_record(
        store.session_specs,
        before.name,
        undo,
        read=read,
        decided_on=SPEC_DECIDED_ON,
        what=f"session {before.name!r}",
    )
    outcome = "it is undone" if undone != seen else "what came after it stands"
    raise Forbidden(
        f"only an admin may {action} {before.name}: its pair was marked high priority as"
        f" the {action} was written, and {outcome}"
    )


def _result(
    name: str, state: SessionState, desired: DesiredState, pair: Pair | None
) -> ActionResult:
    """What an action left, and why a session wanted running will not run yet."""
    note = _held_note(desired, pair)
    return ActionResult(name=name, ok=True, state=state, desired=desired, note=note)


def _held_note(desired: DesiredState, pair: Pair | None) -> str | None:
    """Why a session wanted running does not run: its pair is paused or disabled, or has no
    test phone number. What an action answers and a listing shows beside the session."""
    if desired is not DesiredState.running or pair is None:
        return None
    if not pair.state.runs_sessions:
        return f"its {pair.runs_no_sessions()}; it runs when the pair does again"
    if not pair.phone_numbers:
        return f"pair {pair.key} has no test phone number: it sends nothing until one is added"
    return None


def _note(
    spec: SessionSpec,
    pair: Pair | None,
    status: SessionStatus | None,
    now: datetime,
    heartbeat: datetime | None,
    restart_at: datetime | None,
    halted: bool = False,
) -> str | None:
    """What a listing shows beside a session (the CLI's NOTE, the dashboard's cell): that
    the supervisor gave up on it, why it does not run, that its heartbeats are overdue,
    that its pair is only probed, or who stopped it, when and why."""
    desired = spec.desired
    if status is not None and status.state is SessionState.fatal:
        return f"gave up after {status.quick_failures} quick failures: start it again"
    if (
        status is not None
        and status.state is SessionState.stopping
        and pair is not None
        and drains(desired, pair)
    ):
        return "stops once its SMS in flight have their outcomes: its pair was paused by the policy"
    if (held := _held_note(desired, pair)) is not None:
        return held
    if (
        desired is DesiredState.running
        and status is not None
        and status.state is SessionState.stopping
    ):
        # A hang, a restart asked for, its program changed: its events say which.
        return "stopping, to start again"
    if heartbeat is not None and restart_at is not None:
        return silence_said(heartbeat, restart_at, now)
    if halted and pair is not None and status is not None and status.state in MAY_RUN:
        return (
            f"its country {pair.country} is halted (cap 0): it runs but is granted no send"
            " until the cap is raised"
        )
    if desired == DesiredState.running and pair is not None and pair.state is PairState.probing:
        return "pair probed after a pause: at most one send per probe interval"
    stopped = status is None or status.state is SessionState.stopped
    if (
        desired is DesiredState.stopped
        and stopped
        and spec.desired_actor not in (None, SYSTEM_ACTOR)
    ):
        when = f" at {human_time(spec.desired_at, now=now)}" if spec.desired_at else ""
        why = f": {spec.desired_reason}" if spec.desired_reason else ""
        return f"stopped by {named_actor(spec.desired_actor or '')}{when}{why}"
    if desired is DesiredState.stopped and never_asked(spec) and _never_ran(status):
        return NEVER_STARTED_NOTE
    return None


def bulk_act(
    *,
    store: ConfigStore,
    clock: Clock,
    actor: User | Actor,
    request: BulkActionRequest,
    on_event: EventSink | None = None,
) -> list[ActionResult]:
    """Apply one action to every session matching the filters; one result per session.

    A session `act` refuses (a high-priority pair's, stopped or restarted without an
    admin's force) is left as it is, its result saying why; the others are acted on. A
    restart restarts those wanted running: one stopped on purpose stays stopped, as its
    result says (a restart of it by its name starts it)."""
    if not (request.all or request.country or request.operator or request.program):
        raise ValidationFailed("name a country, operator or program, or set all=true")
    targets = list_sessions(
        store=store,
        clock=clock,
        country=request.country,
        operator=request.operator,
        program=request.program,
    )
    filters = {"country": request.country, "operator": request.operator, "program": request.program}
    named = [f"{name} {value!r}" for name, value in filters.items() if value]
    if not targets and named:
        # Said, so that a stop by a name that matches nothing is not taken for one done.
        raise NotFound(f"no session matches {', '.join(named)}")
    results = []
    for session in targets:
        if request.action is SessionAction.restart and session.desired is DesiredState.stopped:
            kept = "stopped on purpose: not restarted; start it to run it"
            results.append(
                ActionResult(name=session.name, ok=False, state=session.state, error=kept)
            )
            continue
        try:
            results.append(
                act(
                    store=store,
                    clock=clock,
                    actor=actor,
                    name=session.name,
                    action=request.action,
                    reason=request.reason,
                    force=request.force,
                    on_event=on_event,
                )
            )
        except DomainError as exc:
            results.append(
                ActionResult(name=session.name, ok=False, state=session.state, error=exc.message)
            )
    return results


def list_hosts(*, store: ConfigStore, hosts: Hosts) -> list[HostPublic]:
    """Every host of the inventory, with what its last listing found and its sessions."""
    specs = store.session_specs.list()
    statuses = {status.name: status for status in store.session_status.list()}
    live = (SessionState.starting, SessionState.running, SessionState.stopping)
    # A host left out of the inventory while pairs still name it is shown, so it is seen.
    names = [*hosts.names, *sorted({spec.host for spec in specs} - set(hosts.names))]
    found = []
    for name in names:
        placed = [spec for spec in specs if spec.host == name]
        health = hosts.health(name)
        running = [s for s in placed if (st := statuses.get(s.name)) and st.state in live]
        found.append(
            HostPublic(
                name=name,
                address=hosts.address(name) if name in hosts.names else "not in the inventory",
                reachable=health.reachable if health else None,
                checked_at=health.checked_at if health else None,
                error=health.error if health else None,
                sessions=len(placed),
                running=len(running),
            )
        )
    return found


def recent_events(
    *, store: ConfigStore, name: str | None, limit: int, role: Role
) -> list[SessionEvent]:
    """The newest events, as `role` reads them (`as_seen_by`)."""
    if name is None:
        events = store.session_events.recent(limit=limit)
    else:
        events = store.session_events.recent(limit=limit, session=name)
    return [as_seen_by(event, role) for event in events]


VIEWERS_START_FAILED = "the start failed: operators see why"


def hides_reason(kind: str, role: Role) -> bool:
    """Whether `role` reads an event of `kind` without its reason. Below operator, a failed
    start says only that it failed: its reason is the raw error of this host or an SSH
    host (paths, commands, an agent's answer), which viewers are not shown, as they are
    not in a session's log or the hosts'."""
    return kind == EventKind.start_failed and not role.allows(Role.operator)


def as_seen_by(event: SessionEvent, role: Role) -> SessionEvent:
    """An event as `role` reads it (`hides_reason`)."""
    if not hides_reason(event.kind, role):
        return event
    return event.model_copy(update={"reason": VIEWERS_START_FAILED})


def record_stopped(
    *,
    store: ConfigStore,
    clock: Clock,
    ended: Mapping[str, RunStatus | None],
    actor: str,
    reason: str,
    began: datetime,
) -> None:
    """Sessions stopped with no supervisor running (the demo stopping its fleet as it
    ends), each with how its run ended as its runner recorded it (None: not recorded):
    their status says stopped, with the events, so that the next supervisor starts them
    afresh rather than finding them crashed and counting a restart. `began`: when their
    stop began (their `stopping` events)."""
    now = clock.now()
    for name, run in ended.items():
        status = store.session_status.get(name)
        if status is None or status.state not in MAY_RUN:
            continue
        steps = [SessionState.stopping] if status.state != SessionState.stopping else []
        current = status.state
        for target in [*steps, SessionState.stopped]:
            check_transition(current, target)
            kind = EventKind.stopping if target is SessionState.stopping else EventKind.stopped
            event = SessionEvent(
                id=event_id(),
                at=began if target is SessionState.stopping else now,
                session=name,
                kind=kind,
                from_state=current,
                to_state=target,
                actor=actor,
                reason=reason,
            )
            store.session_events.append(event)
            current = target
        stopped = {
            "state": SessionState.stopped,
            "pid": None,
            # Ended by this stop: an earlier run's exit code (a kill -9) is not this one's.
            "last_exit_code": run.returncode if run is not None else None,
            "last_exit_at": run.ended_at if run is not None and run.ended_at else now,
            "stopped_for": reason[:STOPPED_FOR_LENGTH],
            "updated_at": now,
        }
        store.session_status.replace(status.model_copy(update=stopped))
