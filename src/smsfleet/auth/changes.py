"""Each person's changes through the API (a POST, PUT, PATCH or DELETE), their API keys'
too, at most `per_minute` in any minute: a moving window per user.

Every change is audited and kept a year; without a bound, one operator's loop saving a
template again and again writes megabytes a second, and a loop of stops and starts
fills the session events. Far above what a person at the dashboard or a script of the
CLI makes. Counted in this process, or in Redis, shared by every replica. A Redis that
does not answer within a second lets changes through, and is not asked again for half a
minute (said once in the log): the budget guards the logs, it must not keep an operator
from pausing a failing route, nor hold every change a second."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from smsfleet.core.errors import Throttled

__all__ = ["ChangeBudget"]

log = logging.getLogger(__name__)

_NAMESPACE = "changes"
# How long changes go uncounted once Redis did not answer, before it is asked again.
_REDIS_RESTS_SECONDS = 30.0


class ChangeBudget:
    def __init__(
        self,
        *,
        per_minute: int,
        storage_url: str = "memory://",
        key_prefix: str = "smsfleet",
        item: RateLimitItem | None = None,
    ) -> None:
        """`item`: another window than a minute's (the tests' second)."""
        options: dict[str, float | str | bool] = {"wrap_exceptions": True}
        if storage_url != "memory://":
            options.update(
                key_prefix=f"{key_prefix}:limits", socket_timeout=1, socket_connect_timeout=1
            )
        # redis-py's unix:// is the `limits` storage's redis+unix://.
        url = storage_url.replace("unix://", "redis+unix://", 1)
        self._limiter = MovingWindowRateLimiter(storage_from_string(url, **options))
        self._uncounted_until = 0.0
        self._item = item or RateLimitItemPerMinute(per_minute)
        self._said = (
            f"you made {self._item.amount} changes in the last"
            f" {self._item.get_expiry()} s, the most one user may (SMSFLEET_CHANGES_PER_MINUTE)"
        )

    def spend(self, username: str) -> None:
        """Count one more change of `username`'s; `Throttled` (429, `Retry-After`) when
        their budget is spent, the change not counted."""
        if time.monotonic() < self._uncounted_until:
            return
        try:
            if self._limiter.hit(self._item, _NAMESPACE, username):
                return
            frees_at = self._limiter.get_window_stats(self._item, _NAMESPACE, username).reset_time
        except StorageError as exc:
            self._uncounted_until = time.monotonic() + _REDIS_RESTS_SECONDS
            log.warning(
                "changes not counted for %g s (%s): the change budget's Redis did not answer",
                _REDIS_RESTS_SECONDS,
                exc,
            )
            return
        raise Throttled(self._said, retry_after=max(1, math.ceil(frees_at - time.time())))
