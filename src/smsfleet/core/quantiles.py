"""Latency quantiles within 2 % relative error from fine log-spaced bins.

A latency is counted in bin `i`, the values in (0.1 ms * 1.04^(i-1), 0.1 ms * 1.04^i]
(bin 0 holds everything up to 0.1 ms, the last bin everything from 10 minutes up,
so quantiles past 10 minutes read as about 10 minutes).
A quantile is the value of the bin its rank falls in, read as
2 * upper / (1 + 1.04): that value is within (1.04 - 1) / (1.04 + 1) = 1.96 % of
every latency in the bin, so of the exact quantile too, whatever the distribution.
This is the mapping of DDSketch (Masson et al., VLDB 2019) with its bins kept
sparse, as rows of (rollup key, bin, count) next to each rollup row.

Why bins in SQL and not a serialized sketch (the `ddsketch` package): bins are plain
counters, so rollups still merge in the database the way the other counters do
(`SUM(n) GROUP BY bin` over any days, hours or groups, an additive upsert on write)
and no rollup row has to be read, decoded, merged and written back by the writer of
the request log or by the rollup job. Only the bins that hold latencies are stored
(a few dozen per rollup row in practice, at most 400), and a read returns at most
400 rows per group however many days it spans.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = [
    "BIN_COUNT",
    "GAMMA",
    "LAST_BIN",
    "MAX_MS",
    "MIN_MS",
    "Bins",
    "add_bins",
    "bin_of",
    "bin_value",
    "count_bins",
    "quantile",
]

GAMMA = 1.04
MIN_MS = 0.1
MAX_MS = 600_000.0  # 10 minutes
_LOG_GAMMA = math.log(GAMMA)
LAST_BIN = math.ceil(math.log(MAX_MS / MIN_MS) / _LOG_GAMMA)
BIN_COUNT = LAST_BIN + 1

Bins = dict[int, int]


def bin_of(latency_ms: float) -> int:
    """The bin a latency (ms) is counted in."""
    if not latency_ms > MIN_MS:  # NaN too
        return 0
    if latency_ms >= MAX_MS:
        return LAST_BIN
    return max(1, min(LAST_BIN, math.ceil(math.log(latency_ms / MIN_MS) / _LOG_GAMMA)))


def bin_value(index: int) -> float:
    """The value (ms) that stands for every latency in a bin."""
    if index <= 0:
        return MIN_MS
    return 2 * MIN_MS * GAMMA ** min(index, LAST_BIN) / (1 + GAMMA)


def add_bins(target: Bins, other: Mapping[int, int]) -> Bins:
    """Add `other`'s counts into `target` (and return it)."""
    for index, n in other.items():
        if n:
            target[index] = target.get(index, 0) + n
    return target


def count_bins(latencies: Iterable[float]) -> Bins:
    bins: Bins = {}
    for latency in latencies:
        index = bin_of(latency)
        bins[index] = bins.get(index, 0) + 1
    return bins


def quantile(bins: Mapping[int, int | float], q: float) -> float | None:
    """The q-quantile (ms) of binned latencies by nearest rank: the value of the bin
    holding the ceil(q * n)-th smallest latency; None when there is none."""
    total = sum(bins.values())
    if total <= 0:
        return None
    rank = max(math.ceil(q * total) - 1, 0)
    running = 0.0
    for index in sorted(bins):
        running += bins[index]
        if running > rank:
            return bin_value(index)
    return bin_value(max(bins))
