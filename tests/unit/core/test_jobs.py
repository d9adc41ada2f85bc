"""A periodic job tells how long it waits before its next round, and when it stops."""

from __future__ import annotations

import threading

from smsfleet.core.jobs import PeriodicJob


def test_a_job_tells_its_waits_from_its_start_and_that_it_stopped() -> None:
    told: list[float | None] = []
    ran = threading.Event()
    job = PeriodicJob("test", ran.set, run_at_start=False, on_wait=told.append)
    job.start_loop(0.05)
    assert told[:1] == [0.05]  # before `start_loop` returned
    assert ran.wait(5)
    job.close()
    assert told[-1] is None
    assert set(told[1:-1]) <= {0.05, None}


def test_a_job_that_runs_at_start_tells_its_wait_after_its_round() -> None:
    told: list[float | None] = []
    waiting = threading.Event()

    def waits(seconds: float | None) -> None:
        told.append(seconds)
        if seconds is not None:
            waiting.set()

    job = PeriodicJob("test", lambda: told.append(-1.0), on_wait=waits)
    job.start_loop(60)
    assert waiting.wait(5)
    job.close()
    assert told[:2] == [-1.0, 60]  # its round, then the wait before the next
    assert told[2:] and set(told[2:]) == {None}
