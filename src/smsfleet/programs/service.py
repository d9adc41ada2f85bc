"""Programs. Keyword-only functions taking their stores.

A program is what an admin installed: its executable resolves inside the program
directories (`SMSFLEET_PROGRAM_DIRS`), see `rules.check_command`, of this host or of an SSH
host its pairs may run on (each checks on its own disk). Every change is audited.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.auth.models import Role
from smsfleet.core.clock import Clock
from smsfleet.core.errors import Conflict, Forbidden, ForceRequired, NotFound, ValidationFailed
from smsfleet.core.records import EventLog, RecordStore, change_record, stamp_after
from smsfleet.core.settings import LOCAL_HOST
from smsfleet.pairs.models import Pair
from smsfleet.programs.models import Program, ProgramCreate, ProgramUpdate
from smsfleet.programs.rules import ProgramRules, check_command

# An SSH host's check of a command on its own disk: raises `ValidationFailed` unless it
# accepts it.
CommandCheck = Callable[[Sequence[str]], None]

__all__ = [
    "CommandCheck",
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


def _check_on_a_host(
    command: Sequence[str], rules: ProgramRules, elsewhere: Mapping[str, CommandCheck]
) -> None:
    """Accepted when this host's rules accept `command`, else when an SSH host's do on
    its own disk (`elsewhere`): its pairs run there, and each start checks again where it
    runs. Refused with every host's reason."""
    try:
        check_command(command, rules)
    except ValidationFailed as refused_here:
        if not elsewhere:
            raise
        refusals = {LOCAL_HOST: refused_here}
        for host, check in elsewhere.items():
            try:
                check(command)
            except ValidationFailed as refused:
                refusals[host] = refused
            else:
                return
        raise _refused_everywhere(refusals) from None


def _refused_everywhere(refusals: Mapping[str, ValidationFailed]) -> ValidationFailed:
    said = {host: _reasons(refused) for host, refused in refusals.items()}
    return ValidationFailed(
        "no host accepts this command: "
        + "; ".join(f"{host}: {reason}" for host, reasons in said.items() for _, reason in reasons),
        details=[
            {"field": field, "message": f"{host}: {reason}"}
            for host, reasons in said.items()
            for field, reason in reasons
        ],
    )


def _reasons(refused: ValidationFailed) -> list[tuple[str, str]]:
    """(field, reason) of a refusal; a host's agent says its reason without the prefix
    its message carries (`host edge1: …`)."""
    details = refused.details if isinstance(refused.details, list) else []
    found = [
        (str(item.get("field", "command")), str(item.get("message", "")))
        for item in details
        if isinstance(item, dict)
    ]
    return found or [("command", str(refused))]


def create_program(
    *,
    programs: RecordStore[Program],
    audit: EventLog[AuditEvent],
    clock: Clock,
    rules: ProgramRules,
    actor: Actor,
    data: ProgramCreate,
    elsewhere: Mapping[str, CommandCheck] | None = None,
) -> Program:
    """Define a program; `elsewhere`: the SSH hosts' checks of its command, asked when
    this host's rules refuse it."""
    _require_admin(actor)
    _check_on_a_host(data.command, rules, elsewhere or {})
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
    elsewhere: Mapping[str, CommandCheck] | None = None,
) -> Program:
    """Change a program. A new command for a program a high-priority pair runs restarts
    that pair's sessions: it takes `force`. Its command is checked as `create_program`
    checks it."""
    _require_admin(actor)
    forced: list[str] = []

    # Decided again on the program as it is at each try (`change_record`): another
    # admin's change made meanwhile is kept, and the force check sees its command.
    def change(program: Program) -> dict[str, object]:
        changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
        forced.clear()
        if "command" in changes:
            _check_on_a_host(changes["command"], rules, elsewhere or {})
            if changes["command"] != program.command:
                protected = [
                    p.key for p in pairs.list() if p.is_high_priority and name in p.programs
                ]
                if protected and not force:
                    raise ForceRequired(
                        f"high-priority pair(s) {', '.join(protected)} run {name}: repeat with"
                        " force to change its command",
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
    if not programs.delete(name):  # another deletion came first: it is that one's
        raise NotFound(f"program {name!r} does not exist")
    # A pair given it as it was deleted (each looked at the other before writing): put
    # back and refused, as the pair's change is when it sees the program gone.
    users = [pair.key for pair in pairs.list() if name in pair.programs]
    if users:
        with contextlib.suppress(Conflict):  # defined again meanwhile
            programs.add(program)
        raise Conflict(
            f"program {name!r} was assigned to {users[0]} as it was deleted: it is kept;"
            " unassign it first",
            details={"pairs": users},
        )
    audit_service.record(
        audit=audit,
        clock=clock,
        actor=actor,
        action=AuditAction.program_deleted,
        target=name,
        before=program,
        after=None,
    )
