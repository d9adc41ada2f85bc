"""The Wilson score interval, the evidence sentence and the window helpers on known figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsfleet.policy.stats import (
    Window,
    WindowStats,
    confidence,
    evidence,
    percent,
    wilson_lower_bound,
    wilson_upper_bound,
)


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


@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    [
        (5, 10, 0.7634),
        (1, 10, 0.4042),
        (9, 10, 0.9821),
        (0, 10, 0.2775),
        (50, 100, 0.5962),
        (10, 10, 1.0),
        (0, 0, 1.0),
    ],
)
def test_wilson_upper_bound_matches_published_values(
    successes: int, trials: int, expected: float
) -> None:
    assert wilson_upper_bound(successes, trials) == pytest.approx(expected, abs=5e-5)


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
    assert stats.upper_bound() == pytest.approx(wilson_upper_bound(15, 20))
    assert WindowStats(samples=0, delivered=0).success_ratio is None


def test_confidently_below_and_above_a_line_take_the_whole_interval() -> None:
    # 22 of 23 (96 %): its interval reaches down to 79 %, yet it is no bad route.
    thin = WindowStats(samples=23, delivered=22)
    assert thin.lower_bound() < 0.8 < 22 / 23
    assert not thin.confidently_below(0.8)
    assert not thin.confidently_above(0.9)
    assert thin.confidently_above(0.75)
    # 12 of 34 (35 %): under a 50 % line beyond doubt, not under a 40 % one.
    bad = WindowStats(samples=34, delivered=12)
    assert bad.confidently_below(0.55) and not bad.confidently_below(0.4)
    # Nothing is confidently anywhere without figures.
    empty = WindowStats(samples=0, delivered=0)
    assert not empty.confidently_below(1.0) and not empty.confidently_above(0.0)


@pytest.mark.parametrize("samples", range(20, 201))
def test_a_route_at_70_percent_is_never_confidently_under_50(samples: int) -> None:
    stats = WindowStats(samples=samples, delivered=round(samples * 0.7))
    assert not stats.confidently_below(0.5)


def test_confidence_of_a_quantile() -> None:
    assert confidence(1.96) == pytest.approx(0.95, abs=1e-4)
    assert confidence(2.576) == pytest.approx(0.99, abs=1e-4)
    assert percent(confidence(1.96)) == "95 %"
    assert percent(0.125) == "12.5 %" and percent(0.5) == "50 %"


def test_evidence_in_plain_words() -> None:
    window = Window(span=timedelta(minutes=30), max_attempts=50)
    stats = WindowStats(samples=34, delivered=12)
    assert evidence(stats, window=window, line=0.5, name="pause", below=True) == (
        "12 of 34 delivered (35 %) in the last 30 min: below the 50 % pause line "
        "with 95 % confidence"
    )
    good = WindowStats(samples=20, delivered=20)
    assert evidence(good, window=window, line=0.7, name="resume", below=False, z=2.576) == (
        "20 of 20 delivered (100 %) in the last 30 min: above the 70 % resume line "
        "with 99 % confidence"
    )


def test_window_start_and_description() -> None:
    window = Window(span=timedelta(minutes=30), max_attempts=50)
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert window.since(now) == now - timedelta(minutes=30)
    assert window.describe() == "last 30 min, at most 50 attempts"
    with pytest.raises(ValueError, match="positive span"):
        Window(span=timedelta(0), max_attempts=50)
