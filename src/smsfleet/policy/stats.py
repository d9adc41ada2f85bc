"""Success over a sliding window, its Wilson score interval and the evidence (pure functions).

A window is bounded by time and by count: the completed attempts of the last
`span` (by `completed_at`), at most the newest `max_attempts` of them. Success is
delivered / completed, as everywhere in metrics.

Decisions are taken on evidence, not on the raw ratio nor on thin samples: a
route is *confidently below* a line when the upper end of the Wilson score
interval is under it, *confidently above* when the lower end is over it. In
between, the figures do not say which side the route is on, and nothing is
decided. `looks_at` says which figures are read (a window, and its newest attempts),
`beyond` which of them is over or under a line, and `evidence` says it in one sentence:
the same for the policy and the alerts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from statistics import NormalDist

__all__ = [
    "Z_95",
    "Look",
    "Window",
    "WindowStats",
    "beyond",
    "confidence",
    "evidence",
    "figures",
    "looks_at",
    "percent",
    "split_z",
    "wilson_interval",
    "wilson_lower_bound",
    "wilson_upper_bound",
]

# Two-sided 95 % normal quantile: the confidence of every decision unless configured.
Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of successes / trials ((0.0, 1.0) without trials)."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if z < 0:
        raise ValueError(f"z must not be negative, got {z}")
    if trials == 0:
        return 0.0, 1.0
    ratio = successes / trials
    z2 = z * z
    centre = ratio + z2 / (2 * trials)
    margin = z * math.sqrt(ratio * (1 - ratio) / trials + z2 / (4 * trials * trials))
    scale = 1 + z2 / trials
    return max(0.0, (centre - margin) / scale), min(1.0, (centre + margin) / scale)


def wilson_lower_bound(successes: int, trials: int, z: float = Z_95) -> float:
    """Lower end of the Wilson score interval of successes / trials (0.0 without trials)."""
    return wilson_interval(successes, trials, z)[0]


def wilson_upper_bound(successes: int, trials: int, z: float = Z_95) -> float:
    """Upper end of the Wilson score interval of successes / trials (1.0 without trials)."""
    return wilson_interval(successes, trials, z)[1]


def confidence(z: float) -> float:
    """The two-sided confidence level of the normal quantile `z` (1.96 → 0.95)."""
    return math.erf(z / math.sqrt(2))


def split_z(z: float, looks: int) -> float:
    """The quantile each of `looks` tests of one question takes so that together they
    keep `z`'s confidence (Bonferroni): 1.96 for one look, 2.24 each for two."""
    return NormalDist().inv_cdf(1 - (1 - confidence(z)) / (2 * looks))


@dataclass(frozen=True)
class Window:
    span: timedelta
    max_attempts: int
    # Its attempts are a probed pair's probes, counted since its probing began (a pair's
    # window never reaches back past its state's change), not all of the span's.
    probes: bool = False

    def __post_init__(self) -> None:
        if self.span <= timedelta(0) or self.max_attempts < 1:
            raise ValueError("a window needs a positive span and at least one attempt")

    def since(self, now: datetime) -> datetime:
        return now - self.span

    def describe(self) -> str:
        if self.probes:
            return f"its probes since it was probed, at most {self.max_attempts}"
        return f"last {self.minutes()} min, at most {self.max_attempts} attempts"

    def minutes(self) -> str:
        return f"{self.span.total_seconds() / 60:g}"

    def newest(self, count: int) -> Window:
        """The newest `count` attempts of this window's span."""
        return replace(self, max_attempts=count)


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

    def upper_bound(self, z: float = Z_95) -> float:
        return wilson_upper_bound(self.delivered, self.samples, z)

    def confidently_below(self, line: float, z: float = Z_95) -> bool:
        """The whole interval is under `line`: the route is worse than it, not unlucky."""
        return self.samples > 0 and self.upper_bound(z) < line

    def confidently_above(self, line: float, z: float = Z_95) -> bool:
        """The whole interval is over `line`: the route is better than it, not lucky."""
        return self.samples > 0 and self.lower_bound(z) > line


def percent(value: float) -> str:
    """A ratio as a person reads it: 0.5 → '50 %', 0.125 → '12.5 %'."""
    return f"{round(value * 100, 1):g} %"


def evidence(
    stats: WindowStats, *, window: Window, line: float, name: str, below: bool, z: float = Z_95
) -> str:
    """The figures a decision or an alert was taken on, and what they show, in plain words.

    '12 of 34 delivered (35 %) in the last 30 min: below the 50 % pause line with
    95 % confidence'; at the window's count, '32 of the newest 50 delivered…', so the
    figures are not read as all of the last 30 min's. `name` names the line ('pause',
    'resume', 'warning'…); `below` says which side of it the route is confidently on.
    """
    side = "below" if below else "above"
    return (
        f"{figures(stats, window)}: {side} the {percent(line)} {name} line with "
        f"{percent(confidence(z))} confidence"
    )


def figures(stats: WindowStats, window: Window) -> str:
    """'12 of 34 delivered (35 %) in the last 30 min'; at the window's count '32 of the
    newest 50 delivered…', so they are not read as all of the last 30 min's; a probed
    pair's '9 of 10 probes delivered (90 %)'."""
    ratio = stats.success_ratio or 0.0
    newest = "the newest " if stats.samples >= window.max_attempts else ""
    if window.probes:
        return (
            f"{stats.delivered} of {newest}{stats.samples} probes delivered ({ratio * 100:.0f} %)"
        )
    return (
        f"{stats.delivered} of {newest}{stats.samples} delivered ({ratio * 100:.0f} %) in the last "
        f"{window.minutes()} min"
    )


@dataclass(frozen=True)
class Look:
    """Figures a decision is taken on: the window they are of, and the quantile they
    were read at."""

    window: Window
    stats: WindowStats
    z: float


def looks_at(
    stats: WindowStats, newest: WindowStats | None, *, window: Window, fewest: int, z: float
) -> tuple[Look, ...]:
    """How the policy and the alerts read a subject's `window`: whole, and when it holds
    more than `fewest` attempts also its newest `fewest` (`newest`), each at the quantile
    that keeps the two together at `z`'s confidence (Bonferroni). So a route that turns
    bad after a good spell (or heals after a bad one) is judged on its newest attempts,
    not once they outweigh the rest of the window."""
    if newest is None or stats.samples <= fewest:
        return (Look(window, stats, z),)
    each = split_z(z, 2)
    return (Look(window, stats, each), Look(window.newest(fewest), newest, each))


def beyond(
    looks: Sequence[Look], line: float, *, name: str, below: bool, z: float = Z_95
) -> tuple[str, Look] | None:
    """The first of `looks` confidently on that side of `line` (below it: the worst of
    them, so a route that goes on failing never reads as if it recovered), and what it
    says (`evidence`, at the confidence `z` the looks keep together); None: none is."""
    found = [
        look
        for look in looks
        if (
            look.stats.confidently_below(line, look.z)
            if below
            else look.stats.confidently_above(line, look.z)
        )
    ]
    if not found:
        return None
    look = min(found, key=lambda look: look.stats.success_ratio or 0.0) if below else found[0]
    said = evidence(look.stats, window=look.window, line=line, name=name, below=below, z=z)
    return said, look
