"""One OS process asking a limiter as fast as it may, on the real clock (spawned by tests)."""

from __future__ import annotations

import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from smsfleet.core.clock import SystemClock
from smsfleet.core.sql import create_sql_engine
from smsfleet.dispatch._redis_limiter import RedisLimiter
from smsfleet.dispatch._sql_limiter import SqlLimiter
from smsfleet.dispatch.limiter import Ask, Limiter, to_ms

# Polls at least this often while told to wait, so processes really contend.
MAX_SLEEP = 0.02


def hammer(
    results: Queue[tuple[int, list[int]]],
    ready: Barrier,
    backend: str,
    url: str,
    prefix: str,
    index: int,
    cap: int,
    seconds: float,
) -> None:
    """Ask for `seconds` once every process is ready; put the grant times (ms)."""
    clock = SystemClock()
    engine = None
    limiter: Limiter
    if backend == "redis":
        limiter = RedisLimiter.from_url(url, clock=clock, prefix=prefix)
    else:
        engine = create_sql_engine(url)
        limiter = SqlLimiter(engine, clock=clock)
    ask = Ask(country="UZ", pair=f"UZ_op{index % 2}", program=f"program{index}", cap=cap)
    granted: list[int] = []
    try:
        ready.wait()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            decision = limiter.acquire(ask)
            if decision.granted:
                granted.append(to_ms(decision.at))
            else:
                time.sleep(min(decision.retry_after, MAX_SLEEP))
    finally:
        limiter.close()
        if engine is not None:
            engine.dispose()
    results.put((index, granted))
