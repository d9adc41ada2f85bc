"""The limiter in Redis, shared by every control-plane replica.

Each decision is ONE Lua script: Redis runs scripts atomically, so no other
decision of any replica interleaves. The script mirrors `limiter.decide_in`
step for step. Keys of a country share one hash tag, so a cluster keeps them
on one node.

Per country:
- `…:state`  hash: `last_slot` (ms, the slot the latest grant took), `seq` (grant counter)
- `…:grants` sorted set: one member `seq|pair|program` per grant, scored by its time
- `…:counts` hash: grants in the window per `p|pair` and per `g|pair|program`
- `…:asks`   hash: `pair|program` → `last_ask;waiting_since;due;pair_weight;program_weight`
  (`waiting_since` is -1 once granted)
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from smsfleet.core.clock import Clock
from smsfleet.dispatch.limiter import (
    Ask,
    Decision,
    LimiterPolicy,
    LimiterUnavailable,
    catch_up_ms,
    from_ms,
    spacing_ms,
    to_ms,
    tolerance_ms,
)

__all__ = ["RedisLimiter"]

# Abandoned countries' keys go away after an hour without a decision.
KEY_TTL_MS = 3_600_000

# The decision as a Lua function of its keys and arguments, so that the dispatcher's
# one-trip admission (`_redis_admission`) can take it between its busy check and lease.
DECIDE_FUNCTION = """
local function decide(KEYS, ARGV)
  local state_key, grants_key, counts_key, asks_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
  local now = tonumber(ARGV[1])
  local cap = tonumber(ARGV[2])
  local window = tonumber(ARGV[3])
  local active = tonumber(ARGV[4])
  local grace = tonumber(ARGV[5])
  local pair, program = ARGV[6], ARGV[7]
  local pair_weight, program_weight = tonumber(ARGV[8]), tonumber(ARGV[9])
  local spacing = tonumber(ARGV[10])
  local ttl = tonumber(ARGV[11])
  local tolerance = tonumber(ARGV[12])
  local early_turns = tonumber(ARGV[13])
  local catch_up = tonumber(ARGV[14])
  local me = pair .. '|' .. program

  local function ms(x) return string.format('%.0f', x) end

  local function count_down(field)
    if redis.call('HINCRBY', counts_key, field, -1) <= 0 then
      redis.call('HDEL', counts_key, field)
    end
  end

  -- grants that left the window
  local cutoff = ms(now - window)
  local expired = redis.call('ZRANGEBYSCORE', grants_key, '-inf', cutoff)
  for _, member in ipairs(expired) do
    local p, g = string.match(member, '^[^|]*|([^|]*)|(.*)$')
    count_down('p|' .. p)
    count_down('g|' .. p .. '|' .. g)
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', grants_key, '-inf', cutoff)
  end

  -- askers still active (limiter.is_active)
  local askers = {}
  local raw = redis.call('HGETALL', asks_key)
  for i = 1, #raw, 2 do
    local key = raw[i]
    local last, since, due, pw, gw =
      string.match(raw[i + 1], '^([^;]*);([^;]*);([^;]*);([^;]*);([^;]*)$')
    last, due = tonumber(last), tonumber(due)
    if last <= now - active and due + grace < now then
      redis.call('HDEL', asks_key, key)
    else
      local p, g = string.match(key, '^([^|]*)|(.*)$')
      askers[key] = {pair = p, last = last, since = tonumber(since), due = due,
                     pw = tonumber(pw), gw = tonumber(gw)}
    end
  end

  local mine = askers[me]
  local since = now
  if mine and mine.since >= 0 then since = mine.since end
  mine = {pair = pair, last = now, since = since, due = now, pw = pair_weight, gw = program_weight}
  askers[me] = mine

  local function finish(granted, wait)
    redis.call('HSET', asks_key, me, ms(mine.last) .. ';' .. ms(mine.since) .. ';' ..
      ms(mine.due) .. ';' .. string.format('%.17g', mine.pw) .. ';' ..
      string.format('%.17g', mine.gw))
    for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ttl) end
    return {granted, wait}
  end

  local slot = now
  local last_slot = redis.call('HGET', state_key, 'last_slot')
  if last_slot then slot = math.max(now - catch_up, tonumber(last_slot) + spacing) end
  local opens = slot - tolerance
  local count = redis.call('ZCARD', grants_key)
  if count >= cap then
    local freeing = redis.call('ZRANGE', grants_key, count - cap, count - cap, 'WITHSCORES')
    opens = math.max(opens, tonumber(freeing[2]) + window)
  end

  local function counted(field)
    return tonumber(redis.call('HGET', counts_key, field) or '0')
  end

  -- the waiting line, lowest share first: pair, then program (scaled to its pair: times
  -- the pair's programs asking), then longest wait (limiter.waiting_line)
  local programs_of = {}
  for _, a in pairs(askers) do programs_of[a.pair] = (programs_of[a.pair] or 0) + 1 end
  local line = {}
  for key, a in pairs(askers) do
    if a.since >= 0 and now <= a.due + grace then
      a.key = key
      a.share = {(counted('p|' .. a.pair) + 1) / a.pw,
                 (counted('g|' .. key) + 1) / a.gw * programs_of[a.pair], a.since}
      table.insert(line, a)
    end
  end
  table.sort(line, function(x, y)
    for i = 1, 3 do
      if x.share[i] ~= y.share[i] then return x.share[i] < y.share[i] end
    end
    return x.key < y.key
  end)

  -- come back for my place in line, less early_turns (limiter.my_turn)
  local function back_for_my_turn(winner)
    local slot0 = opens + tolerance
    local taken = {}
    local earliest = 0
    if winner then taken[0] = true; earliest = 1 end
    for _, a in ipairs(line) do
      if a.key == me then break end
      if a.key ~= winner then
        -- the first slot at or after its due time
        local turn = math.max(0, -math.floor((slot0 - a.due) / spacing))
        while taken[turn] do turn = turn + 1 end
        taken[turn] = true
      end
    end
    local turn = 0
    while taken[turn] do turn = turn + 1 end
    mine.due = slot0 - tolerance + math.max(earliest, turn - early_turns) * spacing
    return finish(0, mine.due - now)
  end

  if opens > now then return back_for_my_turn(nil) end
  -- the slot goes to the first in line who is due by now
  local winner = nil
  for _, a in ipairs(line) do
    if a.due <= now then winner = a.key; break end
  end
  if winner ~= me then return back_for_my_turn(winner) end
  local seq = redis.call('HINCRBY', state_key, 'seq', 1)
  redis.call('ZADD', grants_key, ms(now), seq .. '|' .. me)
  redis.call('HINCRBY', counts_key, 'p|' .. pair, 1)
  redis.call('HINCRBY', counts_key, 'g|' .. me, 1)
  redis.call('HSET', state_key, 'last_slot', ms(slot))
  mine.since = -1
  return finish(1, 0)
end
"""

_DECIDE = DECIDE_FUNCTION + "return decide(KEYS, ARGV)\n"

_WITHDRAW = """
local prefix = ARGV[1]
local exact = ARGV[2]
for _, key in ipairs(redis.call('HKEYS', KEYS[1])) do
  if key == exact or (exact == '' and string.sub(key, 1, #prefix) == prefix) then
    redis.call('HDEL', KEYS[1], key)
  end
end
return 0
"""


class RedisLimiter:
    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Clock,
        policy: LimiterPolicy | None = None,
        prefix: str = "smsfleet:dispatch",
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._clock = clock
        self._policy = policy or LimiterPolicy()
        self._prefix = prefix
        self._owns_client = owns_client
        self._decide = client.register_script(_DECIDE)
        self._withdraw = client.register_script(_WITHDRAW)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock,
        policy: LimiterPolicy | None = None,
        prefix: str = "smsfleet:dispatch",
    ) -> RedisLimiter:
        # One quick retry: a lease must not hang while Redis is away.
        client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1)
        )
        return cls(client, clock=clock, policy=policy, prefix=prefix, owns_client=True)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _keys(self, country: str) -> list[str]:
        base = f"{self._prefix}:{{{country}}}"
        return [f"{base}:state", f"{base}:grants", f"{base}:counts", f"{base}:asks"]

    def acquire(self, ask: Ask) -> Decision:
        now = to_ms(self._clock.now())
        keys, args = self.script_call(ask, now)
        try:
            granted, wait_ms = self._decide(keys=keys, args=args)
        except redis.RedisError as error:
            raise LimiterUnavailable(f"Redis: {error}") from error
        return Decision(granted=bool(granted), retry_after=int(wait_ms) / 1000, at=from_ms(now))

    def script_call(self, ask: Ask, now: int) -> tuple[list[str], list[Any]]:
        """The decision script's keys and arguments for `ask` at `now` (ms)."""
        policy = self._policy
        args: list[Any] = [
            now,
            ask.cap,
            policy.window_ms,
            policy.active_ms,
            policy.grace_ms,
            ask.pair,
            ask.program,
            repr(ask.pair_weight),
            repr(ask.program_weight),
            spacing_ms(ask.cap, policy.window_ms),
            KEY_TTL_MS,
            tolerance_ms(ask.cap, policy),
            policy.early_turns,
            catch_up_ms(ask.cap, policy),
        ]
        return self._keys(ask.country), args

    def withdraw(self, *, country: str, pair: str, program: str | None = None) -> None:
        exact = f"{pair}|{program}" if program is not None else ""
        self._withdraw(keys=[self._keys(country)[3]], args=[f"{pair}|", exact])
