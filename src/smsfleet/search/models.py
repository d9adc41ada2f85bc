"""Search documents and jobs, shared by the search service and the control plane's gateway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from smsfleet.core.bounds import MAX_OFFSET, QueryTime
from smsfleet.core.records import Timestamp
from smsfleet.core.text import OneLine


class DocumentKind(StrEnum):
    attempt = "attempt"
    message = "message"


class Document(BaseModel):
    """What the control plane feeds the index: an attempt or an SMS, as searchable text."""

    id: str = Field(max_length=64)
    kind: DocumentKind
    phone: str = Field(max_length=32)
    text: str = Field(max_length=2000)
    at: Timestamp


class Documents(BaseModel):
    documents: list[Document] = Field(max_length=5000)


class Newest(BaseModel):
    """The newest document of each kind in the index (none: the index has none of it)."""

    attempt: Timestamp | None = None
    message: Timestamp | None = None


@dataclass(frozen=True)
class JobOwner:
    """Whose jobs: a user's name and when their account was made (`User.created_at`). An
    account deleted and made again under its name is another owner, who sees none of the
    old one's jobs. With no `since` (a client that does not say), the name alone."""

    name: str
    since: datetime | None = None


class Algorithm(StrEnum):
    exact = "exact"
    fulltext = "fulltext"
    fuzzy = "fuzzy"


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: OneLine = Field(min_length=1, max_length=200)
    algorithm: Algorithm = Algorithm.fulltext
    kinds: list[DocumentKind] = Field(
        default_factory=lambda: [DocumentKind.attempt, DocumentKind.message], min_length=1
    )
    limit: StrictInt = Field(default=100, ge=1, le=500, description="Most matches kept")


class Match(BaseModel):
    document_id: str
    kind: DocumentKind
    phone: str
    text: str
    at: Timestamp
    score: float = Field(description="1.0 for an exact or full-text match; similarity for fuzzy")


class JobSummary(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    owner: str
    query: str
    algorithm: Algorithm
    kinds: list[DocumentKind]
    limit: int
    status: JobStatus
    matched: int | None = None
    truncated: bool = Field(
        default=False,
        description="The scan stopped at the most matches a job may hold: `matched` is a floor",
    )
    scanned: int = Field(default=0, description="Documents scanned so far")
    error: str | None = None
    created_at: Timestamp
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None


class Job(JobSummary):
    results: list[Match] = Field(default_factory=list)


class JobView(Job):
    """A job in full, as its owner reads it from the operator role up."""

    redacted: Literal[False] = False


class RedactedJob(Job):
    """A job as one below the operator role reads it: its SMS matches without their text
    (a job made while its owner was an operator may hold them)."""

    results: list[Match] = Field(
        default_factory=list, description="A message's `text` is •••: an SMS can carry a code"
    )
    redacted: Literal[True] = True


class JobPage(BaseModel):
    items: list[JobSummary]
    total: int
    offset: int
    limit: int


class JobQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: JobStatus | None = None
    q: str | None = Field(default=None, max_length=200, description="In the job's query")
    since: QueryTime | None = None
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    limit: int = Field(default=20, ge=1, le=200)
