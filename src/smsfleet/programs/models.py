"""Programs: what runs in a session for a pair (an argv, never a shell line)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smsfleet.core.records import Timestamp
from smsfleet.core.text import OneLine, Prose
from smsfleet.sessions.names import PROGRAM_NAME_PATTERN

MAX_ARGV = 64
MAX_ARG_LENGTH = 1024


def _check_argv(argv: list[str]) -> list[str]:
    for arg in argv:
        if "\x00" in arg or len(arg) > MAX_ARG_LENGTH:
            raise ValueError(
                f"each argument must be at most {MAX_ARG_LENGTH} characters and hold no NUL"
            )
    return argv


class ProgramBase(BaseModel):
    command: list[str] = Field(min_length=1, max_length=MAX_ARGV, description="argv, no shell")
    provider: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=500)

    @field_validator("command")
    @classmethod
    def _argv(cls, value: list[str]) -> list[str]:
        return _check_argv(value)


class Program(ProgramBase):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
    name: str
    created_at: Timestamp
    updated_at: Timestamp


class ProgramCreate(ProgramBase):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=PROGRAM_NAME_PATTERN)
    # Plain text (`core.text`) when written; a stored program is read as it is.
    provider: OneLine = Field(default="", max_length=64)
    description: Prose = Field(default="", max_length=500)


class ProgramUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: list[str] | None = Field(default=None, min_length=1, max_length=MAX_ARGV)
    provider: OneLine | None = Field(default=None, max_length=64)
    description: Prose | None = Field(default=None, max_length=500)

    @field_validator("command")
    @classmethod
    def _optional_argv(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_argv(value)
