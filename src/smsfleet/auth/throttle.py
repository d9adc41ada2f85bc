"""Failed-login throttling per username and per client address (moving window)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from smsfleet.core.errors import Throttled


class LoginThrottle:
    """Counts failures only; a success does not consume the budget."""

    def __init__(
        self,
        *,
        per_user: int,
        per_address: int,
        window_seconds: int,
        storage_url: str = "memory://",
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        self._by_user = RateLimitItemPerSecond(per_user, window_seconds)
        self._by_address = RateLimitItemPerSecond(per_address, window_seconds)

    def _checks(self, username: str, address: str) -> list[tuple[RateLimitItemPerSecond, str]]:
        return [(self._by_user, f"user:{username.lower()}"), (self._by_address, f"addr:{address}")]

    def check(self, *, username: str, address: str) -> None:
        """Raise `Throttled` with the seconds to wait when either budget is spent."""
        for item, key in self._checks(username, address):
            if not self._limiter.test(item, "login", key):
                reset_at = self._limiter.get_window_stats(item, "login", key).reset_time
                wait = max(1, math.ceil(reset_at - time.time()))
                raise Throttled(f"too many failed logins; retry in {wait} s", retry_after=wait)

    def record_failure(self, *, username: str, address: str) -> None:
        for item, key in self._checks(username, address):
            self._limiter.hit(item, "login", key)
