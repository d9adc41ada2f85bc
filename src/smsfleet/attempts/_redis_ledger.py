"""The attempts' hot path in Redis, written through to SQL in batches.

Every lease (alone, or in the dispatcher's admission) and report is ONE Lua script,
atomic across replicas; each change
of an attempt is appended, whole, to a stream. A drainer in every process reads the
stream as one consumer group and applies what it read to SQL in one transaction
(`AttemptStore.apply`, idempotent and order-free), then acknowledges it. A process
killed between reading and acknowledging leaves its entries pending: another consumer
(or the same process started again) claims them once they have been idle
`claim_idle`, so nothing is lost, and applying twice changes nothing, so nothing is
doubled.

Keys (one hash tag, so a cluster keeps them on one node):
- `…:open`          hash: trigger id → the open attempt (JSON)
- `…:pair:<pair>`   hash: trigger id → `session<TAB>phone<TAB>leased ms` of its open attempts
- `…:last:<pair>`   `phone<TAB>leased ms` of the pair's latest lease (phone rotation, probes)
- `…:closed:<id>`   the closed attempt (JSON), kept `closed_ttl` to answer repeated reports
- `…:stream`        every change of an attempt, drained to SQL
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry
from sqlalchemy.exc import SQLAlchemyError

from smsfleet.attempts.ledger import OpenLease, ReportBeforeLease, SentNotice
from smsfleet.attempts.models import Attempt, Completion
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.loop_redis import LoopRedis

__all__ = ["LoopReports", "RedisLedger"]

log = logging.getLogger("smsfleet.attempts")

GROUP = "sql"
# An attempt open this long is left to SQL alone (its session is long gone).
FORGET_OPEN_AFTER = timedelta(days=1)
# How often a drainer looks for entries that other (dead) consumers left.
CLAIM_EVERY_SECONDS = 5.0

# ARGV[1] is the key prefix and ARGV[2] how long a closed attempt is kept, in every script.
_CLOSE = """
local prefix = ARGV[1]
local closed_ttl = tonumber(ARGV[2])

-- Close the session's open attempt `id` with `fields`; its JSON, or nil when it is not
-- open or not the session's. With `keep_told`, what `fields` leaves out (null) stays as
-- known: when the SMS left, as told before.
local function close(id, session, fields, keep_told)
  local open = redis.call('HGET', prefix .. ':open', id)
  if not open then return nil end
  local attempt = cjson.decode(open)
  if attempt.session ~= session then return nil end
  for name, value in pairs(fields) do
    if value ~= cjson.null or not keep_told then attempt[name] = value end
  end
  local closed = cjson.encode(attempt)
  redis.call('HDEL', prefix .. ':open', id)
  redis.call('HDEL', prefix .. ':pair:' .. attempt.pair, id)
  redis.call('SET', prefix .. ':closed:' .. id, closed, 'EX', closed_ttl)
  redis.call('XADD', prefix .. ':stream', '*', 'a', closed)
  return closed
end

-- Give the session's open attempt `id` up as unreported past its lease, at `now`.
local function expire(id, session, now)
  local fields = {outcome = 'error', error_code = 'lease_expired', completed_at = now}
  return close(id, session, fields, true)
end
"""

# The lease's two halves, also run by the dispatcher's one-trip admission
# (`dispatch._redis_admission`) with the limiter's decision between them.
LEASE_FUNCTIONS = (
    _CLOSE
    + """
-- The pair's open attempts. The session's leased before `expire_before` (when >= 0) are
-- closed as expired, their JSON appended to `closed`; those long unreported are left to
-- SQL; the rest leased since `open_since` are returned, as {id, owner, phone}.
local function scan(pair, session, now, expire_before, open_since, forget_before, closed)
  local pair_key = prefix .. ':pair:' .. pair
  local busy = {}
  local entries = redis.call('HGETALL', pair_key)
  for i = 1, #entries, 2 do
    local owner, phone, at = string.match(entries[i + 1], '^(.-)\\t(.-)\\t(.*)$')
    at = tonumber(at)
    if expire_before >= 0 and owner == session and at < expire_before then
      local done = expire(entries[i], session, now)
      if done then table.insert(closed, done) end
    elseif at >= open_since then
      table.insert(busy, {id = entries[i], owner = owner, phone = phone})
    elseif at < forget_before then
      -- Long unreported (its session gone): SQL keeps it open; Redis need not.
      redis.call('HDEL', prefix .. ':open', entries[i])
      redis.call('HDEL', pair_key, entries[i])
    end
  end
  return busy
end

-- Open `attempt` (a table) leased at `leased` (ms), and return its JSON. With `rotate`
-- (numbers, one a line), on the number after the pair's latest, skipping the busy ones.
local function open(pair, session, attempt, leased, rotate, busy)
  local pair_key, last_key = prefix .. ':pair:' .. pair, prefix .. ':last:' .. pair
  if rotate ~= '' then
    local taken = {}
    for _, entry in ipairs(busy) do taken[entry.phone] = true end
    local numbers = {}
    for number in string.gmatch(rotate, '[^\\n]+') do table.insert(numbers, number) end
    local last = redis.call('GET', last_key)
    local last_phone = last and string.match(last, '^(.-)\\t') or nil
    local start = 1
    for i, number in ipairs(numbers) do
      if number == last_phone then start = i % #numbers + 1 end
    end
    attempt.phone = numbers[start]
    for k = 0, #numbers - 1 do
      local number = numbers[(start - 1 + k) % #numbers + 1]
      if not taken[number] then attempt.phone = number; break end
    end
  end
  local opened = cjson.encode(attempt)
  redis.call('HSET', prefix .. ':open', attempt.id, opened)
  redis.call('HSET', pair_key, attempt.id, session .. '\\t' .. attempt.phone .. '\\t' .. leased)
  redis.call('SET', last_key, attempt.phone .. '\\t' .. leased)
  redis.call('XADD', prefix .. ':stream', '*', 'a', opened)
  return opened
end
"""
)

_LEASE = (
    LEASE_FUNCTIONS
    + """
local session, pair, now = ARGV[3], ARGV[4], ARGV[5]
local expire_before, open_since = tonumber(ARGV[6]), tonumber(ARGV[7])
local leased, rotate, forget_before = ARGV[8], ARGV[10], tonumber(ARGV[11])
local answer = {false}
local busy = scan(pair, session, now, expire_before, open_since, forget_before, answer)
answer[1] = open(pair, session, cjson.decode(ARGV[9]), leased, rotate, busy)
return answer
"""
)

# 1: closed now; 2: closed before (a repeat); 3: open, another session's; 4: open, the
# session's, leased after `leased_by` (ms; -1: any time); 0: unknown here. ARGV[7] is
# '1' when the report keeps what its program told of the send (`Completion.keeps_told`).
_REPORT = (
    _CLOSE
    + """
local id, session, leased_by = ARGV[3], ARGV[4], tonumber(ARGV[6])
local open = redis.call('HGET', prefix .. ':open', id)
if not open then
  local closed = redis.call('GET', prefix .. ':closed:' .. id)
  if closed then return {2, closed} end
  return {0}
end
local attempt = cjson.decode(open)
if attempt.session ~= session then return {3, open} end
if leased_by >= 0 then
  -- Its lease in ms, as its pair's entry holds it (the JSON's is ISO text).
  local entry = redis.call('HGET', prefix .. ':pair:' .. attempt.pair, id)
  if tonumber(string.match(entry, '\\t(%d+)$')) > leased_by then return {4, open} end
end
return {1, close(id, session, cjson.decode(ARGV[5]), ARGV[7] == '1')}
"""
)


# Close each (id, session) of ARGV[4], ARGV[5]… still open as expired, at ARGV[3].
_EXPIRE = (
    _CLOSE
    + """
local closed = {}
for i = 4, #ARGV, 2 do
  local done = expire(ARGV[i], ARGV[i + 1], ARGV[3])
  if done then table.insert(closed, done) end
end
return closed
"""
)

# Mark each open attempt of session ARGV[3] named in ARGV[4…] (id, sent_at, its latest
# lease in ms, provider or '') as sent then, unless marked already or leased later: the
# ids it marked, then (after '') those Redis holds neither open nor closed (SQL's alone).
_MARK_SENT = (
    _CLOSE
    + """
local session, marked, unknown = ARGV[3], {}, {}
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  local open = redis.call('HGET', prefix .. ':open', id)
  local attempt = open and cjson.decode(open)
  local unmarked = attempt and (attempt.sent_at == nil or attempt.sent_at == cjson.null)
  if not open and redis.call('EXISTS', prefix .. ':closed:' .. id) == 0 then
    table.insert(unknown, id)
  elseif unmarked and attempt.session == session then
    local entry = redis.call('HGET', prefix .. ':pair:' .. attempt.pair, id)
    if entry and tonumber(string.match(entry, '\\t(%d+)$')) <= tonumber(ARGV[i + 2]) then
      attempt.sent_at = ARGV[i + 1]
      if ARGV[i + 3] ~= '' then attempt.provider = ARGV[i + 3] end
      local told = cjson.encode(attempt)
      redis.call('HSET', prefix .. ':open', id, told)
      redis.call('XADD', prefix .. ':stream', '*', 'a', told)
      table.insert(marked, id)
    end
  end
end
table.insert(marked, '')
for _, id in ipairs(unknown) do table.insert(marked, id) end
return marked
"""
)


def _reported(answer: Sequence[Any]) -> tuple[Attempt, bool] | None:
    """`_REPORT`'s answer: the attempt and whether this report closed it; None when the
    attempt is not in Redis."""
    if answer[0] == 0:
        return None
    attempt = Attempt.model_validate_json(answer[1])
    if answer[0] == 4:
        raise ReportBeforeLease(attempt)
    return attempt, answer[0] == 1


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


class RedisLedger:
    def __init__(
        self,
        client: redis.Redis,
        *,
        store: AttemptStore,
        prefix: str,
        closed_ttl: timedelta = timedelta(hours=1),
        batch: int = 500,
        block: timedelta = timedelta(milliseconds=50),
        gather: timedelta = timedelta(milliseconds=100),
        claim_idle: timedelta = timedelta(seconds=10),
        owns_client: bool = False,
        url: str | None = None,
    ) -> None:
        self._client = client
        # Where an event loop's own client connects (`on_loop`); None: it cannot.
        self._url = url
        self._store = store
        self._prefix = prefix
        self._stream = f"{prefix}:stream"
        self._closed_ttl = int(closed_ttl.total_seconds())
        self._batch = batch
        self._block_ms = int(block / timedelta(milliseconds=1))
        self._gather_seconds = gather.total_seconds()
        self._claim_idle_ms = int(claim_idle / timedelta(milliseconds=1))
        self._owns_client = owns_client
        self._consumer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = client.register_script(_LEASE)
        self._report = client.register_script(_REPORT)
        self._expire = client.register_script(_EXPIRE)
        self._mark_sent = client.register_script(_MARK_SENT)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # One drain at a time in this process: the loop's, or a caller's `drain()`.
        self._draining = threading.Lock()
        self._group_ready = False
        # Entries this consumer read and has not applied yet (a failed try, or claimed).
        self._left_over = False

    @classmethod
    def from_url(cls, url: str, *, store: AttemptStore, prefix: str) -> RedisLedger:
        # One quick retry: a lease must not hang while Redis is away.
        client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1)
        )
        return cls(client, store=store, prefix=prefix, owns_client=True, url=url)

    def loop_client(self) -> LoopRedis | None:
        """A client of its own for the running event loop, on this ledger's Redis (None:
        this ledger does not know its URL). The caller closes it on that loop."""
        return None if self._url is None else LoopRedis.from_url(self._url)

    # --- the hot path ----------------------------------------------------------------

    def script_args(self, *rest: Any) -> list[Any]:
        """A script's arguments: the ledger's own (`_CLOSE`'s), then `rest`."""
        return [self._prefix, self._closed_ttl, *rest]

    def register_script(self, source: str) -> Script:
        """A script on this ledger's Redis (one that runs its functions)."""
        return self._client.register_script(source)

    def report_args(
        self, trigger_id: str, session: str, completion: Completion, leased_by: datetime | None
    ) -> list[Any]:
        """`_REPORT`'s arguments."""
        bound = _ms(leased_by) if leased_by is not None else -1
        keep_told = "1" if completion.keeps_told else "0"
        return self.script_args(trigger_id, session, completion.model_dump_json(), bound, keep_told)

    def open_in_pair(self, pair: str, *, leased_since: datetime) -> list[tuple[str, str, str]]:
        return [(id_, session, phone) for id_, session, phone, _ in self._open(pair, leased_since)]

    def open_leases(self, pair: str, *, leased_since: datetime) -> list[OpenLease]:
        return [
            OpenLease(id_, phone, _from_ms(leased))
            for id_, _, phone, leased in self._open(pair, leased_since)
        ]

    def _open(self, pair: str, leased_since: datetime) -> list[tuple[str, str, str, str]]:
        """(id, session, phone, lease in ms) of the pair's open attempts leased since then."""
        since = _ms(leased_since)
        found = []
        for id_, value in self._client.hgetall(f"{self._prefix}:pair:{pair}").items():
            session, phone, leased = _text(value).split("\t")
            if int(leased) >= since:
                found.append((_text(id_), session, phone, leased))
        return found

    def lease(
        self,
        attempt: Attempt,
        *,
        rotate: Sequence[str],
        expire_before: datetime | None,
        now: datetime,
        open_since: datetime,
    ) -> tuple[Attempt, list[Attempt]]:
        opened, *expired = self._lease(
            args=self.script_args(
                attempt.session,
                attempt.pair,
                _iso(now),
                _ms(expire_before) if expire_before is not None else -1,
                _ms(open_since),
                _ms(attempt.leased_at),
                attempt.model_dump_json(),
                "\n".join(rotate),
                _ms(now - FORGET_OPEN_AFTER),
            )
        )
        return (
            Attempt.model_validate_json(opened),
            [Attempt.model_validate_json(entry) for entry in expired],
        )

    def report(
        self,
        trigger_id: str,
        *,
        session: str,
        completion: Completion,
        leased_by: datetime | None = None,
    ) -> tuple[Attempt | None, bool]:
        answer = self._report(args=self.report_args(trigger_id, session, completion, leased_by))
        found = _reported(answer)
        if found is None:
            return self.report_in_sql(
                trigger_id, session=session, completion=completion, leased_by=leased_by
            )
        return found

    def report_in_sql(
        self,
        trigger_id: str,
        *,
        session: str,
        completion: Completion,
        leased_by: datetime | None = None,
    ) -> tuple[Attempt | None, bool]:
        """A report of an attempt not in Redis (leased before this ledger kept it, or
        closed long ago): the SQL store's (blocking)."""
        return self._store.report(
            trigger_id, session=session, completion=completion, leased_by=leased_by
        )

    def mark_sent(self, notices: Sequence[SentNotice], *, session: str) -> list[str]:
        """`Ledger.mark_sent`: those open in Redis (SQL learns it by the drain), then those
        SQL alone holds, as a report of one goes to SQL."""
        if not notices:
            return []
        told = [
            (notice.trigger_id, _iso(notice.sent_at), _ms(notice.leased_by), notice.provider or "")
            for notice in notices
        ]
        answer = self._mark_sent(args=self.script_args(session, *chain.from_iterable(told)))
        ids = [_text(id_) for id_ in answer]
        split = ids.index("")
        in_sql = set(ids[split + 1 :])
        elsewhere = [notice for notice in notices if notice.trigger_id in in_sql]
        return ids[:split] + (
            self._store.mark_sent(elsewhere, session=session) if elsewhere else []
        )

    def last_leased(self, pair: str) -> datetime | None:
        last = self._client.get(f"{self._prefix}:last:{pair}")
        if last is None:
            return self._store.last_leased(pair)
        return _from_ms(_text(last).split("\t")[1])

    def expire_unreported(
        self, *, leased_before: datetime, now: datetime, limit: int
    ) -> list[Attempt]:
        """`Ledger.expire_unreported`: those open in Redis, then those SQL alone holds
        open, which Redis forgot (`FORGET_OPEN_AFTER`) or lost (a restart without its
        data). One Redis holds, open or closed (its close not yet drained), is left to
        Redis: closed in SQL as well, it would be told twice, or lose its report."""
        open_key = f"{self._prefix}:open"
        due: list[str] = []
        for id_, value in self._client.hscan_iter(open_key, count=500):
            attempt = json.loads(value)
            if datetime.fromisoformat(attempt["leased_at"]) < leased_before:
                due += [_text(id_), attempt["session"]]
                if len(due) == 2 * limit:
                    break
        closed = self._expire(args=self.script_args(_iso(now), *due)) if due else []
        candidates = self._store.unreported(leased_before=leased_before, limit=limit)
        with self._client.pipeline(transaction=False) as pipe:
            for attempt in candidates:
                pipe.hexists(open_key, attempt.id)
                pipe.exists(f"{self._prefix}:closed:{attempt.id}")
            held = pipe.execute() if candidates else []
        sql_only = [a for n, a in enumerate(candidates) if not (held[2 * n] or held[2 * n + 1])]
        return [
            *(Attempt.model_validate_json(entry) for entry in closed),
            *self._store.expire(sql_only, now=now),
        ]

    # --- the drain to SQL ------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="attempts-drain", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            while self.drain():  # what this process read and has not applied yet
                pass
        except (redis.RedisError, SQLAlchemyError) as error:
            log.warning("attempts left in the stream for the next drain: %s", error)
        if self._owns_client:
            self._client.close()

    def drain(self, *, block: bool = False) -> int:
        """Apply one batch of the stream to SQL; how many entries it held."""
        with self._draining:
            self._ensure_group()
            # Entries read before but not applied come first.
            entries = self._read("0", block_ms=None) if self._left_over else []
            left_over = bool(entries)
            if not left_over:
                entries = self._read(">", block_ms=self._block_ms if block else None)
            if not entries:
                return 0
            self._left_over = True  # until applied and acknowledged
            self._store.apply([Attempt.model_validate_json(fields[b"a"]) for _, fields in entries])
            ids = [entry_id for entry_id, _ in entries]
            with self._client.pipeline(transaction=False) as pipe:
                pipe.xack(self._stream, GROUP, *ids)
                pipe.xdel(self._stream, *ids)
                pipe.execute()
            # Left-overs may come in more than one batch: the next drain looks again.
            self._left_over = left_over
            return len(entries)

    def claim(self) -> int:
        """Take over the entries other consumers read and left (a process killed), once
        idle long enough; forget consumers gone with nothing left."""
        with self._draining:
            self._ensure_group()
            _, claimed, *_ = self._client.xautoclaim(
                self._stream, GROUP, self._consumer, self._claim_idle_ms, count=self._batch
            )
            self._left_over = self._left_over or bool(claimed)
            for consumer in self._client.xinfo_consumers(self._stream, GROUP):
                gone = consumer["idle"] > 3_600_000 and consumer["pending"] == 0
                if gone and consumer["name"] != self._consumer.encode():
                    self._client.xgroup_delconsumer(self._stream, GROUP, consumer["name"])
            return len(claimed)

    def _read(self, since: str, *, block_ms: int | None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        # [[stream, [(id, fields), …]]]; an entry deleted meanwhile has no fields.
        answer: Any = self._client.xreadgroup(
            GROUP, self._consumer, {self._stream: since}, count=self._batch, block=block_ms
        )
        if not answer:
            return []
        return [(entry_id, fields) for entry_id, fields in answer[0][1] if fields]

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._client.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    def _loop(self) -> None:
        claimed_at = 0.0
        while not self._stop.is_set():
            try:
                if (now := time.monotonic()) - claimed_at > CLAIM_EVERY_SECONDS:
                    claimed_at = now
                    self.claim()
                drained = self.drain(block=True)
                if 0 < drained < self._batch:
                    # What comes next gathers meanwhile: under load a batch then holds
                    # many attempts in one transaction, rather than one or two each.
                    self._stop.wait(self._gather_seconds)
            except (redis.RedisError, SQLAlchemyError) as error:
                log.warning("draining attempts to SQL failed, trying again: %s", error)
                self._stop.wait(1.0)
            except Exception:
                log.exception("draining attempts to SQL failed, trying again")
                self._stop.wait(1.0)


class LoopReports:
    """`RedisLedger.report` on an event loop (`LoopRedis`): the same script, with no
    trip to a thread; only an attempt the ledger does not hold goes to a thread, for its
    SQL store (blocking)."""

    def __init__(self, ledger: RedisLedger, client: LoopRedis) -> None:
        self._ledger = ledger
        self._script = client.register_script(_REPORT)

    async def report(
        self,
        trigger_id: str,
        *,
        session: str,
        completion: Completion,
        leased_by: datetime | None = None,
    ) -> tuple[Attempt | None, bool]:
        args = self._ledger.report_args(trigger_id, session, completion, leased_by)
        found = _reported(await self._script(args=args))
        if found is None:
            return await asyncio.to_thread(
                self._ledger.report_in_sql,
                trigger_id,
                session=session,
                completion=completion,
                leased_by=leased_by,
            )
        return found
