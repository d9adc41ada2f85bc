"""Programs. Keyword-only functions taking their stores.

A program is what an admin installed: its executable resolves inside the program
directories (`SMSFLEET_PROGRAM_DIRS`), see `rules.check_command`. Every change is audited.
"""

from __future__ import annotations

from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.auth.models import Role
from smsfleet.core.clock import Clock
from smsfleet.core.errors import Conflict, Forbidden, ForceRequired, NotFound
from smsfleet.core.records import EventLog, RecordStore, change_record, stamp_after
from smsfleet.pairs.models import Pair
from smsfleet.programs.models import Program, ProgramCreate, ProgramUpdate
from smsfleet.programs.rules import ProgramRules, check_command

__all__ = [
    "ProgramRules",
    "check_command",
    "create_program",
    "delete_program",
    "get_program",
    "update_program",
]


def get_program(*, programs: RecordStore[Program], name: str) -> Program:
    program = programs.get(name)
    if program is None:
        raise NotFound(f"program {name!r} does not exist")
    return program


def _require_admin(actor: Actor) -> None:
    if actor.via_api_key:
        raise Forbidden("API keys cannot define programs, even an admin's: sign in as an admin")
    if not actor.role.allows(Role.admin):
        raise Forbidden(f"only an admin may define programs; you are {actor.role.value}")


def create_program(
    *,
    programs: RecordStore[Program],
    audit: EventLog[AuditEvent],
    clock: Clock,
    rules: ProgramRules,
    actor: Actor,
    data: ProgramCreate,
) -> Program:
    _require_admin(actor)
    check_command(data.command, rules)
    now = clock.now()
    program = Program(**data.model_dump(), created_at=now, updated_at=now)
    programs.add(program)
    audit_service.record(
        audit=audit,
        clock=clock,
        actor=actor,
        action=AuditAction.program_created,
        target=program.name,
        before=None,
        after=program,
    )
    return program


def update_program(
    *,
    programs: RecordStore[Program],
    pairs: RecordStore[Pair],
    audit: EventLog[AuditEvent],
    clock: Clock,
    rules: ProgramRules,
    actor: Actor,
    name: str,
    data: ProgramUpdate,
    force: bool = False,
) -> Program:
    """Change a program. A new command for a program a high-priority pair runs restarts
    that pair's sessions: it takes `force`."""
    _require_admin(actor)
    forced: list[str] = []

    # Decided again on the program as it is at each try (`change_record`): another
    # admin's change made meanwhile is kept, and the force check sees its command.
    def change(program: Program) -> dict[str, object]:
        changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
        forced.clear()
        if "command" in changes:
            check_command(changes["command"], rules)
            if changes["command"] != program.command:
                protected = [
                    p.key for p in pairs.list() if p.is_high_priority and name in p.programs
                ]
                if protected and not force:
                    raise ForceRequired(
                        f"high-priority pair(s) {', '.join(protected)} run {name}: repeat with"
                        " force=true to change its command",
                        details={"pairs": protected},
                    )
                forced.extend(protected)
        return {**changes, "updated_at": stamp_after(program.updated_at, clock.now())}

    program, updated = change_record(
        programs,
        name,
        change,
        read=lambda: get_program(programs=programs, name=name),
        decided_on={"updated_at"},  # moved on by every change (`stamp_after`)
        what=f"program {name!r}",
    )
    audit_service.record(
        audit=audit,
        clock=clock,
        actor=actor,
        action=AuditAction.program_updated,
        target=name,
        before=program,
        after=updated,
        forced=bool(forced),
    )
    return updated


def delete_program(
    *,
    programs: RecordStore[Program],
    pairs: RecordStore[Pair],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    name: str,
) -> None:
    _require_admin(actor)
    program = get_program(programs=programs, name=name)
    users = [pair.key for pair in pairs.list() if name in pair.programs]
    if users:
        raise Conflict(
            f"program {name!r} is assigned to {len(users)} pair(s); unassign it first",
            details={"pairs": users},
        )
    programs.delete(name)
    audit_service.record(
        audit=audit,
        clock=clock,
        actor=actor,
        action=AuditAction.program_deleted,
        target=name,
        before=program,
        after=None,
    )
