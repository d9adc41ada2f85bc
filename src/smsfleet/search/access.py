"""What one below the operator role may search, and read of a job: never an SMS's text.

The SMS indexed hold the codes the Messages routes hide from viewers; a search over them
would tell a code even with its matches hidden (an exact query matches or not), so a
viewer's job runs over attempts only.
"""

from __future__ import annotations

from smsfleet.auth.models import Role
from smsfleet.core.errors import Forbidden
from smsfleet.messages.models import REDACTED
from smsfleet.messages.redaction import sees_codes
from smsfleet.search.models import DocumentKind, Job, JobCreate, RedactedJob

__all__ = ["check_rerun", "redacted_job", "searchable"]

_REFUSED = "searching SMS texts needs the operator role (an SMS can carry a code); {who} {role}"


def searchable(data: JobCreate, role: Role, *, owner: str | None = None) -> JobCreate:
    """The job an owner of `role` may hold: below the operator role, over attempts only.

    `owner`: the job's owner when another (an admin's search as them) starts it; the job is
    theirs to read, so it is held to their role, never the caller's."""
    if sees_codes(role):
        return data
    kinds = [kind for kind in data.kinds if kind is not DocumentKind.message]
    if not kinds:
        who = "you are" if owner is None else f"{owner!r}, the job's owner, is"
        raise Forbidden(_REFUSED.format(who=who, role=role.value))
    return data.model_copy(update={"kinds": kinds})


def check_rerun(job: Job, role: Role, *, owner: str | None = None) -> None:
    """A job over SMS texts is run again only for a role that may start one: the caller's,
    and the job's `owner`'s when another (who reads what it finds)."""
    if not sees_codes(role) and DocumentKind.message in job.kinds:
        who = "you are" if owner is None else f"{owner!r}, the job's owner, is"
        raise Forbidden(_REFUSED.format(who=who, role=role.value))


def redacted_job(job: Job) -> RedactedJob:
    results = [
        m.model_copy(update={"text": REDACTED}) if m.kind is DocumentKind.message else m
        for m in job.results
    ]
    return RedactedJob.model_validate(
        {**job.model_dump(), "results": [r.model_dump() for r in results]}
    )
