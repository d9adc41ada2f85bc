"""A script call's CPU on the event loop: redis-py's asyncio client against `LoopRedis`.

    .venv/bin/python benchmarks/loop_redis.py [--calls 6000] [--at-once 1,32] [--rounds 3]

One process, uvloop, the Redis at SMSFLEET_REDIS_URL (redis://127.0.0.1:6379/0). Each
client calls a script shaped as a lease's admission (17 arguments, one of them an
attempt's JSON) `--calls` times, `--at-once` calls in flight together. Prints, for each
client and each level, the least CPU per call (all the process's threads) and its
wall-clock time over `--rounds` rounds, the clients' rounds interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsfleet.core.loop_redis import LoopRedis

REDIS_URL = os.environ.get("SMSFLEET_REDIS_URL", "redis://127.0.0.1:6379/0")
SCRIPT = """
local size = 0
for i = 1, #ARGV do size = size + #ARGV[i] end
redis.call('SET', KEYS[1], size, 'EX', 60)
return {2, size, ARGV[13], 'closed'}
"""
KEYS = ["smsfleet-bench:loop-redis"]
ATTEMPT = {"trigger_id": "a" * 32, "pair": "UZ_uzmobile", "phone": "+998900000000"}
ARGS: list[Any] = [
    *("smsfleet:", 3600, 10, 60000, "UZ", "program1_UZ_uzmobile", "UZ_uzmobile"),
    *(datetime.now(UTC).isoformat(), -1, 0, 0, 1_733_000_000_000),
    json.dumps({**ATTEMPT, "padding": "x" * 300}),
    *("+998900000001\n+998900000002", 6, 1, 0),
]


async def measure(
    call: Callable[[], Awaitable[Any]], calls: int, at_once: int
) -> tuple[float, float]:
    """CPU and wall-clock µs per call."""
    await asyncio.gather(*(call() for _ in range(at_once)))
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls // at_once):
        await asyncio.gather(*(call() for _ in range(at_once)))
    done = (calls // at_once) * at_once
    return (
        (time.process_time() - cpu) / done * 1e6,
        (time.perf_counter() - wall) / done * 1e6,
    )


async def main(calls: int, levels: list[int], rounds: int) -> None:
    pooled = aioredis.Redis.from_pool(
        aioredis.BlockingConnectionPool.from_url(REDIS_URL, max_connections=64, timeout=5)
    )
    loop_redis = LoopRedis.from_url(REDIS_URL)
    clients: dict[str, Callable[..., Awaitable[Any]]] = {
        "redis.asyncio": pooled.register_script(SCRIPT),
        "LoopRedis": loop_redis.register_script(SCRIPT),
    }
    print(f"{platform.node()} {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"{'client':14} {'at once':>7} {'CPU µs/call':>12} {'wall µs/call':>13}")
    try:
        for level in levels:
            best: dict[str, tuple[float, float]] = {}
            for _ in range(rounds):
                for name, script in clients.items():
                    figures = await measure(partial(script, keys=KEYS, args=ARGS), calls, level)
                    best[name] = min(best.get(name, figures), figures)
            for name, (cpu, wall) in best.items():
                print(f"{name:14} {level:>7} {cpu:>12.1f} {wall:>13.1f}")
    finally:
        await pooled.aclose()
        await loop_redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=6000)
    parser.add_argument("--at-once", default="1,32")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    uvloop.run(main(args.calls, [int(level) for level in args.at_once.split(",")], args.rounds))
