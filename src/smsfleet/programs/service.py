"""Programs. Keyword-only functions taking their stores."""

from __future__ import annotations

from smsfleet.core.clock import Clock
from smsfleet.core.errors import Conflict, NotFound
from smsfleet.core.records import RecordStore
from smsfleet.pairs.models import Pair
from smsfleet.programs.models import Program, ProgramCreate, ProgramUpdate


def get_program(*, programs: RecordStore[Program], name: str) -> Program:
    program = programs.get(name)
    if program is None:
        raise NotFound(f"program {name!r} does not exist")
    return program


def create_program(*, programs: RecordStore[Program], clock: Clock, data: ProgramCreate) -> Program:
    now = clock.now()
    program = Program(**data.model_dump(), created_at=now, updated_at=now)
    programs.add(program)
    return program


def update_program(
    *, programs: RecordStore[Program], clock: Clock, name: str, data: ProgramUpdate
) -> Program:
    program = get_program(programs=programs, name=name)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    updated = program.model_copy(update={**changes, "updated_at": clock.now()})
    programs.replace(updated)
    return updated


def delete_program(*, programs: RecordStore[Program], pairs: RecordStore[Pair], name: str) -> None:
    get_program(programs=programs, name=name)
    users = [pair.key for pair in pairs.list() if name in pair.programs]
    if users:
        raise Conflict(
            f"program {name!r} is assigned to {len(users)} pair(s); unassign it first",
            details={"pairs": users},
        )
    programs.delete(name)
