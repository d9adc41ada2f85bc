"""Login throttling per (username, client address) and per client address, or per
device token.

Every attempt is counted before its password is checked, atomically, so parallel
attempts cannot all slip under the limit; a successful login gives its count back
(and clears its pair's), so only failures spend the budget.

- a (username, address) pair gets `per_user` failures in a window; the attempt after
  that is refused until the window ends, and each further lockout of the pair within a
  day lasts twice as long as the one before (at most a day). A stranger elsewhere
  spends their own pair's budget, never the user's at the user's own address;
- an address gets `per_address` failures in a window, whatever the usernames, with the
  same growing lockouts. An IPv6 client counts by its /64, the block one subscriber or
  host is usually given, so that it cannot take a fresh address for each guess;
- a login that presents a valid device token of its username (OWASP's device cookies:
  each successful login returns one) counts on that device's budget instead, `per_device`
  failures, and not on its pair's or address's: strangers behind the same NAT or proxy
  who lock the address out do not lock out a user who logged in from that browser or
  client before. Past its budget the device counts no more, and its attempts are counted
  as any other's, so a stolen device token adds a few guesses, not a way around the limits.

There is no lockout of an account across addresses: it would let anyone lock a user
out. Guesses spread over many addresses are slowed by each address's budget and the
password hash, and stopped by the password policy's refusal of weak passwords.

Counters live in this process, or in Redis with several replicas (one Lua script per
counter: increment, and on the first refusal stretch the lockout).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

from smsfleet.core.errors import Throttled
from smsfleet.core.http_server import client_key
from smsfleet.core.settings import FAILURES_PER_DEVICE

STRIKES_TTL_SECONDS = 24 * 3600
MAX_LOCKOUT_SECONDS = 24 * 3600
# Beyond this many live counters, expired ones are swept on the next attempt.
MEMORY_SWEEP_AT = 10_000


class Counters(Protocol):
    def take(self, key: str, *, limit: int, window: int) -> tuple[int, int]:
        """Count one attempt on `key`: (the count, seconds until it resets)."""
        ...

    def give_back(self, key: str, *, clear: bool) -> None:
        """Undo one attempt on `key`, or forget the key with `clear`."""
        ...


def lockout_seconds(window: int, strikes: int) -> int:
    return int(min(window * 2 ** max(strikes - 1, 0), MAX_LOCKOUT_SECONDS))


class MemoryCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}
        self._strikes: dict[str, tuple[int, float]] = {}

    def _sweep(self, now: float) -> None:
        for table in (self._counts, self._strikes):
            if len(table) > MEMORY_SWEEP_AT:
                for key in [k for k, (_, until) in table.items() if until <= now]:
                    del table[key]

    def take(self, key: str, *, limit: int, window: int) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            count, until = self._counts.get(key, (0, 0.0))
            if until <= now:
                count, until = 0, now + window
            count += 1
            if count == limit + 1:
                strikes, strikes_until = self._strikes.get(key, (0, 0.0))
                strikes = (strikes if strikes_until > now else 0) + 1
                self._strikes[key] = (strikes, now + STRIKES_TTL_SECONDS)
                until = now + lockout_seconds(window, strikes)
            self._counts[key] = (count, until)
            return count, max(1, round(until - now))

    def give_back(self, key: str, *, clear: bool) -> None:
        with self._lock:
            if key not in self._counts:
                return
            count, until = self._counts[key]
            if clear or count <= 1:
                del self._counts[key]
            else:
                self._counts[key] = (count - 1, until)


_TAKE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if count == tonumber(ARGV[1]) + 1 then
  local strikes = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  local lockout = math.min(tonumber(ARGV[2]) * 2 ^ (strikes - 1), tonumber(ARGV[3]))
  redis.call('EXPIRE', KEYS[1], math.floor(lockout))
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 1 then ttl = 1 end
return {count, ttl}
"""
_GIVE_BACK = """
if ARGV[1] == '1' then return redis.call('DEL', KEYS[1]) end
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count <= 1 then return redis.call('DEL', KEYS[1]) end
return redis.call('DECR', KEYS[1])
"""


class RedisCounters:
    """The same counters in Redis, shared by every replica."""

    def __init__(self, client: redis.Redis, prefix: str = "smsfleet:login:") -> None:
        self._client = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    def take(self, key: str, *, limit: int, window: int) -> tuple[int, int]:
        keys = [f"{self._prefix}n:{key}", f"{self._prefix}s:{key}"]
        args = [limit, window, MAX_LOCKOUT_SECONDS, STRIKES_TTL_SECONDS]
        count, ttl = self._take(keys=keys, args=args)
        return int(count), int(ttl)

    def give_back(self, key: str, *, clear: bool) -> None:
        self._give_back(keys=[f"{self._prefix}n:{key}"], args=["1" if clear else "0"])


@dataclass(frozen=True)
class Attempt:
    """A counted login attempt; give it back when the password was right. One presenting
    a device token within its budget is counted on `device` alone."""

    pair: str
    address: str
    device: str | None = None


class LoginThrottle:
    def __init__(
        self,
        *,
        per_user: int,
        per_address: int,
        window_seconds: int,
        per_device: int = FAILURES_PER_DEVICE,
        storage_url: str = "memory://",
        redis_prefix: str = "smsfleet",
    ) -> None:
        self._counters: Counters = (
            RedisCounters(
                redis.Redis.from_url(storage_url, socket_connect_timeout=2),
                prefix=f"{redis_prefix}:login:",
            )
            if storage_url.startswith(("redis://", "rediss://", "unix://"))
            else MemoryCounters()
        )
        self._per_user = per_user
        self._per_address = per_address
        self._per_device = per_device
        self._window = window_seconds

    def begin(self, *, username: str, address: str, device: str | None = None) -> Attempt:
        """Count an attempt before its password is checked; `Throttled` when over a limit.

        `device` is the id of a device token already verified to be `username`'s: within
        its budget the attempt counts there only; past it, as one without.
        A refused attempt stays counted: hammering a locked pair keeps it locked.
        """
        client = client_key(address)
        attempt = Attempt(pair=f"pair:{username.lower()}|{client}", address=f"addr:{client}")
        if device is not None:
            key = f"device:{device}"
            # Past its budget the device's count stays taken, so that it stays spent.
            count, _ = self._counters.take(key, limit=self._per_device, window=self._window)
            if count <= self._per_device:
                return Attempt(pair=attempt.pair, address=attempt.address, device=key)
        count, wait = self._counters.take(attempt.pair, limit=self._per_user, window=self._window)
        if count > self._per_user:
            raise Throttled(
                f"too many failed logins for this user from here; retry in {wait} s",
                retry_after=wait,
            )
        count, wait = self._counters.take(
            attempt.address, limit=self._per_address, window=self._window
        )
        if count > self._per_address:
            self._counters.give_back(attempt.pair, clear=False)
            raise Throttled(
                f"too many failed logins from this address; retry in {wait} s", retry_after=wait
            )
        return attempt

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the pair's and the device's failures are forgotten, the
        address's kept."""
        self._counters.give_back(attempt.pair, clear=True)
        if attempt.device is not None:
            self._counters.give_back(attempt.device, clear=True)
        else:
            self._counters.give_back(attempt.address, clear=False)

    def not_checked(self, attempt: Attempt) -> None:
        """The password could not be checked (no capacity): the attempt does not count."""
        if attempt.device is not None:
            self._counters.give_back(attempt.device, clear=False)
            return
        self._counters.give_back(attempt.pair, clear=False)
        self._counters.give_back(attempt.address, clear=False)
