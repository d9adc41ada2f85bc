"""Messages, templates and on-demand sends, as stored and as served."""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    field_validator,
)

from smsfleet.core import phones
from smsfleet.core.records import Timestamp
from smsfleet.core.text import OneLine, Prose

PHONE_PATTERN = r"^\+?[0-9]{3,20}$"
TEMPLATE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
MAX_TEXT = 1600  # ten concatenated SMS
PlaceholderName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")]
# What stands, below the operator role, for a value or a text that may be a code.
REDACTED = "•••"


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class Message(BaseModel):
    """One SMS seen by smsfleet: received (webhook) or recorded as sent."""

    uuid: str
    direction: Direction
    sender: str
    receiver: str
    text: str
    at: Timestamp
    recorded_at: Timestamp
    attempt_id: str | None = Field(default=None, description="The attempt this SMS verifies")


class InboundMessage(BaseModel):
    """The gateway's webhook: an SMS received at one of the fleet's numbers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sender: str = Field(
        pattern=PHONE_PATTERN, validation_alias=AliasChoices("from", "sender"), max_length=21
    )
    receiver: str = Field(
        pattern=PHONE_PATTERN, validation_alias=AliasChoices("to", "receiver"), max_length=21
    )
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    timestamp: Timestamp
    uuid: UUID


class SeedSms(BaseModel):
    """The seed SMS service's body of `POST /api/send-sms` and `/api/receive-sms`."""

    model_config = ConfigDict(extra="forbid")

    senderPhone: str = Field(pattern=PHONE_PATTERN, max_length=21)  # noqa: N815 (seed field)
    receiverPhone: str = Field(pattern=PHONE_PATTERN, max_length=21)  # noqa: N815
    messageText: Prose = Field(min_length=1, max_length=MAX_TEXT)  # noqa: N815
    timestamp: Timestamp
    uuid: UUID

    @field_validator("senderPhone", "receiverPhone")
    @classmethod
    def _e164_when_international(cls, value: str) -> str:
        # The document writes its numbers without `+` (`0987654321`), read as
        # `phones.canonical` reads them; a number written with `+` claims E.164 and must be it.
        if value.startswith("+") and not phones.is_e164(value):
            raise ValueError("not an E.164 number: + and a country code, at most 15 digits in all")
        return value


class SeedAnswer(BaseModel):
    message: str


class SeedConversationMessage(BaseModel):
    """One SMS as the seed SMS service answers it: Unix seconds, `sent` or `received`."""

    phone_number: str
    message_text: str
    timestamp: int = Field(description="Unix time, seconds")
    direction: Literal["sent", "received"]


class SeedConversation(BaseModel):
    # Forbidden extras tell it apart from the redacted answer, whatever the route's union.
    model_config = ConfigDict(extra="forbid")

    messages: list[SeedConversationMessage]


class RedactedSeedConversation(BaseModel):
    """A number's messages as one below the operator role reads them: in the seed's shape,
    each text hidden (an SMS, received or sent, can carry a code)."""

    redacted: Literal[True]
    messages: list[SeedConversationMessage] = Field(
        description=f"Each `message_text` is {REDACTED}"
    )


class _ThreadEntry(BaseModel):
    """One entry of a number's conversation: an SMS, or a send attempt to it."""

    kind: Literal["sms", "attempt"]
    at: Timestamp
    direction: Direction
    sender: str | None
    receiver: str
    text: str | None
    status: str | None = Field(description="An attempt's outcome; None while open or for an SMS")
    error_code: str | None = Field(default=None, description="An attempt's error code, if any")
    broken_off: bool = Field(
        default=False,
        description="An attempt broken off by a stop, a kill or a lost lease, or given up"
        " unsent too late after its grant: no failure of its route",
    )
    sent_at: Timestamp | None = Field(
        default=None,
        description="When an attempt's SMS reached the gateway; None before, for one never"
        " sent, or for an SMS",
    )
    pair: str | None = None
    program: str | None = None
    attempt_id: str | None = None
    uuid: str | None = None


class ThreadItem(_ThreadEntry):
    """An entry as an operator reads it: an SMS with its text."""

    redacted: Literal[False] = False


class RedactedThreadItem(_ThreadEntry):
    """An SMS of a thread as one below the operator role reads it: without its text."""

    text: None = Field(
        default=None, description="Hidden below the operator role: an SMS can carry a code"
    )
    redacted: Literal[True] = True


_OLDER = Field(default=None, description="Older items exist: ask again with `before` set to this")


class Conversation(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    phone: str
    items: list[ThreadItem] = Field(description="In time order: the newest page of them")
    older: Timestamp | None = _OLDER
    redacted: Literal[False] = False


class RedactedConversation(BaseModel):
    """A number's thread as one below the operator role reads it: its SMS without text."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    phone: str
    items: list[RedactedThreadItem | ThreadItem] = Field(
        description="In time order: the newest page of them; its SMS redacted, its attempts"
        " as they are"
    )
    older: Timestamp | None = _OLDER
    redacted: Literal[True] = True


# --- templates ---------------------------------------------------------------------------


def placeholders(body: str) -> set[str]:
    """The `{name}` placeholders of a body; refuses positional or formatted ones."""
    names = set()
    for _literal, name, spec, conversion in string.Formatter().parse(body):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            # Said as written: "{token}" alone would read as a placeholder that is fine.
            written = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(
                "placeholders are {name} only: a name, with no index, attribute, conversion"
                f" or format; {{{written}}} is not"
            )
        names.add(name)
    return names


_NAME = Field(min_length=1, max_length=80)
_BODY = Field(min_length=1, max_length=MAX_TEXT, description="With {placeholders}")
_PROVIDER_BODIES = Field(
    default_factory=dict[str, str], description="A provider's own wording, by provider name"
)


class TemplateBase(BaseModel):
    name: str = _NAME
    body: str = _BODY
    provider_bodies: dict[str, str] = _PROVIDER_BODIES

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        placeholders(value)
        return value

    @field_validator("provider_bodies")
    @classmethod
    def _provider_bodies(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20:
            raise ValueError("at most 20 providers")
        for provider, body in value.items():
            if not 1 <= len(provider) <= 64 or not 1 <= len(body) <= MAX_TEXT:
                raise ValueError("provider names of 1-64 characters, bodies of 1-1600")
            placeholders(body)
        return value


class Template(TemplateBase):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    created_at: Timestamp
    updated_at: Timestamp


class _TemplateWritten(TemplateBase):
    """What a person writes: plain text (`core.text`); a stored one is read as it is."""

    model_config = ConfigDict(extra="forbid")

    name: OneLine = _NAME
    body: Prose = _BODY
    provider_bodies: dict[OneLine, Prose] = _PROVIDER_BODIES


class TemplateCreate(_TemplateWritten):
    id: str = Field(pattern=TEMPLATE_ID_PATTERN)


class TemplateUpdate(_TemplateWritten):
    pass


# --- on-demand sends -------------------------------------------------------------------


class SendStatus(StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"
    # Failed by its last program, its template no longer fits, or sent and then cut off
    # while it awaited its code (sent, its outcome unknown): the send's `error` says which.
    FAILED = "FAILED"
    # Never sent, though nothing failed: its try was broken off by a stop and no running
    # pair of its country was left to carry it (the send's `error` says which).
    NOT_SENT = "NOT_SENT"
    CANCELLED = "CANCELLED"


# A send keeps its values (shown on the Messages page, tried again): a code or a name, not a
# document.
MAX_PARAMS = 20
MAX_PARAM_VALUE = 200
ParamName = Annotated[OneLine, Field(min_length=1, max_length=80)]
ParamValue = Annotated[Prose, Field(max_length=MAX_PARAM_VALUE)]


class SendRequest(BaseModel):
    """`POST /api/v1/messages/send`: a template (or a text) to one number, now."""

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=32, description="E.164, or national with pair")
    template_id: str | None = Field(default=None, pattern=TEMPLATE_ID_PATTERN)
    params: dict[ParamName, ParamValue] = Field(
        default_factory=dict,
        max_length=MAX_PARAMS,
        description=f"The template's placeholders' values: at most {MAX_PARAMS},"
        f" each at most {MAX_PARAM_VALUE} characters",
    )
    text: Prose | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    pair: str | None = Field(default=None, max_length=40, description="Default: from the number")


class RetryRequest(BaseModel):
    """`POST /api/v1/messages/sends/{id}/retry`, its body optional."""

    model_config = ConfigDict(extra="forbid")

    again: StrictBool = Field(
        default=False,
        description="Send it again although an SMS of it reached the gateway (`sent_at`), or"
        " may have (`sent_unknown`): its number may already have it, and gets a second one."
        " Without it, such a retry is refused (409)",
    )


SeedTokenValue = Annotated[OneLine, Field(min_length=1, max_length=64)]
SeedNumber = Annotated[StrictInt, Field(ge=0, le=10**18)]


def _number_or_text(value: object) -> str:
    return "number" if isinstance(value, int) else "text"


def _by_name_or_token(value: object) -> str:
    return "by_name" if isinstance(value, dict) else "token"


# Tagged, so that a refusal names its field as `token_value.token` (the bare value, of
# {token}) or `token_value.by_name.<placeholder>.text|number`, not by pydantic's inner types.
SeedValue = Annotated[
    Annotated[SeedTokenValue, Tag("text")] | Annotated[SeedNumber, Tag("number")],
    Discriminator(_number_or_text),
]
SeedTokenValues = Annotated[
    Annotated[SeedTokenValue, Tag("token")]
    | Annotated[dict[PlaceholderName, SeedValue], Tag("by_name")],
    Discriminator(_by_name_or_token),
]
SeedTemplateId = (
    Annotated[StrictInt, Field(ge=0, le=10**12)]
    | Annotated[str, Field(pattern=TEMPLATE_ID_PATTERN)]
)


class SeedSendRequest(BaseModel):
    """The seed verification service's `POST /sendsms/`.

    `{"phone": "+1234567890", "token_value": {"token": "123456"}, "template_id": 1}`:
    the template's placeholders are filled by name from `token_value` (a bare string
    fills `{token}`).
    """

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=32)
    token_value: SeedTokenValues = Field(
        description="The placeholders' values by name, or the value of {token}"
    )
    template_id: SeedTemplateId = Field(description="A template's id, as a number or a string")

    @field_validator("token_value")
    @classmethod
    def _values(cls, value: object) -> object:
        if isinstance(value, dict) and not 1 <= len(value) <= MAX_PARAMS:
            raise ValueError(f"give 1 to {MAX_PARAMS} placeholders")
        return value

    def params(self) -> dict[str, str]:
        if isinstance(self.token_value, str):
            return {"token": self.token_value}
        return {name: str(value) for name, value in self.token_value.items()}


class Send(BaseModel):
    """An on-demand send: tried through the pair's programs in order until one delivers."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    phone: str
    pair: str
    country: str
    template_id: str | None
    params: dict[str, str]
    text: str | None = Field(description="The text, when sent without a template")
    sent_text: str | None = Field(
        description="The text its latest try handed its program: a template's filled in,"
        " in the provider's own wording if it has one; None before any try"
    )
    status: SendStatus
    programs: list[str] = Field(description="The pair's programs, in the order they are tried")
    next_index: int = Field(description="Which of `programs` is tried next")
    tries: int = Field(description="Sends that went out")
    program: str | None = Field(description="The program of the latest try")
    provider: str | None = Field(description="Its provider")
    attempt_id: str | None = Field(description="The latest try's attempt (trigger id)")
    leased_until: Timestamp | None
    waiting_since: Timestamp = Field(description="Since when the current program is awaited")
    error: str | None
    sent_at: Timestamp | None = Field(
        default=None,
        description="When an SMS of this send last reached the gateway, through any of its"
        " tries, as its program reported it: known once a try reports (its outcome, or a"
        " break-off), or once its program tells it left; None until then. Sent again, the"
        " number gets a second SMS",
    )
    sent_unknown: bool = Field(
        default=False,
        description="A try of it left it unknown whether its SMS left (its program killed"
        " during the send, or never reporting): sent again, the number may get a second SMS",
    )
    actor: str
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None


_WAITING_REASON = Field(
    default=None,
    description="Why a PENDING send waits, in words, as read now: since when, and for what"
    " (its number awaiting another code, since when and until when at the latest; its"
    " program to ask for work; its program's report of its try; its pair stopped). None"
    " once it is no longer PENDING. Names numbers, programs, pairs and times, never a code",
)


class SendView(Send):
    """A send in full, as an operator or an admin reads it."""

    waiting_reason: str | None = _WAITING_REASON
    redacted: Literal[False] = False


class RedactedSend(Send):
    """A send as one below the operator role reads it: its values, and any text holding
    them, hidden, so that a viewer (or a read key) never reads a one-time code."""

    params: dict[str, str] = Field(description=f"Its placeholders, each value {REDACTED}")
    text: str | None = Field(description=f"{REDACTED} when sent without a template")
    sent_text: str | None = Field(
        description=f"Its template's wording for the latest try, with {REDACTED} for each"
        f" value ({REDACTED} when it no longer fills in, or was sent without a template);"
        " None before any try"
    )
    waiting_reason: str | None = _WAITING_REASON
    redacted: Literal[True] = True


class SendAccepted(BaseModel):
    id: str
    status: SendStatus
    pair: str
    message: str = "accepted: it goes out through the dispatcher, within the country's cap"


class SendQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: SendStatus | None = None
    phone: str | None = Field(default=None, max_length=32)
    limit: int = Field(default=100, ge=1, le=1000)
