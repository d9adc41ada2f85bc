"""HTTP for programs. Reading them takes a sign-in; defining them, an admin signed in
with a password (never an API key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from smsfleet.core.json_body import StrictJsonRoute
from smsfleet.deps import Context, CurrentUser, InteractiveAdmin
from smsfleet.programs import service
from smsfleet.programs.models import Program, ProgramCreate, ProgramUpdate
from smsfleet.programs.service import ProgramRules

router = APIRouter(route_class=StrictJsonRoute, prefix="/api/v1/programs", tags=["programs"])

Force = Annotated[
    bool, Query(description="Confirm a new command for a program a high-priority pair runs")
]


@router.get("", summary="List programs")
def list_programs(_: CurrentUser, context: Context) -> list[Program]:
    return context.store.programs.list()


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary=(
        "Define a program (admin, signed in; its executable inside the program directories"
        " of this host or of an SSH host)"
    ),
)
def create_program(body: ProgramCreate, actor: InteractiveAdmin, context: Context) -> Program:
    return service.create_program(
        programs=context.store.programs,
        audit=context.store.audit,
        clock=context.clock,
        rules=ProgramRules.from_settings(context.settings),
        actor=actor,
        data=body,
        elsewhere=context.sessions.hosts.program_checks(),
    )


@router.get("/{name}")
def get_program(name: str, _: CurrentUser, context: Context) -> Program:
    return service.get_program(programs=context.store.programs, name=name)


@router.patch("/{name}", summary="Change a program (admin, signed in)")
def update_program(
    name: str, body: ProgramUpdate, actor: InteractiveAdmin, context: Context, force: Force = False
) -> Program:
    return service.update_program(
        programs=context.store.programs,
        pairs=context.store.pairs,
        audit=context.store.audit,
        clock=context.clock,
        rules=ProgramRules.from_settings(context.settings),
        actor=actor,
        name=name,
        data=body,
        force=force,
        elsewhere=context.sessions.hosts.program_checks(),
    )


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a program (admin, signed in)"
)
def delete_program(name: str, actor: InteractiveAdmin, context: Context) -> None:
    service.delete_program(
        programs=context.store.programs,
        pairs=context.store.pairs,
        audit=context.store.audit,
        clock=context.clock,
        actor=actor,
        name=name,
    )
