"""Which control plane supervises: one leader at a time, so replicas never fight over screen.

A single control plane is always the leader. With several replicas (sharing Redis, as
their limiter does), the leader holds a Redis key with a time-to-live and renews it at
every supervisor tick; when it stops renewing (killed, cut off), another replica takes
the key once it has expired. A replica that cannot reach Redis does not supervise: the
sessions keep running in screen meanwhile, and screen is never driven by two replicas.
"""

from __future__ import annotations

import logging
import secrets
import socket
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["Leadership", "RedisLeadership", "SoleLeadership"]

log = logging.getLogger("smsfleet.sessions")

# Take the key if it is free, renew it if it is ours: one atomic step.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Leadership(Protocol):
    # This process's name as a leader (its host's), as the supervisor's ticks record it.
    name: str

    def hold(self) -> bool:
        """Take or keep the leadership; True while this process leads."""
        ...

    def release(self) -> None:
        """Give it up now (a clean stop), so another replica need not wait."""
        ...

    def holder(self) -> str | None:
        """Who leads now, when known."""
        ...


class SoleLeadership:
    """One control plane: it always leads."""

    def __init__(self) -> None:
        self.name = socket.gethostname()

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        """Nothing to give up."""

    def holder(self) -> str | None:
        return self.name


class RedisLeadership:
    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: float,
        key: str = "smsfleet:supervisor:leader",
        owns_client: bool = False,
    ) -> None:
        self.name = f"{socket.gethostname()}:{secrets.token_hex(4)}"
        self._client = client
        self._key = key
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._owns_client = owns_client
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(
        cls, url: str, *, ttl_seconds: float, key: str = "smsfleet:supervisor:leader"
    ) -> RedisLeadership:
        # One try per tick: the next tick is the retry, and a tick must not hang.
        client = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )
        return cls(client, ttl_seconds=ttl_seconds, key=key, owns_client=True)

    def hold(self) -> bool:
        try:
            return bool(self._hold(keys=[self._key], args=[self.name, self._ttl_ms]))
        except redis.RedisError as error:
            log.warning("leadership unknown, not supervising: %s", error)
            return False

    def release(self) -> None:
        try:
            self._release(keys=[self._key], args=[self.name])
        except redis.RedisError as error:
            log.warning("could not give up the leadership (it expires by itself): %s", error)
        finally:
            if self._owns_client:
                self._client.close()

    def holder(self) -> str | None:
        try:
            value = self._client.get(self._key)
        except redis.RedisError:
            return None
        return value.decode() if isinstance(value, bytes) else None
