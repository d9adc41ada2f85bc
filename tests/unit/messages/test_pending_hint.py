"""Leases and reports ask the store for on-demand sends (and the numbers they keep) at most
once a second."""

from __future__ import annotations

import time

import pytest

from smsfleet.core.nonblocking import WouldBlock, nonblocking
from smsfleet.messages.sends import KeptNumbers, PendingHint


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


def test_the_numbers_kept_for_waiting_sends_are_read_once_per_max_age_or_once_forgotten() -> None:
    rows = [
        ("UZ_ucell", "+998901000001", "p1"),
        ("UZ_ucell", "+998901000001", "p2"),
        ("UZ_ucell", "+998901000002", "p1"),
        ("KZ_beeline", "+77010000001", "p3"),
    ]
    reads: list[int] = []

    def read() -> list[tuple[str, str, str]]:
        reads.append(len(rows))
        return list(rows)

    kept = KeptNumbers(read, max_age=60)
    expected = {"+998901000001": frozenset({"p1", "p2"}), "+998901000002": frozenset({"p1"})}
    assert [kept.of("UZ_ucell") for _ in range(20)] == [expected] * 20
    assert kept.of("UZ_beeline") == {}
    assert len(reads) == 1
    rows.clear()  # the sends were cancelled, here
    kept.forget()
    assert kept.of("UZ_ucell") == {} and len(reads) == 2
