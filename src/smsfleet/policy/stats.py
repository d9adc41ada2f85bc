"""Success over a sliding window and its Wilson lower bound (pure functions).

A window is bounded by time and by count: the completed attempts of the last
`span` (by `completed_at`), at most the newest `max_attempts` of them. Success is
delivered / completed, as everywhere in metrics. Decisions use the Wilson score
interval's lower bound rather than the raw ratio, so a handful of failures in a
small sample does not look like a dead route.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Z_95", "Window", "WindowStats", "wilson_lower_bound"]

# Two-sided 95 % normal quantile.
Z_95 = 1.959963984540054


def wilson_lower_bound(successes: int, trials: int, z: float = Z_95) -> float:
    """Lower end of the Wilson score interval of successes / trials (0.0 without trials)."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if z < 0:
        raise ValueError(f"z must not be negative, got {z}")
    if trials == 0:
        return 0.0
    ratio = successes / trials
    z2 = z * z
    centre = ratio + z2 / (2 * trials)
    margin = z * math.sqrt(ratio * (1 - ratio) / trials + z2 / (4 * trials * trials))
    return max(0.0, (centre - margin) / (1 + z2 / trials))


@dataclass(frozen=True)
class Window:
    span: timedelta
    max_attempts: int

    def __post_init__(self) -> None:
        if self.span <= timedelta(0) or self.max_attempts < 1:
            raise ValueError("a window needs a positive span and at least one attempt")

    def since(self, now: datetime) -> datetime:
        return now - self.span

    def describe(self) -> str:
        minutes = self.span.total_seconds() / 60
        return f"last {minutes:g} min, at most {self.max_attempts} attempts"


@dataclass(frozen=True)
class WindowStats:
    """Completed attempts of one subject (pair, country…) in a window."""

    samples: int
    delivered: int

    @property
    def success_ratio(self) -> float | None:
        return self.delivered / self.samples if self.samples else None

    def lower_bound(self, z: float = Z_95) -> float:
        return wilson_lower_bound(self.delivered, self.samples, z)
