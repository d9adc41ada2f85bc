"""Replicas on one Redis: the ones not leading read the leader's next look."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from smsfleet.policy.runtime import LookSchedule, RedisSharedLooks
from tests.support.fakes import FakeClock


@pytest.fixture
def shared(redis_url: str) -> Iterator[RedisSharedLooks]:
    looks = RedisSharedLooks.from_url(
        redis_url, key=f"smsfleet-test:{secrets.token_hex(4)}:policy:next_look"
    )
    try:
        yield looks
    finally:
        looks.publish(None, now=FakeClock().now())
        looks.close()


def test_a_replica_not_leading_reads_the_leaders_next_look(shared: RedisSharedLooks) -> None:
    clock = FakeClock()
    leader = LookSchedule(clock, lambda: True, shared)
    follower = LookSchedule(clock, lambda: False, shared)
    assert follower.next_look() is None  # no leader has looked yet
    follower.waits(30)  # its own rounds look at nothing, and say nothing
    assert follower.next_look() is None
    leader.waits(30)
    due = clock.now() + timedelta(seconds=30)
    assert (leader.next_look(), follower.next_look()) == (due, due)
    leader.waits(None)  # the leader's loop stopped
    assert follower.next_look() is None


def test_a_leaders_look_not_renewed_stops_being_read(redis_url: str) -> None:
    """A leader gone (killed) leaves its next look behind: read a while past it, no more."""
    looks = RedisSharedLooks.from_url(
        redis_url, key=f"smsfleet-test:{secrets.token_hex(4)}:policy:next_look", kept_past=0.2
    )
    try:
        clock = FakeClock()
        LookSchedule(clock, lambda: True, looks).waits(0.1)
        follower = LookSchedule(clock, lambda: False, looks)
        assert follower.next_look() == clock.now() + timedelta(seconds=0.1)
        time.sleep(0.5)
        assert follower.next_look() is None
    finally:
        looks.close()
