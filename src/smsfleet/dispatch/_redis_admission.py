"""A lease's admission in ONE Redis script: the pair's room, the limiter, the attempt.

The script scans the pair's open attempts (closing the session's lost and expired
ones), checks the session's room, takes the limiter's decision (`_redis_limiter`'s
own function) and, when granted, opens the attempt on the pair's next free number
(`_redis_ledger`'s own functions): one round trip where the steps took three, and no
other lease between the check, the grant and the number chosen. It needs the limiter
and the ledger on one Redis (not a cluster: the ledger's keys and the country's are
in different hash slots).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis

from smsfleet.attempts import RedisLedger
from smsfleet.attempts._redis_ledger import FORGET_OPEN_AFTER, LEASE_FUNCTIONS
from smsfleet.attempts.models import Attempt
from smsfleet.core.clock import Clock
from smsfleet.core.loop_redis import LoopRedis
from smsfleet.dispatch._redis_limiter import DECIDE_FUNCTION, RedisLimiter
from smsfleet.dispatch.admission import Admitted, Entry
from smsfleet.dispatch.limiter import Decision, LimiterUnavailable, from_ms, to_ms

__all__ = ["ADMIT", "LoopAdmission", "RedisAdmission"]

# ARGV: the ledger's prefix and closed ttl, the limiter's 14 arguments, then the entry's.
_DECIDE_ARGS = 14
ADMIT = (
    LEASE_FUNCTIONS
    + DECIDE_FUNCTION
    + f"""
local decide_args = {{unpack(ARGV, 3, {2 + _DECIDE_ARGS})}}
local base = {2 + _DECIDE_ARGS}
local session, pair, now = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
local expire_before, open_since = tonumber(ARGV[base + 4]), tonumber(ARGV[base + 5])
local forget_before, leased = tonumber(ARGV[base + 6]), ARGV[base + 7]
local attempt, phones = ARGV[base + 8], ARGV[base + 9]
local limit, open_now, said = tonumber(ARGV[base + 10]), ARGV[base + 11], ARGV[base + 12]
-- The numbers kept for waiting on-demand sends this lease does not carry: no room, and
-- never the attempt's.
local withheld, any_withheld = {{}}, false
for number in string.gmatch(ARGV[base + 13], '[^\\n]+') do
  withheld[number], any_withheld = true, true
end

-- {{what happened, busy count or wait (ms), the opened attempt or '', closed ...}}
-- what happened: 0 no room (the limiter not asked), 1 refused, 2 granted
local answer = {{0, 0, ''}}
local busy = scan(pair, session, now, expire_before, open_since, forget_before, answer)
if said == '1' then
  local carried, kept = {{}}, {{}}
  for i = base + 14, #ARGV do carried[ARGV[i]] = true end
  for _, entry in ipairs(busy) do
    if entry.owner == session and not carried[entry.id] then
      local done = close(entry.id, session,
        {{outcome = 'error', error_code = 'lease_lost', completed_at = now}})
      if done then table.insert(answer, done) end
    else
      table.insert(kept, entry)
    end
  end
  busy = kept
end

local mine, taken, free = 0, {{}}, false
for _, entry in ipairs(busy) do
  if entry.owner == session then mine = mine + 1 end
  taken[entry.phone] = true
end
for number in string.gmatch(phones, '[^\\n]+') do
  if not taken[number] and not withheld[number] then free = true end
end
if mine >= limit or not free then
  answer[2] = #busy
  return answer
end

local decision = decide(KEYS, decide_args)
if decision[1] == 0 then
  answer[1], answer[2] = 1, decision[2]
  return answer
end
answer[1] = 2
if open_now == '1' then
  local rotate = phones
  if any_withheld then
    local left = {{}}
    for number in string.gmatch(phones, '[^\\n]+') do
      if not withheld[number] then table.insert(left, number) end
    end
    rotate = table.concat(left, '\\n')
  end
  answer[3] = open(pair, session, cjson.decode(attempt), leased, rotate, busy)
end
return answer
"""
)


class RedisAdmission:
    """`Admission` in one script, on the Redis that holds both `limiter` and `ledger`."""

    def __init__(self, *, limiter: RedisLimiter, ledger: RedisLedger, clock: Clock) -> None:
        self._limiter = limiter
        self._ledger = ledger
        self._clock = clock
        self._admit = ledger.register_script(ADMIT)

    def admit(self, entry: Entry) -> Admitted:
        keys, args, at = self.script_call(entry)
        try:
            reply = self._admit(keys=keys, args=args)
        except redis.RedisError as error:
            raise LimiterUnavailable(f"Redis: {error}") from error
        return self.admitted(reply, at=at)

    def on_loop(self, client: LoopRedis) -> LoopAdmission:
        """`admit` from the running event loop, through `client` (its own, on this Redis)."""
        return LoopAdmission(self, client)

    def script_call(self, entry: Entry) -> tuple[list[str], list[Any], datetime]:
        """The script's keys and arguments for `entry`, and the time it is asked at."""
        now_ms = to_ms(self._clock.now())
        at = from_ms(now_ms)
        keys, decide_args = self._limiter.script_call(entry.ask, now_ms)
        attempt = entry.attempt.model_copy(update={"leased_at": at})
        args: list[Any] = self._ledger.script_args(
            *decide_args,
            entry.session,
            attempt.pair,
            attempt.leased_at.isoformat(),
            to_ms(at - entry.ttl) if entry.expire else -1,
            to_ms(at - entry.ttl),
            to_ms(at - FORGET_OPEN_AFTER),
            now_ms,
            attempt.model_dump_json(),
            "\n".join(entry.phones),
            entry.limit,
            int(entry.open),
            int(entry.in_flight is not None),
            "\n".join(entry.withheld),
            *(entry.in_flight or ()),
        )
        return keys, args, at

    @staticmethod
    def admitted(reply: Sequence[Any], *, at: datetime) -> Admitted:
        """What the script's `reply` to a call made `at` says was decided."""
        happened, figure, opened, *closed = reply
        gone = [Attempt.model_validate_json(entry) for entry in closed]
        if happened == 0:
            return Admitted(closed=gone, busy=int(figure))
        decision = Decision(granted=happened == 2, retry_after=int(figure) / 1000, at=at)
        return Admitted(
            closed=gone,
            decision=decision,
            attempt=Attempt.model_validate_json(opened) if opened else None,
        )


class LoopAdmission:
    """`RedisAdmission.admit` on an event loop (`LoopRedis`): the same script, with
    no trip to a thread."""

    def __init__(self, admission: RedisAdmission, client: LoopRedis) -> None:
        self._admission = admission
        self._admit = client.register_script(ADMIT)

    async def admit(self, entry: Entry) -> Admitted:
        keys, args, at = self._admission.script_call(entry)
        try:
            reply = await self._admit(keys=keys, args=args)
        except redis.RedisError as error:
            raise LimiterUnavailable(f"Redis: {error}") from error
        return self._admission.admitted(reply, at=at)
