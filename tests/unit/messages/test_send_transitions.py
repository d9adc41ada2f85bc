"""The on-demand send's transition table: every allowed move, and a Conflict for the rest."""

from __future__ import annotations

import itertools

import pytest

from smsfleet.core.errors import Conflict
from smsfleet.messages.models import SendStatus
from smsfleet.messages.sends import TRANSITIONS, SendEvent, allows, transition

S = SendStatus
E = SendEvent

ALLOWED = [
    (S.PENDING, E.CLAIMED, S.PENDING),
    (S.PENDING, E.FAILED, S.PENDING),
    (S.PENDING, E.BROKEN_OFF, S.PENDING),
    (S.PENDING, E.UNCLAIMED, S.PENDING),
    (S.PENDING, E.DELIVERED, S.DONE),
    (S.PENDING, E.EXHAUSTED, S.FAILED),
    (S.PENDING, E.UNRENDERABLE, S.FAILED),
    (S.PENDING, E.CUT_OFF_ONCE_SENT, S.FAILED),
    (S.PENDING, E.NOT_KNOWN_IF_SENT, S.FAILED),
    (S.PENDING, E.STRANDED, S.NOT_SENT),
    (S.PENDING, E.CANCELLED, S.CANCELLED),
    (S.FAILED, E.RETRIED, S.PENDING),
    (S.NOT_SENT, E.RETRIED, S.PENDING),
    (S.CANCELLED, E.RETRIED, S.PENDING),
]


def test_the_table_is_exactly_the_allowed_moves() -> None:
    assert {(current, event): target for current, event, target in ALLOWED} == TRANSITIONS


@pytest.mark.parametrize(("current", "event", "target"), ALLOWED)
def test_every_allowed_transition(
    current: SendStatus, event: SendEvent, target: SendStatus
) -> None:
    assert allows(current, event)
    assert transition(current, event, send_id="s1") is target


DISALLOWED = [
    (current, event)
    for current, event in itertools.product(SendStatus, SendEvent)
    if (current, event) not in TRANSITIONS
]


@pytest.mark.parametrize(("current", "event"), DISALLOWED)
def test_every_other_move_is_a_conflict(current: SendStatus, event: SendEvent) -> None:
    assert not allows(current, event)
    with pytest.raises(Conflict, match=f"send s1 is {current.value}: "):
        transition(current, event, send_id="s1")


def test_a_finished_send_is_not_moved_on() -> None:
    """Nothing but a retry moves a send that is done, failed, not sent or cancelled."""
    for current in (S.DONE, S.FAILED, S.NOT_SENT, S.CANCELLED):
        assert [e for e in SendEvent if allows(current, e)] == (
            [] if current is S.DONE else [E.RETRIED]
        )


def test_refusals_people_see_say_why() -> None:
    with pytest.raises(Conflict, match=r"^send s1 is DONE: nothing to cancel$"):
        transition(S.DONE, E.CANCELLED, send_id="s1")
    with pytest.raises(Conflict, match=r"^send s1 is CANCELLED: nothing to cancel$"):
        transition(S.CANCELLED, E.CANCELLED, send_id="s1")
    retried = "only a failed, unsent or cancelled one is retried"
    with pytest.raises(Conflict, match=rf"^send s1 is PENDING: {retried}$"):
        transition(S.PENDING, E.RETRIED, send_id="s1")
    with pytest.raises(Conflict, match=rf"^send s1 is DONE: {retried}$"):
        transition(S.DONE, E.RETRIED, send_id="s1")
