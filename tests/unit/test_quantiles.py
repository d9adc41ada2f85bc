"""Fine latency bins: every quantile within 2 % of the exact one, merged in any order."""

from __future__ import annotations

import math
import random

import pytest

from smsfleet.core.quantiles import (
    BIN_COUNT,
    LAST_BIN,
    add_bins,
    bin_of,
    bin_value,
    count_bins,
    quantile,
)


def exact(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def test_every_value_in_range_reads_back_within_two_percent() -> None:
    value = 0.1001
    while value < 600_000:
        assert abs(bin_value(bin_of(value)) - value) <= 0.0197 * value, value
        value *= 1.0073
    assert bin_of(0) == 0 and bin_of(10**9) == LAST_BIN and BIN_COUNT <= 400


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quantiles_of_merged_bins_are_within_two_percent(seed: int) -> None:
    rng = random.Random(seed)
    samples = [rng.lognormvariate(3, 1.5) for _ in range(5_000)]
    parts: list[dict[int, int]] = [count_bins(samples[i::7]) for i in range(7)]
    merged: dict[int, int] = {}
    for part in reversed(parts):
        add_bins(merged, part)
    for q in (0.5, 0.95, 0.99):
        estimate = quantile(merged, q)
        assert estimate is not None
        assert abs(estimate - exact(samples, q)) <= 0.02 * exact(samples, q)
    assert quantile({}, 0.5) is None
