"""`SingleFlight`: one run at a time, its result shared while it runs and while fresh."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from smsfleet.core.single_flight import SingleFlight
from tests.support.fakes import FakeClock


def test_callers_while_a_run_is_under_way_wait_for_it_and_share_its_result() -> None:
    shared: SingleFlight[list[int]] = SingleFlight(clock=FakeClock(), fresh_for=timedelta(0))
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def work() -> list[int]:
        runs.append(1)
        started.set()
        release.wait(5)
        return [len(runs)]

    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(shared.run, work)
        assert started.wait(5)
        others = [pool.submit(shared.run, work) for _ in range(4)]
        release.set()
        results = [first.result(5), *(other.result(5) for other in others)]
    assert runs == [1]
    assert all(result is results[0] for result in results)


def test_a_fresh_result_is_shared_and_a_stale_one_or_a_clock_set_back_runs_again() -> None:
    clock = FakeClock()
    shared: SingleFlight[int] = SingleFlight(clock=clock, fresh_for=timedelta(seconds=1))
    runs = iter(range(1, 100))
    assert shared.run(lambda: next(runs)) == 1
    clock.advance(0.5)
    assert shared.run(lambda: next(runs)) == 1
    clock.advance(1)
    assert shared.run(lambda: next(runs)) == 2
    clock.advance(-10)
    assert shared.run(lambda: next(runs)) == 3


def test_a_failed_run_is_not_kept() -> None:
    shared: SingleFlight[int] = SingleFlight(clock=FakeClock(), fresh_for=timedelta(seconds=1))

    def failing() -> int:
        raise RuntimeError("the store is down")

    with pytest.raises(RuntimeError, match="the store is down"):
        shared.run(failing)
    assert shared.run(lambda: 7) == 7
