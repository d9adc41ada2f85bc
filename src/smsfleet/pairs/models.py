"""Countries and country-operator pairs: stored records and their HTTP schemas."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
)

from smsfleet.core.records import Timestamp
from smsfleet.core.settings import HOST_NAME_PATTERN, LOCAL_HOST
from smsfleet.core.text import OneLine
from smsfleet.sessions.names import SLUG_PATTERN

HOST_PATTERN = f"^(?:{LOCAL_HOST}|{HOST_NAME_PATTERN[1:-1]})$"

COUNTRY_CODE_PATTERN = r"^[A-Za-z]{2}$"
MAX_COUNTRY_CAP = 10_000
MAX_PHONE_NUMBERS = 50
MAX_PROGRAMS = 32


class Country(BaseModel):
    code: str
    name: str
    cap: int = Field(
        description="SMS per minute, both the ceiling and the target; 0: halted, nothing is"
        " sent until it is raised"
    )
    previous_cap: int | None = Field(
        default=None, description="The cap before its last change; none if never changed"
    )
    cap_changed_at: Timestamp | None = Field(
        default=None,
        description="When the cap last changed: counts over a window since then are partly"
        " at the previous cap",
    )

    @property
    def halted(self) -> bool:
        """A cap of 0: no program of it is granted a send."""
        return self.cap == 0


class CapChange(BaseModel):
    """A change of a country's cap, as its audit entry keeps it: what a trend of its grants
    is read against at each moment."""

    country: str
    at: Timestamp
    cap: int
    previous_cap: int


def halted_said(code: str) -> str:
    """Why nothing of a country whose cap is 0 is sent, as a lease, a goal and a refused
    on-demand send say it."""
    return f"country {code} is halted (its cap is 0): nothing is sent until an admin raises it"


class CountryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cap: StrictInt = Field(
        ge=0,
        le=MAX_COUNTRY_CAP,
        description="SMS per minute; 0 halts the country: no program of it is granted a send,"
        " its attempts in flight finish",
    )
    reason: OneLine | None = Field(
        default=None, max_length=256, description="Why, kept with the change in the audit log"
    )


class PairState(StrEnum):
    enabled = "enabled"
    paused = "paused"
    disabled = "disabled"
    # Paused by the policy and past its cool-down: sessions run at a low probe rate.
    probing = "probing"

    @property
    def runs_sessions(self) -> bool:
        return self in (PairState.enabled, PairState.probing)


Threshold = float | None


class Pair(BaseModel):
    """Stored pair. `key` is `{country}_{slug}`, e.g. `UZ_uzmobile`."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    key: str
    country: str
    operator: str
    slug: str
    region: str | None = None
    is_high_priority: bool = False
    state: PairState = PairState.enabled
    state_reason: str | None = None
    state_actor: str | None = None
    state_changed_at: Timestamp | None = None
    pause_threshold: float | None = None
    resume_threshold: float | None = None
    phone_numbers: list[str] = Field(default_factory=list)
    programs: list[str] = Field(default_factory=list)
    host: str = Field(default=LOCAL_HOST, description="Where its sessions run")
    created_at: Timestamp
    updated_at: Timestamp

    def became(self) -> str:
        """What the pair became at `state_changed_at`, for 'since it was …': `created` when
        its state has not changed since it was created, else its state (`enabled`)."""
        if self.state_changed_at is None or self.state_changed_at == self.created_at:
            return "created"
        return self.state.value

    @property
    def runs_sessions(self) -> bool:
        """Its sessions run: its state runs them (enabled or probing) and it has a test
        number to send to. Without one they are held stopped until one is added."""
        return self.state.runs_sessions and bool(self.phone_numbers)

    def holds_sessions(self) -> str | None:
        """Why its sessions are held stopped, as their events say (`pair UZ_x is paused`,
        `pair UZ_x has no test phone number`); None while they run."""
        if not self.state.runs_sessions:
            return f"pair {self.key} is {self.state}"
        if not self.phone_numbers:
            return f"pair {self.key} has no test phone number"
        return None

    def runs_no_sessions(self) -> str:
        """`pair UZ_x runs no sessions (its reason)`: what a session or send of a paused or
        disabled pair is told."""
        return f"pair {self.key} runs no sessions ({self.state_reason or self.state.value})"


class PairPublic(Pair):
    country_name: str
    country_halted: bool = Field(
        default=False,
        description="Its country's cap is 0: its sessions run but are granted no send",
    )


_OperatorName = Field(min_length=1, max_length=64)
_Region = Field(default=None, max_length=64)
_Ratio = Field(default=None, ge=0.0, le=1.0)
_Phones = Field(default=None, max_length=MAX_PHONE_NUMBERS)
_Programs = Field(default=None, max_length=MAX_PROGRAMS)
_HOST_HELP = "Where its sessions run: `local` or a host of the inventory"


class PairCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str = Field(pattern=COUNTRY_CODE_PATTERN, description="ISO 3166-1 alpha-2 code")
    operator: OneLine = _OperatorName
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)
    region: OneLine | None = _Region
    is_high_priority: StrictBool = False
    phone_numbers: list[str] = Field(default_factory=list, max_length=MAX_PHONE_NUMBERS)
    programs: list[str] = Field(default_factory=list, max_length=MAX_PROGRAMS)
    host: str = Field(default=LOCAL_HOST, pattern=HOST_PATTERN, description=_HOST_HELP)
    pause_threshold: StrictFloat | None = _Ratio
    resume_threshold: StrictFloat | None = _Ratio
    start_sessions: StrictBool = Field(
        default=False,
        description="Start the sessions of its programs at once (the dashboard's default);"
        " otherwise they are created stopped, except a high-priority pair's",
    )


def _none_when_blank(reason: str | None) -> str | None:
    """A blank reason gives none: "" and null say the same (and set no state again)."""
    return reason if reason is None or reason.strip() else None


class PairUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator: OneLine | None = Field(default=None, min_length=1, max_length=64)
    region: OneLine | None = _Region
    is_high_priority: StrictBool | None = None
    state: PairState | None = None
    state_reason: Annotated[OneLine | None, AfterValidator(_none_when_blank)] = Field(
        default=None, max_length=256
    )
    phone_numbers: list[str] | None = _Phones
    programs: list[str] | None = _Programs
    host: str | None = Field(default=None, pattern=HOST_PATTERN, description=_HOST_HELP)
    pause_threshold: StrictFloat | None = _Ratio
    resume_threshold: StrictFloat | None = _Ratio
    # Optional like the fields above, so a change that adds no program need not say it.
    start_sessions: StrictBool | None = Field(
        default=None,
        description="true: start the sessions of the programs this change adds (the"
        " dashboard's default); otherwise they are created stopped, except a high-priority"
        " pair's",
    )


class SeedPairCreate(BaseModel):
    """The seed documents' `POST /country-operator` body."""

    # A misspelt field (`high_priority`) is refused, not dropped for its default.
    model_config = ConfigDict(extra="forbid")

    country: OneLine = Field(min_length=2, max_length=64, description="Name or ISO code")
    operator: OneLine = _OperatorName
    is_high_priority: bool = False


class SeedPair(BaseModel):
    country: str
    country_code: str
    operator: str
    slug: str
    key: str
    is_high_priority: bool
    state: PairState


class PairChangeKind(StrEnum):
    created = "created"
    updated = "updated"
    deleted = "deleted"


class PairChange(BaseModel):
    """A pair written, by a person or the policy: the event bus topic `pairs`, which tells
    open pages to read the pairs again."""

    key: str
    change: PairChangeKind


def pair_key(country: str, slug: str) -> str:
    return f"{country.upper()}_{slug}"


def key_as_written(text: str) -> str:
    """A pair's key as the pairs write it, typed in any case: its operator's part is a
    slug, lower case."""
    country, underscore, slug = text.partition("_")
    return pair_key(country, slug.lower()) if underscore else text  # no key: said as typed
