"""Domain errors. Logic raises these; the HTTP layer maps each to one status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every error a caller can act on; never a server fault."""

    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    code = "validation_error"

    @classmethod
    def for_field(cls, field: str, reason: str, *, message: str | None = None) -> ValidationFailed:
        """Refuses one field, as a 422 of the request's own validation does: `details` is
        `[{"field", "message": reason}]`; `message` (default `field: reason`) sums it up."""
        return cls(message or f"{field}: {reason}", details=[{"field": field, "message": reason}])


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"

    @classmethod
    def check_room(
        cls, held: int, adding: int, limit: int | None, *, would: str, setting: str, remedy: str
    ) -> None:
        """Refuses what would take `held` records past `limit` (None: no bound): `would`
        says what there would be (`the fleet would hold {total} pairs`), `setting` names
        the limit, `remedy` what to do."""
        total = held + adding
        if adding and limit is not None and total > limit:
            raise cls(
                f"{would.format(total=total)}, more than the {limit} {setting} allows: {remedy}"
            )


class ForceRequired(Conflict):
    """A protected change (a high-priority pair's, a cap far above the usual) was asked for
    without `force`."""

    code = "force_required"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class Throttled(DomainError):
    """Refused for now; `headers` are what the answer carries besides `Retry-After` (an
    API key's quota)."""

    code = "too_many_requests"

    def __init__(
        self, message: str, *, retry_after: int, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after
        self.headers = dict(headers or {})


class Unavailable(DomainError):
    """A service this request needs is down or off; trying again later may work."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class ConfigurationError(Exception):
    """The process cannot start as configured; the message says what to change."""
