"""HTTP for programs."""

from __future__ import annotations

from fastapi import APIRouter, status

from smsfleet.deps import Context, CurrentUser, OperatorUser
from smsfleet.programs import service
from smsfleet.programs.models import Program, ProgramCreate, ProgramUpdate

router = APIRouter(prefix="/api/v1/programs", tags=["programs"])


@router.get("", summary="List programs")
def list_programs(_: CurrentUser, context: Context) -> list[Program]:
    return context.store.programs.list()


@router.post("", status_code=status.HTTP_201_CREATED)
def create_program(body: ProgramCreate, _: OperatorUser, context: Context) -> Program:
    return service.create_program(programs=context.store.programs, clock=context.clock, data=body)


@router.get("/{name}")
def get_program(name: str, _: CurrentUser, context: Context) -> Program:
    return service.get_program(programs=context.store.programs, name=name)


@router.patch("/{name}")
def update_program(name: str, body: ProgramUpdate, _: OperatorUser, context: Context) -> Program:
    return service.update_program(
        programs=context.store.programs, clock=context.clock, name=name, data=body
    )


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_program(name: str, _: OperatorUser, context: Context) -> None:
    service.delete_program(programs=context.store.programs, pairs=context.store.pairs, name=name)
