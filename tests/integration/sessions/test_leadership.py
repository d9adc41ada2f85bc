"""One supervisor leads at a time: replicas sharing Redis never drive screen together."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from smsfleet.sessions.leader import RedisLeadership
from smsfleet.sessions.models import DesiredState, SessionState
from smsfleet.sessions.supervisor import SupervisorPolicy
from tests.support.backends import free_port, random_name
from tests.support.sessions import TICKING, Fleet
from tests.support.waiting import eventually


@pytest.fixture
def key(redis_client: redis.Redis) -> Iterator[str]:
    name = random_name("smsfleet:test:leader:")
    yield name
    redis_client.delete(name)


def test_one_holder_at_a_time_and_a_silent_one_is_replaced(
    redis_client: redis.Redis, key: str
) -> None:
    first = RedisLeadership(redis_client, ttl_seconds=0.5, key=key)
    second = RedisLeadership(redis_client, ttl_seconds=0.5, key=key)
    assert first.hold()
    assert not second.hold()
    assert first.hold()  # renewed
    assert first.holder() == first.name
    time.sleep(0.6)  # the first stops renewing, as a killed replica would
    assert second.hold()
    assert not first.hold()
    first.release()  # not its key any more: nothing happens
    assert second.holder() == second.name
    second.release()
    assert first.hold()


def test_without_redis_no_replica_leads() -> None:
    leadership = RedisLeadership.from_url(f"redis://127.0.0.1:{free_port()}/0", ttl_seconds=1)
    assert not leadership.hold()
    assert leadership.holder() is None
    leadership.release()


# `fleet` comes last, so it is torn down first: its supervisors stop before the Redis
# client their leadership uses is closed (else a last tick reads a closed socket).
def test_only_the_leader_drives_screen_and_the_standby_takes_over(
    redis_client: redis.Redis, key: str, fleet: Fleet
) -> None:
    name = fleet.add_pair("beeline", TICKING)
    policy = SupervisorPolicy(start_seconds=0, stop_grace_seconds=1)
    first = fleet.supervisor(policy, RedisLeadership(redis_client, ttl_seconds=5, key=key))
    first.start_loop(0.05)
    eventually(lambda: first.leading)
    second = fleet.supervisor(policy, RedisLeadership(redis_client, ttl_seconds=5, key=key))
    second.start_loop(0.05)

    fleet.want(name, DesiredState.running)
    eventually(lambda: fleet.state(name) is SessionState.running)
    time.sleep(0.5)  # many ticks of both
    assert not second.leading
    assert fleet.screens() == [name]
    assert fleet.kinds(name).count("starting") == 1

    first.close()  # a clean stop gives the leadership up at once
    eventually(lambda: second.leading, timeout=2)
    fleet.want(name, DesiredState.stopped)
    eventually(lambda: fleet.state(name) is SessionState.stopped)
    assert fleet.screens() == []
