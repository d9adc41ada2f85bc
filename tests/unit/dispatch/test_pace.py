"""Each session's token bucket: its burst, its rate, its memory, a clock set back."""

from __future__ import annotations

import pytest

from smsfleet.dispatch.pace import SessionPace


def test_a_burst_then_the_rate() -> None:
    pace = SessionPace(rate=20, burst=60)
    assert [pace.take("a", 100.0) for _ in range(60)] == [0.0] * 60
    assert pace.take("a", 100.0) == pytest.approx(0.05)
    assert pace.take("a", 100.0) == pytest.approx(0.05)  # a refusal spends nothing
    assert pace.take("a", 100.05) == 0.0
    assert pace.take("a", 100.05) > 0
    # One second brings back twenty requests.
    assert sum(pace.take("a", 101.05) == 0.0 for _ in range(30)) == 20


def test_sessions_have_buckets_of_their_own() -> None:
    pace = SessionPace(rate=1, burst=2)
    assert [pace.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert pace.take("b", 0.0) == 0.0


def test_idle_buckets_are_forgotten() -> None:
    """A bucket is forgotten once it is full again (at most burst / rate seconds after
    its last request): only the sessions heard from since are held, however many."""
    pace = SessionPace(rate=20, burst=60)
    for n in range(5000):
        pace.take(f"session-{n}", 0.0)  # each full again at 0.05
    for _ in range(60):
        pace.take("flood", 0.0)  # full again at 3.0
    pace.take("session-0", 0.04)
    assert len(pace) == 5001
    pace.take("session-1", 0.05)
    assert len(pace) == 3  # flood, session-0 (asked at 0.04) and session-1
    pace.take("session-1", 3.0)
    assert len(pace) == 1


def test_a_clock_set_back_costs_one_wait_at_most() -> None:
    pace = SessionPace(rate=20, burst=60)
    assert pace.take("a", 1000.0) == 0.0
    # An hour back: the bucket reads as empty at worst, never as an hour ahead.
    assert pace.take("a", -2600.0) <= 0.05
    assert pace.take("a", -2599.9) == 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_pace_that_allows_nothing_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        SessionPace(rate=rate, burst=burst)
