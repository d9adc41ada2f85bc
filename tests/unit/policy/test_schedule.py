"""When the policy's loop looks next, on the policy's clock."""

from __future__ import annotations

from datetime import timedelta

from smsfleet.policy.runtime import LookSchedule
from tests.support.fakes import FakeClock


def test_the_next_look_is_one_wait_from_when_the_loop_began_it() -> None:
    clock = FakeClock()
    leading = True
    schedule = LookSchedule(clock, lambda: leading)
    assert schedule.next_look() is None  # no loop yet
    schedule.waits(30)
    due = clock.now() + timedelta(seconds=30)
    clock.advance(10)
    assert schedule.next_look() == due  # read again later: the same
    leading = False  # another replica leads: its round here looks at nothing
    assert schedule.next_look() is None
    leading = True
    schedule.waits(None)  # stopped
    assert schedule.next_look() is None
