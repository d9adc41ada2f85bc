"""The attempts ledger: every SMS attempt from its lease to its outcome.

Only this package reads or writes the `attempts` table: the dispatcher writes
through a `ledger.Ledger` (`store.AttemptStore` in SQL, or `RedisLedger`, which keeps
open attempts in Redis and drains every change to SQL in batches), the policy and
alerts judge on its windows, the metrics job rolls it up through `queries` and purges
it through the store.
"""

from smsfleet.attempts._redis_ledger import LoopReports, RedisLedger

__all__ = ["LoopReports", "RedisLedger"]
