"""The Wilson lower bound and the window helpers against known figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsfleet.policy.stats import Window, WindowStats, wilson_lower_bound


# 95 % Wilson score intervals as published (e.g. R's prop.test without continuity
# correction, statsmodels' proportion_confint(method="wilson")).
@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    [
        (5, 10, 0.2366),
        (1, 10, 0.0179),
        (9, 10, 0.5958),
        (10, 10, 0.7225),
        (50, 100, 0.4038),
        (0, 10, 0.0),
        (0, 0, 0.0),
    ],
)
def test_wilson_lower_bound_matches_published_values(
    successes: int, trials: int, expected: float
) -> None:
    assert wilson_lower_bound(successes, trials) == pytest.approx(expected, abs=5e-5)


def test_a_larger_sample_of_the_same_ratio_gives_a_higher_bound() -> None:
    bounds = [wilson_lower_bound(8 * n, 10 * n) for n in (1, 2, 5, 10, 100)]
    assert bounds == sorted(bounds)
    assert bounds[-1] < 0.8


def test_z_widens_the_interval() -> None:
    assert wilson_lower_bound(8, 10, z=2.576) < wilson_lower_bound(8, 10) < 0.8
    assert wilson_lower_bound(8, 10, z=0) == pytest.approx(0.8)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 5), (6, 5), (0, -1)])
def test_impossible_counts_are_refused(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_lower_bound(successes, trials)


def test_window_stats_figures() -> None:
    stats = WindowStats(samples=20, delivered=15)
    assert stats.success_ratio == 0.75
    assert stats.lower_bound() == pytest.approx(wilson_lower_bound(15, 20))
    assert WindowStats(samples=0, delivered=0).success_ratio is None


def test_window_start_and_description() -> None:
    window = Window(span=timedelta(minutes=30), max_attempts=50)
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert window.since(now) == now - timedelta(minutes=30)
    assert window.describe() == "last 30 min, at most 50 attempts"
    with pytest.raises(ValueError, match="positive span"):
        Window(span=timedelta(0), max_attempts=50)
