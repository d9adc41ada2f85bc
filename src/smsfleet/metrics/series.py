"""Hour series packed a week to a row: what long hourly trends read.

`metrics_week_series` holds, for each week and each series of a grouping (the fleet,
a country, a pair, a program), the week's 168 whole hours as the figures a trend point
shows: delivered, not delivered, failed (send failed + error), granted (attempts leased
in the hour), broken off after their SMS reached the gateway (counted in `sent`) and the
p95 delivery latency read off the coarse histogram (-1: none delivered with a latency).
Each is a little-endian 32-bit integer, 6 to an hour, 1,008 to a week (4,032 bytes).
Weeks are counted from the epoch, so each starts on a Thursday at 00:00 UTC. A 30-day
trend by pair reads 200 x 5 or 6 such rows instead of 432,000 hour rows of 26 columns.

The rollup job refolds the hours it rewrites (`Rollups`), so the series equal the
hour rollups, and so the raw counts.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping, Sequence
from datetime import timedelta

from smsfleet.metrics.models import LATENCY_BUCKETS_MS
from smsfleet.metrics.tables import HISTOGRAM_SIZE
from smsfleet.metrics.tally import GroupKey, Tally

WEEK = timedelta(days=7)
HOURS_PER_WEEK = 168
FIELDS = 6  # delivered, not_delivered, failed, granted, broken_off_sent, latency_p95_ms
NO_LATENCY = -1  # latency_p95_ms when none was delivered with a latency
# An hour with nothing in it.
BLANK_HOUR = (0, 0, 0, 0, 0, NO_LATENCY)
# Each kind of series (a grouping) → where its key is in a rollup row's key (pair,
# program, country, operator); the fleet's one series has the key "all".
GROUPINGS: dict[str, int | None] = {"fleet": None, "country": 2, "pair": 0, "program": 1}
FLEET_KEY = "all"

SeriesKey = tuple[str, str]  # (kind, key)


def bucketed_percentile(histogram: Sequence[int], q: float) -> int | None:
    """The q-quantile (ms) of the coarse histogram, interpolated inside its bucket: the
    long trends' points, which do not read the fine bins."""
    count = sum(histogram)
    if count == 0:
        return None
    rank = q * count
    cumulative, lower = 0, 0
    for index, n in enumerate(histogram):
        if index == len(LATENCY_BUCKETS_MS):
            return lower  # above the last bound: the bound is the best estimate
        upper = LATENCY_BUCKETS_MS[index]
        if n and cumulative + n >= rank:
            return round(lower + (upper - lower) * (rank - cumulative) / n)
        cumulative += n
        lower = upper
    return lower


def pack(values: Sequence[int]) -> bytes:
    packed = array("i", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack(blob: bytes) -> array[int]:
    values = array("i")
    values.frombytes(blob)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def empty_week() -> array[int]:
    return array("i", BLANK_HOUR * HOURS_PER_WEEK)


def series_of(rollup_key: GroupKey) -> list[SeriesKey]:
    """The series a rollup row (pair, program, country, operator) counts in."""
    return [
        (grouping, FLEET_KEY if index is None else rollup_key[index])
        for grouping, index in GROUPINGS.items()
    ]


def fold_hours(
    hours: Mapping[tuple[int, GroupKey], Tally],
) -> dict[tuple[int, SeriesKey], tuple[int, ...]]:
    """Rollup hours (epoch, rollup key) → each series' hour figures: delivered, not
    delivered, failed, granted, broken off after sending and p95 (NO_LATENCY: none)."""
    sums: dict[tuple[int, SeriesKey], list[int]] = {}
    counts = FIELDS - 1
    for (bucket, key), tally in hours.items():
        for series in series_of(key):
            total = sums.get((bucket, series))
            if total is None:
                total = sums[(bucket, series)] = [0] * (counts + HISTOGRAM_SIZE)
            total[0] += tally.delivered
            total[1] += tally.not_delivered
            total[2] += tally.send_failed + tally.error
            total[3] += tally.granted
            total[4] += tally.broken_off_sent
            for index, n in enumerate(tally.histogram, start=counts):
                total[index] += n
    result: dict[tuple[int, SeriesKey], tuple[int, ...]] = {}
    for where, total in sums.items():
        p95 = bucketed_percentile(total[counts:], 0.95)
        result[where] = (*total[:counts], NO_LATENCY if p95 is None else p95)
    return result


def week_of(epoch: int) -> int:
    """The start (epoch seconds) of the week that holds `epoch`."""
    return epoch - epoch % int(WEEK.total_seconds())
