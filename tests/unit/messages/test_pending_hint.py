"""Leases and reports ask the store for on-demand sends at most once a second."""

from __future__ import annotations

import time

import pytest

from smsfleet.core.nonblocking import WouldBlock, nonblocking
from smsfleet.messages.sends import PendingHint


def test_the_store_is_asked_at_most_once_per_max_age() -> None:
    answers = [False, True]
    asked: list[bool] = []

    def check() -> bool:
        asked.append(answers[len(asked)])
        return asked[-1]

    hint = PendingHint(check, max_age=0.2)
    assert [hint.any() for _ in range(50)] == [False] * 50
    assert len(asked) == 1
    time.sleep(0.25)
    assert hint.any() is True and len(asked) == 2


def test_a_send_made_here_is_seen_at_once() -> None:
    hint = PendingHint(lambda: False, max_age=60)
    assert hint.any() is False
    hint.mark()
    assert hint.any() is True


def test_on_the_event_loop_a_hint_to_read_again_is_refused_before_the_store_is_asked() -> None:
    asked: list[bool] = []

    def check() -> bool:
        asked.append(False)
        return False

    hint = PendingHint(check, max_age=60)
    with nonblocking(), pytest.raises(WouldBlock):
        hint.any()
    assert asked == []
    assert hint.any() is False  # in a thread
    with nonblocking():
        assert hint.any() is False  # known: from memory
    assert len(asked) == 1
