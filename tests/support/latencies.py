"""Latency samples with known exact quantiles, for checking estimated ones."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

QUANTILES = (0.5, 0.95, 0.99)


def samples(kind: str, count: int, *, scale: float, seed: int = 20260105) -> list[float]:
    """`count` latencies (ms) around `scale`: lognormal, bimodal (80 % fast, 20 % about
    25 times slower) or constant."""
    rng = random.Random(seed)
    if kind == "lognormal":
        return [rng.lognormvariate(math.log(scale), 1.0) for _ in range(count)]
    if kind == "bimodal":
        return [
            rng.gauss(scale, scale / 10) if rng.random() < 0.8 else rng.gauss(25 * scale, scale)
            for _ in range(count)
        ]
    if kind == "constant":
        return [scale * 1.37] * count
    raise ValueError(kind)


def exact(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile: the ceil(q * n)-th smallest sample."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def within(estimate: float | None, value: float, relative: float = 0.02) -> bool:
    return estimate is not None and abs(estimate - value) <= relative * value
