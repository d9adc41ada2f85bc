"""On-demand sends through the real dispatcher and the simulator: fallback, failure, cancel, cap."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from smsfleet.attempts.models import REPORT_GRACE, Outcome
from smsfleet.audit.service import actor_of
from smsfleet.core.clock import human_time
from smsfleet.core.errors import Conflict, NotFound, ValidationFailed
from smsfleet.core.settings import LEASE_TTL_SECONDS
from smsfleet.dispatch.expiry import UnreportedExpiry
from smsfleet.dispatch.models import ReportRequest, SendAction, SentNow, WaitAction
from smsfleet.messages.models import (
    SendQuery,
    SendRequest,
    SendStatus,
    TemplateCreate,
    TemplateUpdate,
)
from smsfleet.messages.templates import create_template, delete_template, update_template
from smsfleet.pairs.models import PairCreate, PairState
from smsfleet.pairs.service import create_pair
from smsfleet.sessions.models import DesiredState, SessionSpec
from tests.support.messages import CUSTOMER, TEST_NUMBER, World
from tests.support.sessions import ADMIN

SPACING = 6.5  # seconds: a slot of UZ's 10 a minute opens every 6
DELIVERY = timedelta(seconds=20)


def otp(world: World) -> None:
    create_template(
        templates=world.store.templates,
        audit=world.store.audit,
        clock=world.clock,
        actor=actor_of(ADMIN),
        data=TemplateCreate(
            id="otp",
            name="One-time code",
            body="Your code is {token}",
            provider_bodies={"good": "[good] code {token}"},
        ),
    )


def test_primary_fails_then_the_next_program_delivers(world: World) -> None:
    _primary_fails_then_the_next_program_delivers(world)


def test_on_redis_the_primary_fails_then_the_next_program_delivers(redis_world: World) -> None:
    _primary_fails_then_the_next_program_delivers(redis_world)


def _primary_fails_then_the_next_program_delivers(world: World) -> None:
    otp(world)
    send = world.sends.create_send(
        SendRequest(phone=CUSTOMER, template_id="otp", params={"token": "4242"}), actor="alice"
    )
    assert (send.status, send.pair, send.programs, send.sent_text) == (
        SendStatus.PENDING,
        "UZ_uzmobile",
        ["pbad", "pgood", "palso", "pworse"],
        None,
    )
    # pgood's turn comes first, but the send waits for pbad: pgood sends its routine test.
    routine = world.ask("pgood")
    assert routine is not None and routine.phone == TEST_NUMBER
    world.clock.advance(SPACING)
    first = world.ask("pbad")
    assert first is not None and (first.phone, first.message) == (CUSTOMER, "Your code is 4242")
    after_first = world.sends.send(send.id)
    assert (after_first.status, after_first.tries, after_first.next_index) == (
        SendStatus.PENDING,
        1,
        1,
    )
    assert "pbad: send_failed" in (after_first.error or "")
    assert after_first.sent_text == "Your code is 4242"
    assert after_first.sent_at is None  # the gateway refused it: no SMS went out
    world.clock.advance(SPACING)
    sent_at = world.clock.now()
    second = world.ask("pgood")
    assert second is not None and (second.phone, second.message) == (CUSTOMER, "[good] code 4242")
    done = world.sends.send(send.id)
    assert (done.status, done.tries, done.program, done.provider) == (
        SendStatus.DONE,
        2,
        "pgood",
        "good",
    )
    assert (done.completed_at, done.sent_at) == (world.clock.now(), sent_at)
    # What its latest try sent: the template filled, in pgood's provider's wording.
    assert done.sent_text == "[good] code 4242"
    # The two tries are attempts like any other, each beside the text it was handed: in
    # the number's conversation.
    world.settle()
    thread = world.inbound.conversation(CUSTOMER)
    assert [(i.kind, i.program or i.sender, i.status, i.text) for i in thread.items] == [
        ("attempt", "pbad", "send_failed", None),
        ("sms", "broken", None, "Your code is 4242"),  # pbad's provider
        ("attempt", "pgood", "delivered", None),
        ("sms", "good", None, "[good] code 4242"),
    ]
    sms = [i for i in thread.items if i.kind == "sms"]
    assert [i.attempt_id for i in sms] == [first.trigger_id, second.trigger_id]
    # Each attempt says when its SMS reached the gateway: pbad's never did.
    tries = [i for i in thread.items if i.kind == "attempt"]
    assert [i.sent_at for i in tries] == [None, sent_at]


def test_when_every_program_fails_the_send_fails(world: World) -> None:
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    world.store.pairs.replace(pair.model_copy(update={"programs": ["pbad", "pworse"]}))
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="hello"), actor="alice")
    for program in ("pbad", "pworse"):
        action = world.ask(program)
        assert action is not None and action.message == "hello"
        world.clock.advance(SPACING)
    failed = world.sends.send(send.id)
    assert (failed.status, failed.tries, failed.program) == (SendStatus.FAILED, 2, "pworse")
    # Every try is told, in order: not only the last one's.
    assert failed.error == "pbad: send_failed (http_502); pworse: send_failed (http_502)"
    assert failed.sent_at is None  # neither reached the gateway: a retry sends no second SMS
    assert world.ask("pbad") is not None  # routine sends go on
    # A retry starts over with the pair's programs, and needs one.
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    world.store.pairs.replace(pair.model_copy(update={"programs": []}))
    with pytest.raises(Conflict, match="no program"):
        world.sends.retry(send.id, actor="alice")
    assert world.sends.send(send.id).status is SendStatus.FAILED
    world.store.pairs.replace(pair)
    retried = world.sends.retry(send.id, actor="alice")
    assert (retried.status, retried.next_index, retried.error) == (SendStatus.PENDING, 0, None)


def test_a_cancelled_send_is_never_sent(world: World) -> None:
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="never"), actor="alice")
    cancelled = world.sends.cancel(send.id)
    assert cancelled.status is SendStatus.CANCELLED
    for program in ("pbad", "pgood", "palso", "pworse"):
        world.ask(program)
        world.clock.advance(SPACING)
    assert all(s["phone"] == TEST_NUMBER for s in world.sent)
    truth = world.simulator.get("/admin/truth").json()["records"]
    assert CUSTOMER not in {record["phone"] for record in truth}
    with pytest.raises(Conflict):
        world.sends.cancel(send.id)


def _break_off(
    world: World,
    program: str,
    pair: str = "UZ_uzmobile",
    *,
    paused: bool = False,
    sent_at: datetime | None = None,
) -> SendAction:
    """`program`'s session leases a send and reports it broken off: given up unsent, or,
    with `sent_at`, cut off by a stop once its SMS reached the gateway; `paused` when the
    policy paused the pair meanwhile."""
    session = f"{program}_{pair}"
    action = world.dispatcher.lease(session=session)
    assert isinstance(action, SendAction) and action.phone == CUSTOMER
    if paused:
        _pause_by_the_policy(world, pair)
    report = ReportRequest(
        trigger_id=action.trigger_id,
        session=session,
        outcome=Outcome.error,
        # Sent: cut off awaiting its code. Not: given up unsent, too late after its grant.
        error_code="interrupted" if sent_at else "grant_stale",
        sent_at=sent_at,
    )
    world.dispatcher.report(session=session, report=report)
    return action


def _pause_by_the_policy(world: World, key: str) -> None:
    pair = world.store.pairs.get(key)
    assert pair is not None
    world.store.pairs.replace(
        pair.model_copy(update={"state": PairState.paused, "state_actor": "policy"})
    )


def test_a_try_broken_off_while_the_pair_runs_goes_on_to_its_next_program(world: World) -> None:
    """A program restarted with the send in flight says nothing of the route: the send is
    not failed; it is not sent when the pair has no program left, and says so."""
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    world.store.pairs.replace(pair.model_copy(update={"programs": ["pbad", "pgood"]}))
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="hi"), actor="alice")
    _break_off(world, "pbad")
    moved = world.sends.send(send.id)
    assert (moved.status, moved.next_index, moved.tries) == (SendStatus.PENDING, 1, 1)
    assert moved.error == "pbad: error (grant_stale)"
    world.clock.advance(SPACING)
    _break_off(world, "pgood")
    unsent = world.sends.send(send.id)
    assert (unsent.status, unsent.tries) == (SendStatus.NOT_SENT, 2)
    assert unsent.error == (
        "not sent: its try through pgood was broken off (grant_stale), and UZ_uzmobile has"
        " no program left to try"
    )
    assert unsent.completed_at == world.clock.now()
    assert world.sends.retry(send.id, actor="alice").status is SendStatus.PENDING


def test_a_send_cut_off_by_a_pause_is_not_sent_and_says_why(world: World) -> None:
    """The policy paused the pair and stopped its sessions with the send in flight: no
    failure of the SMS, and no other pair of the country to carry it."""
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="hi"), actor="alice")
    _break_off(world, "pbad", paused=True)
    unsent = world.sends.send(send.id)
    assert (unsent.status, unsent.tries) == (SendStatus.NOT_SENT, 1)
    assert unsent.error == (
        "not sent: UZ_uzmobile was paused by the policy while it was being sent; no other"
        " pair of UZ runs"
    )
    assert world.sends.sends(SendQuery(status=SendStatus.NOT_SENT)) == [unsent]
    # Retried while the pair is still paused, it would wait for programs that never come.
    with pytest.raises(Conflict, match=r"UZ_uzmobile runs no sessions .*resume the pair first"):
        world.sends.retry(send.id, actor="alice")
    assert world.sends.send(send.id) == unsent


@pytest.mark.parametrize("another_pair", [False, True], ids=["alone", "another_pair_runs"])
def test_a_send_cut_off_by_a_pause_after_it_was_sent_fails_and_is_never_sent_again(
    world: World, another_pair: bool
) -> None:
    """Its SMS reached the gateway before the policy paused the pair: the recipient may
    have its code, so it is not read as unsent, nor sent through another pair."""
    if another_pair:
        _add_beeline(world)
    send = world.sends.create_send(
        SendRequest(phone=CUSTOMER, text="hi", pair="UZ_uzmobile"), actor="alice"
    )
    sent_at = world.clock.now()
    _break_off(world, "pbad", paused=True, sent_at=sent_at)
    failed = world.sends.send(send.id)
    assert (failed.status, failed.pair, failed.tries, failed.attempt_id) == (
        SendStatus.FAILED,
        "UZ_uzmobile",
        1,
        None,
    )
    assert failed.error == (
        f"sent at {sent_at:%H:%M:%S} UTC through pbad, its code not awaited: UZ_uzmobile was"
        " paused by the policy while it awaited its code"
    )
    assert (failed.completed_at, failed.sent_at) == (world.clock.now(), sent_at)
    assert world.sends.sends(SendQuery(status=SendStatus.NOT_SENT)) == []
    for pair in ("UZ_beeline", "UZ_uzmobile"):
        for program in ("pworse", "pgood", "palso", "pbad"):
            assert world.sends.claim(pair=pair, program=program, attempt_id="next") is None


def test_a_send_cut_off_once_sent_while_its_pair_runs_fails_and_is_not_tried_again(
    world: World,
) -> None:
    """A program restarted while the SMS awaited its code: not handed to the next one."""
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="hi"), actor="alice")
    sent_at = world.clock.now()
    _break_off(world, "pbad", sent_at=sent_at)
    failed = world.sends.send(send.id)
    assert (failed.status, failed.next_index, failed.tries) == (SendStatus.FAILED, 0, 1)
    assert failed.error == (
        f"sent at {sent_at:%H:%M:%S} UTC through pbad, its code not awaited: its try was"
        " broken off (interrupted) while it awaited its code"
    )
    for program in ("pgood", "palso", "pworse"):
        assert world.sends.claim(pair="UZ_uzmobile", program=program, attempt_id="next") is None


def test_a_send_sent_but_not_delivered_keeps_when_its_sms_went_out(world: World) -> None:
    """Its first SMS reached the gateway and was never delivered; the next program's was
    refused. It ends FAILED saying when an SMS went out, and a retry keeps that: sent
    again, the number gets a second SMS."""
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    world.store.pairs.replace(pair.model_copy(update={"programs": ["pgood", "pbad"]}))
    undelivered = world.simulator.patch(
        "/admin/routes/UZ_uzmobile", json={"delivery_probability": 0.0}
    )
    assert undelivered.status_code == 200, undelivered.text
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="hi"), actor="alice")
    sent_at = world.clock.now()
    world.ask("pgood")
    world.clock.advance(SPACING)
    world.ask("pbad")
    world.simulator.patch("/admin/routes/UZ_uzmobile", json={"delivery_probability": None})
    failed = world.sends.send(send.id)
    assert (failed.status, failed.tries, failed.program) == (SendStatus.FAILED, 2, "pbad")
    assert failed.sent_at == sent_at
    # Its error tells both tries, and when the first one's SMS went out.
    assert (failed.error or "").startswith(
        f"pgood: not_delivered, sent at {sent_at:%H:%M:%S} UTC; pbad: send_failed ("
    ), failed.error
    # Sent again only when asked so: its number may have the first SMS already.
    # And says how many SMS it may send: one per program, until one delivers.
    refused = (
        rf"an SMS of send {send.id} reached the gateway at .*: {re.escape(CUSTOMER)} may"
        r'.* "again": true to send it anew, through the programs of UZ_uzmobile in order until'
        r" one delivers: up to 2 more SMS$"
    )
    with pytest.raises(Conflict, match=refused):
        world.sends.retry(send.id, actor="alice")
    assert world.sends.send(send.id) == failed
    retried = world.sends.retry(send.id, actor="alice", again=True)
    assert (retried.status, retried.sent_at) == (SendStatus.PENDING, sent_at)


def _add_beeline(world: World) -> None:
    """A second running pair of UZ, its four programs' sessions wanted running."""
    create_pair(
        pairs=world.store.pairs,
        countries=world.store.countries,
        programs=world.store.programs,
        clock=world.clock,
        actor=ADMIN,
        audit=world.store.audit,
        data=PairCreate(
            country="UZ",
            operator="Beeline",
            slug="beeline",
            phone_numbers=["+998991234568"],
            programs=["pworse", "pgood", "palso", "pbad"],
        ),
    )
    for program in ("pworse", "pgood", "palso", "pbad"):
        world.store.session_specs.add(
            SessionSpec(
                name=f"{program}_UZ_beeline",
                program=program,
                pair="UZ_beeline",
                desired=DesiredState.running,
                created_at=world.clock.now(),
            )
        )


def test_a_send_cut_off_by_a_pause_goes_through_another_running_pair(world: World) -> None:
    """Within the tries it has left: the broken-off one is not spent."""
    _add_beeline(world)
    send = world.sends.create_send(
        SendRequest(phone=CUSTOMER, text="hi", pair="UZ_uzmobile"), actor="alice"
    )
    # pbad's try is broken off while the pair runs (the next program, as for a failure);
    # pgood's when the policy pauses the pair: three of its four tries are left.
    _break_off(world, "pbad")
    world.clock.advance(SPACING)
    _break_off(world, "pgood", paused=True)
    moved = world.sends.send(send.id)
    assert (moved.status, moved.pair, moved.programs, moved.next_index, moved.tries) == (
        SendStatus.PENDING,
        "UZ_beeline",
        ["pworse", "pgood", "palso"],
        0,
        2,
    )
    assert moved.error == (
        "pbad: error (grant_stale); pgood: error (grant_stale): UZ_uzmobile was paused by the"
        " policy while it was being"
        " sent; sent through UZ_beeline instead"
    )
    world.clock.advance(SPACING)
    retried = world.dispatcher.lease(session="pworse_UZ_beeline")
    assert isinstance(retried, SendAction) and retried.phone == CUSTOMER
    report = ReportRequest(
        trigger_id=retried.trigger_id, session="pworse_UZ_beeline", outcome=Outcome.delivered
    )
    world.dispatcher.report(session="pworse_UZ_beeline", report=report)
    done = world.sends.send(send.id)
    assert (done.status, done.pair, done.program, done.tries) == (
        SendStatus.DONE,
        "UZ_beeline",
        "pworse",
        3,
    )


def test_a_send_whose_template_is_gone_fails_and_is_complete(world: World) -> None:
    otp(world)
    send = world.sends.create_send(
        SendRequest(phone=CUSTOMER, template_id="otp", params={"token": "4242"}), actor="alice"
    )
    delete_template(
        templates=world.store.templates,
        audit=world.store.audit,
        clock=world.clock,
        actor=actor_of(ADMIN),
        template_id="otp",
    )
    world.clock.advance(5)
    # The lease finds it can never be rendered: failed and done with, and routine sends go on.
    action = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(action, SendAction) and action.phone == TEST_NUMBER
    failed = world.sends.send(send.id)
    assert failed.status is SendStatus.FAILED
    assert "otp" in (failed.error or "")
    assert failed.completed_at == world.clock.now()


def test_a_send_whose_template_grew_past_a_text_fails_at_its_lease(world: World) -> None:
    otp(world)
    send = world.sends.create_send(
        SendRequest(phone=CUSTOMER, template_id="otp", params={"token": "4" * 200}),
        actor="alice",
    )
    update_template(
        templates=world.store.templates,
        audit=world.store.audit,
        clock=world.clock,
        actor=actor_of(ADMIN),
        template_id="otp",
        data=TemplateUpdate(name="One-time code", body="{token}" * 9),
    )
    world.clock.advance(5)
    action = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(action, SendAction) and action.phone == TEST_NUMBER
    failed = world.sends.send(send.id)
    assert failed.status is SendStatus.FAILED
    assert failed.error == (
        "template otp's body filled with these params is 1800 characters:"
        " an SMS text is at most 1600"
    )


def test_a_send_being_sent_cannot_be_cancelled(world: World) -> None:
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="now"), actor="alice")
    action = world.dispatcher.lease(session="pbad_UZ_uzmobile")  # leased, not reported yet
    assert isinstance(action, SendAction) and action.phone == CUSTOMER
    with pytest.raises(Conflict, match="being sent"):
        world.sends.cancel(send.id)


def test_a_send_to_a_test_number_awaiting_a_code_waits_for_it(world: World) -> None:
    """A number awaits one code at a time: a send to one of the pair's numbers while a
    routine test (or a probe) awaits its code there is not handed out until it is free."""
    pairs = world.store.pairs
    pair = pairs.get("UZ_uzmobile")
    assert pair is not None
    other = "+998991234568"
    pairs.replace(pair.model_copy(update={"phone_numbers": [TEST_NUMBER, other]}))
    routine = world.dispatcher.lease(session="pgood_UZ_uzmobile")  # awaits its code
    assert isinstance(routine, SendAction) and routine.phone == TEST_NUMBER
    send = world.sends.create_send(SendRequest(phone=TEST_NUMBER, text="mine"), actor="alice")
    world.clock.advance(SPACING)
    meanwhile = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(meanwhile, SendAction)
    assert (meanwhile.phone, meanwhile.message) != (TEST_NUMBER, "mine")
    assert meanwhile.phone == other  # the routine test, on the free number
    assert world.sends.send(send.id).attempt_id is None  # still waiting
    for action, session in ((routine, "pgood"), (meanwhile, "pbad")):
        world.dispatcher.report(
            session=f"{session}_UZ_uzmobile",
            report=ReportRequest(
                trigger_id=action.trigger_id,
                session=f"{session}_UZ_uzmobile",
                outcome=Outcome.delivered,
            ),
        )
    world.clock.advance(SPACING)
    mine = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(mine, SendAction) and (mine.phone, mine.message) == (TEST_NUMBER, "mine")


def test_a_number_a_send_waits_for_is_kept_from_routine_tests(world: World) -> None:
    _a_number_a_send_waits_for_is_kept_from_routine_tests(world)


def test_on_redis_a_number_a_send_waits_for_is_kept_from_routine_tests(
    redis_world: World,
) -> None:
    _a_number_a_send_waits_for_is_kept_from_routine_tests(redis_world)


def _a_number_a_send_waits_for_is_kept_from_routine_tests(world: World) -> None:
    """Once the number a send waits for is free, no routine test of the pair is handed it
    (they take the pair's other free numbers, or wait): its send's program takes it."""
    other = _two_numbers(world)
    first = world.dispatcher.lease(session="pgood_UZ_uzmobile")  # awaits its code
    assert isinstance(first, SendAction) and first.phone == TEST_NUMBER
    send = world.sends.create_send(SendRequest(phone=TEST_NUMBER, text="mine"), actor="alice")
    world.clock.advance(SPACING)
    second = world.dispatcher.lease(session="palso_UZ_uzmobile")
    assert isinstance(second, SendAction) and second.phone == other
    _report(world, first, "pgood")  # the send's number is free, next in rotation
    world.clock.advance(SPACING)
    # The only free number is kept for the send, which waits for pbad: no work for pgood.
    assert isinstance(world.dispatcher.lease(session="pgood_UZ_uzmobile"), WaitAction)
    assert isinstance(world.dispatcher.lease(session="pworse_UZ_uzmobile"), WaitAction)
    _report(world, second, "palso")
    world.clock.advance(SPACING)
    routine = world.dispatcher.lease(session="pgood_UZ_uzmobile")
    assert isinstance(routine, SendAction) and routine.phone == other  # the free one, not N
    assert world.sends.send(send.id).attempt_id is None
    reason = world.sends.waiting_reasons([world.sends.send(send.id)])[send.id]
    assert "for pbad of UZ_uzmobile to ask for work" in reason
    world.clock.advance(SPACING)
    mine = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(mine, SendAction)
    assert (mine.phone, mine.message) == (TEST_NUMBER, "mine")


def test_a_number_kept_for_a_cancelled_send_is_free_for_routine_tests(world: World) -> None:
    _a_number_kept_for_a_cancelled_send_is_free_for_routine_tests(world)


def test_on_redis_a_number_kept_for_a_cancelled_send_is_free_for_routine_tests(
    redis_world: World,
) -> None:
    _a_number_kept_for_a_cancelled_send_is_free_for_routine_tests(redis_world)


def _a_number_kept_for_a_cancelled_send_is_free_for_routine_tests(world: World) -> None:
    """A number kept for a waiting send is a routine test's again once the send is
    cancelled, at once."""
    other = _two_numbers(world)
    send = world.sends.create_send(SendRequest(phone=TEST_NUMBER, text="mine"), actor="alice")
    routine = world.dispatcher.lease(session="pgood_UZ_uzmobile")
    assert isinstance(routine, SendAction) and routine.phone == other  # not the kept one
    world.clock.advance(SPACING)
    assert isinstance(world.dispatcher.lease(session="palso_UZ_uzmobile"), WaitAction)
    world.sends.cancel(send.id)
    world.clock.advance(SPACING)
    freed = world.dispatcher.lease(session="palso_UZ_uzmobile")
    assert isinstance(freed, SendAction) and freed.phone == TEST_NUMBER
    assert freed.message != "mine"


def test_a_lease_that_misses_the_send_it_had_room_for_opens_no_routine_test_on_its_number(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send's program has room for its kept number; were the send taken meanwhile (by
    another lease), that lease is told to wait: no routine test on the kept number."""
    send = world.sends.create_send(SendRequest(phone=TEST_NUMBER, text="mine"), actor="alice")
    monkeypatch.setattr(world.sends, "claim", lambda **_: None)
    assert isinstance(world.dispatcher.lease(session="pbad_UZ_uzmobile"), WaitAction)
    assert world.dispatcher.ledger.open_in_pair("UZ_uzmobile", leased_since=send.created_at) == []


def _two_numbers(world: World) -> str:
    """Give the pair a second test number, after `TEST_NUMBER` in rotation; it."""
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    other = "+998991234568"
    world.store.pairs.replace(pair.model_copy(update={"phone_numbers": [TEST_NUMBER, other]}))
    return other


def _report(world: World, action: SendAction, program: str) -> None:
    session = f"{program}_UZ_uzmobile"
    world.dispatcher.report(
        session=session,
        report=ReportRequest(
            trigger_id=action.trigger_id, session=session, outcome=Outcome.delivered
        ),
    )
    world.settle()


def test_a_send_waiting_for_a_stopped_session_says_it_is_stopped(world: World) -> None:
    """A send waits for its program to ask for work: when that program's session is
    stopped, the wait says so, since it asks only once someone starts it."""
    name = "pbad_UZ_uzmobile"
    spec = world.store.session_specs.get(name)
    assert spec is not None and spec.desired is DesiredState.running
    world.store.session_specs.replace(spec.model_copy(update={"desired": DesiredState.stopped}))
    send = world.sends.create_send(SendRequest(phone=TEST_NUMBER, text="mine"), actor="alice")
    reason = world.sends.waiting_reasons([send])[send.id]
    assert (
        f"for pbad of UZ_uzmobile to ask for work (its session {name} is stopped: it asks"
        " once started); if it has not by"
    ) in reason
    # Not taken in time, the program's try says why as well.
    world.clock.advance(121)
    assert world.sends.run_jobs() == 1
    moved = world.sends.send(send.id)
    assert moved.next_index == 1
    assert moved.error == f"pbad: did not take it within 120 s (its session {name} is stopped)"


def test_sends_made_together_wait_while_their_program_takes_them_one_by_one(
    world: World,
) -> None:
    """A program takes a pair's sends one after another: one behind others is held to
    the wait from when its program last took one, not from when it was made, so a line
    that moves is not failed; once the program takes none for the wait, they move on."""
    made = []
    for n in range(3):  # a second apart: taken in this order
        made.append(
            world.sends.create_send(SendRequest(phone=f"+9989012345{60 + n}", text="x"), actor="a")
        )
        world.clock.advance(1)
    world.clock.advance(97)
    taken = world.ask("pbad")
    assert taken is not None and taken.phone == made[0].phone
    world.clock.advance(25)  # 125 s since they were made, 25 s since pbad took one
    assert world.sends.run_jobs() == 0
    assert [world.sends.send(s.id).next_index for s in made[1:]] == [0, 0]
    reason = world.sends.waiting_reasons([world.sends.send(made[1].id)])[made[1].id]
    deadline = human_time(world.clock.now() + timedelta(seconds=95), now=world.clock.now())
    assert f"if it has not by {deadline}:" in reason
    world.clock.advance(96)  # 121 s since pbad took one
    # Those two, and the first: pbad failed it, and pgood took none since.
    assert world.sends.run_jobs() == 3
    for send in made[1:]:
        moved = world.sends.send(send.id)
        assert moved.next_index == 1
        assert moved.error == (
            "pbad: did not take it within 120 s (not leasing, or its number awaiting another code)"
        )


def test_a_waiting_send_says_why(world: World) -> None:
    _a_waiting_send_says_why(world)


def test_on_redis_a_waiting_send_says_why(redis_world: World) -> None:
    _a_waiting_send_says_why(redis_world)


def _a_waiting_send_says_why(world: World) -> None:
    """Why a pending send waits, read where the leases read the numbers awaiting a code
    (the Redis ledger on the Redis profile): the number's code, then its program's report."""
    routine = world.dispatcher.lease(session="pgood_UZ_uzmobile")  # awaits its code
    assert isinstance(routine, SendAction) and routine.phone == TEST_NUMBER
    leased = world.clock.now()
    world.clock.advance(30)
    send = world.sends.create_send(SendRequest(phone=TEST_NUMBER, text="mine"), actor="alice")
    reason = world.sends.waiting_reasons([send])[send.id]
    assert f"{TEST_NUMBER} awaits another code (a test SMS handed out at {hm(leased)})" in reason
    assert routine.trigger_id[:8] not in reason  # the routine test's code
    world.dispatcher.report(
        session="pgood_UZ_uzmobile",
        report=ReportRequest(
            trigger_id=routine.trigger_id, session="pgood_UZ_uzmobile", outcome=Outcome.delivered
        ),
    )
    world.settle()
    assert world.sends.waiting_reasons([send])[send.id].endswith(
        f"for pbad of UZ_uzmobile to ask for work; if it has not by"
        f" {hm(send.waiting_since + timedelta(minutes=2))}: pgood is tried instead"
    )
    taken = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(taken, SendAction) and taken.message == "mine"
    claimed = world.sends.send(send.id)
    assert world.sends.waiting_reasons([claimed]) == {
        send.id: f"pbad took it (try 1) at {hm(world.clock.now())}: its report is awaited,"
        f" until {hm(taken.expires_at)} at the latest"
    }


def hm(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%H:%M:%S} UTC"


def test_stuck_sends_move_on(world: World) -> None:
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="x"), actor="alice")
    # pbad takes it and never reports: after the lease, whether its SMS left is not known,
    # so it fails and is never sent again (the number may have its code).
    assert isinstance(world.dispatcher.lease(session="pbad_UZ_uzmobile"), SendAction)
    world.clock.advance(LEASE_TTL_SECONDS)
    assert world.sends.run_jobs() == 0  # its report may still come, a while past the lease
    world.clock.advance(REPORT_GRACE.total_seconds() + 1)
    assert world.sends.run_jobs() == 1
    failed = world.sends.send(send.id)
    assert (failed.status, failed.tries, failed.attempt_id) == (SendStatus.FAILED, 1, None)
    assert failed.error == (
        "pbad: no report within the lease: whether its SMS left is not known, so it is not"
        " sent again (the number may have its code); retry it if none came"
    )
    for program in ("pgood", "palso", "pworse"):
        assert world.sends.claim(pair="UZ_uzmobile", program=program, attempt_id="n") is None
    assert failed.sent_unknown
    # Retried by someone who knows none came, once asked. pbad never asks for work: after
    # the claim timeout, pgood is tried (no try counted); it never asks either: palso.
    with pytest.raises(Conflict, match=f"whether an SMS of send {send.id} left is not known"):
        world.sends.retry(send.id, actor="alice")
    assert world.sends.retry(send.id, actor="alice", again=True).status is SendStatus.PENDING
    world.clock.advance(121)
    assert world.sends.run_jobs() == 1
    world.clock.advance(121)
    assert world.sends.run_jobs() == 1
    skipped = world.sends.send(send.id)
    assert (skipped.next_index, skipped.tries) == (2, 1)
    assert world.ask("palso") is not None
    assert world.sends.send(send.id).status is SendStatus.DONE


def test_a_send_told_sent_as_its_report_settles_it_stays_settled(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notice read the send pending; its report settled it before the notice wrote."""
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="x"), actor="alice")
    taken = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(taken, SendAction)
    read_pending = world.sends.send(send.id)
    report = ReportRequest(
        trigger_id=taken.trigger_id, session="pbad_UZ_uzmobile", outcome=Outcome.delivered
    )
    world.dispatcher.report(session="pbad_UZ_uzmobile", report=report)
    world.settle()
    assert world.sends.send(send.id).status is SendStatus.DONE
    monkeypatch.setattr(world.sends._store, "send_for_attempt", lambda _: read_pending)
    world.sends.left(taken.trigger_id, sent_at=world.clock.now())
    assert world.sends.send(send.id).status is SendStatus.DONE


def test_a_try_its_program_told_sent_and_never_reported_fails_saying_when_it_left(
    world: World,
) -> None:
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="x"), actor="alice")
    taken = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(taken, SendAction)
    world.clock.advance(1)
    sent_at = world.clock.now()
    told = SentNow(trigger_id=taken.trigger_id, sent_at=sent_at)
    assert world.dispatcher.tell_sent(session="pbad_UZ_uzmobile", sent=[told]) == [taken.trigger_id]
    # Said on the send while it awaits the report, before the report (or none) comes.
    waiting = world.sends.send(send.id)
    assert waiting.sent_at == sent_at
    leased, until = hm(sent_at - timedelta(seconds=1)), hm(taken.expires_at)
    assert world.sends.waiting_reasons([waiting]) == {
        send.id: f"pbad took it (try 1) at {leased}, its SMS left at {hm(sent_at)}: its report"
        f" is awaited, until {until} at the latest"
    }
    world.clock.advance(LEASE_TTL_SECONDS)
    last = hm(taken.expires_at + REPORT_GRACE)
    assert world.sends.waiting_reasons([waiting]) == {
        send.id: f"pbad took it (try 1) at {leased}, its SMS left at {hm(sent_at)}: no report"
        f" by {until}; unless one comes by {last}, it ends FAILED, not sent again"
    }
    world.clock.advance(REPORT_GRACE.total_seconds())
    world.settle()
    assert world.sends.run_jobs() == 1
    failed = world.sends.send(send.id)
    assert (failed.status, failed.tries, failed.attempt_id) == (SendStatus.FAILED, 1, None)
    assert failed.error == f"sent at {hm(sent_at)} through pbad, no report within the lease"
    assert failed.sent_at == sent_at
    for program in ("pgood", "palso", "pworse"):
        assert world.sends.claim(pair="UZ_uzmobile", program=program, attempt_id="n") is None
    # Its number may have its code: sent again only when asked to.
    with pytest.raises(Conflict, match='repeat with "again": true'):
        world.sends.retry(send.id, actor="alice")


def test_a_try_killed_during_its_send_or_given_up_unreported_is_never_sent_again(
    world: World,
) -> None:
    """Its program killed during the send (`interrupted`, no `sent_at`), or never reporting
    until the control plane gave its lease up (`lease_expired`): whether the SMS left is
    not known, so no other program or pair sends it again."""
    _add_beeline(world)
    expiry = UnreportedExpiry(
        ledger=world.dispatcher.ledger,
        clock=world.clock,
        lease_ttl=world.dispatcher.policy.lease_ttl,
        closed=world.dispatcher.tell_closed,
    )
    for code in ("interrupted", "lease_expired"):
        send = world.sends.create_send(
            SendRequest(phone=CUSTOMER, text="hi", pair="UZ_uzmobile"), actor="alice"
        )
        action = world.dispatcher.lease(session="pbad_UZ_uzmobile")
        assert isinstance(action, SendAction) and action.phone == CUSTOMER
        if code == "interrupted":
            killed = ReportRequest(
                trigger_id=action.trigger_id,
                session="pbad_UZ_uzmobile",
                outcome=Outcome.error,
                error_code=code,
            )
            world.dispatcher.report(session="pbad_UZ_uzmobile", report=killed)
        else:  # the session never leased again: the leader's sweep gave it up
            world.clock.advance((world.dispatcher.policy.lease_ttl + REPORT_GRACE).seconds + 1)
            assert expiry.expire() == 1
        failed = world.sends.send(send.id)
        assert (failed.status, failed.tries, failed.sent_at) == (SendStatus.FAILED, 1, None)
        assert failed.error == (
            f"pbad: error ({code}): whether its SMS left is not known, so it is not sent"
            " again (the number may have its code); retry it if none came"
        )
        for pair in ("UZ_beeline", "UZ_uzmobile"):
            for program in ("pworse", "pgood", "palso", "pbad"):
                assert world.sends.claim(pair=pair, program=program, attempt_id="n") is None
        world.clock.advance(SPACING)


@pytest.mark.parametrize("another_pair", [False, True], ids=["alone", "another_pair_runs"])
def test_a_send_whose_pair_stops_while_it_waits_is_not_blamed_on_a_program(
    world: World, another_pair: bool
) -> None:
    """The policy paused its pair before any program took it: no program of it ever will,
    and the fault is none of theirs. Another running pair of the country takes it, as a
    try broken off would go; with none, it is not sent, saying why."""
    if another_pair:
        _add_beeline(world)
    send = world.sends.create_send(
        SendRequest(phone=CUSTOMER, text="x", pair="UZ_uzmobile"), actor="alice"
    )
    _pause_by_the_policy(world, "UZ_uzmobile")
    world.clock.advance(121)
    assert world.sends.run_jobs() == 1
    moved = world.sends.send(send.id)
    stopped = "UZ_uzmobile was paused by the policy while it waited to be sent"
    if another_pair:
        assert (moved.status, moved.pair, moved.next_index) == (
            SendStatus.PENDING,
            "UZ_beeline",
            0,
        )
        assert moved.error == f"{stopped}; sent through UZ_beeline instead"
    else:
        assert moved.status is SendStatus.NOT_SENT
        assert moved.error == f"not sent: {stopped}; no other pair of UZ runs"
    assert "did not" not in (moved.error or "")


def test_a_send_waiting_as_its_country_is_halted_says_so_and_ends_not_sent(world: World) -> None:
    """Its country's cap set to 0 after it was queued: no program of it is granted a send.
    Its waiting reason says the halt, and once the wait is over it ends NOT_SENT saying
    so, not blaming a program that was never let to send."""
    send = world.sends.create_send(
        SendRequest(phone=CUSTOMER, text="x", pair="UZ_uzmobile"), actor="alice"
    )
    country = world.store.countries.get("UZ")
    assert country is not None
    world.store.countries.replace(country.model_copy(update={"cap": 0}))
    halted = "country UZ is halted (its cap is 0): nothing is sent until an admin raises it"
    reason = world.sends.waiting_reasons([world.sends.send(send.id)])[send.id]
    assert f": {halted}, so none of its programs takes it; if it is not raised by" in reason
    world.clock.advance(121)
    assert world.sends.run_jobs() == 1
    stranded = world.sends.send(send.id)
    assert stranded.status is SendStatus.NOT_SENT
    assert stranded.error == f"not sent: {halted}; halted while it waited to be sent"


def test_a_send_already_sent_once_whose_pair_stops_ends_failed_not_unsent(world: World) -> None:
    """Its first try reached the gateway and was not delivered; its pair was paused while it
    waited for the next program: it was sent, and failed, not "not sent"."""
    send = world.sends.create_send(
        SendRequest(phone=CUSTOMER, text="x", pair="UZ_uzmobile"), actor="alice"
    )
    action = world.dispatcher.lease(session="pbad_UZ_uzmobile")
    assert isinstance(action, SendAction) and action.phone == CUSTOMER
    sent_at = world.clock.now()
    world.clock.advance(120)  # the gateway gives up on it
    report = ReportRequest(
        trigger_id=action.trigger_id,
        session="pbad_UZ_uzmobile",
        outcome=Outcome.not_delivered,
        sent_at=sent_at,
        provider="broken",
    )
    world.dispatcher.report(session="pbad_UZ_uzmobile", report=report)
    waiting = world.sends.send(send.id)
    assert (waiting.status, waiting.next_index, waiting.sent_at) == (
        SendStatus.PENDING,
        1,
        sent_at,
    )
    _pause_by_the_policy(world, "UZ_uzmobile")
    world.clock.advance(121)
    assert world.sends.run_jobs() == 1
    ended = world.sends.send(send.id)
    assert ended.status is SendStatus.FAILED
    assert ended.error == (
        f"pbad: not_delivered, sent at {sent_at:%H:%M:%S} UTC; not again: UZ_uzmobile was"
        " paused by the policy while it waited to be sent; no other pair of UZ runs"
    )


def test_the_cap_holds_while_on_demand_and_routine_sends_mix(world: World) -> None:
    sends = [
        world.sends.create_send(SendRequest(phone=CUSTOMER, text=f"n{n}"), actor="alice")
        for n in range(8)
    ]
    # Every program asks once a second for four minutes of fake time.
    for _ in range(240):
        for program in ("pbad", "pgood", "palso", "pworse"):
            world.ask(program)
        world.clock.advance(1)
    attempts = world.dispatcher.attempts.recent(limit=10_000, country="UZ")
    times = sorted(a.leased_at for a in attempts)
    window = timedelta(seconds=60)
    busiest = max(sum(1 for t in times if start <= t < start + window) for start in times)
    assert busiest <= 10
    assert len(times) >= 38  # close to the cap: 40 in four minutes
    statuses = [world.sends.send(s.id).status for s in sends]
    # Each goes out on its program's fair share of the slots: pbad's, then pgood's.
    assert statuses == [SendStatus.DONE] * 8
    on_demand = [a for a in attempts if a.phone == CUSTOMER]
    assert len(on_demand) == 16 and len(on_demand) < len(attempts)


def test_the_cap_holds_with_attempts_in_flight_and_on_demand_sends(world: World) -> None:
    _cap_holds_with_attempts_in_flight_and_on_demand_sends(world)


def test_on_redis_the_cap_holds_with_attempts_in_flight_and_on_demand_sends(
    redis_world: World,
) -> None:
    _cap_holds_with_attempts_in_flight_and_on_demand_sends(redis_world)


def _cap_holds_with_attempts_in_flight_and_on_demand_sends(world: World) -> None:
    """Sessions carry several attempts at once, reported 20 s after their lease."""
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    numbers = [f"+99899123456{n}" for n in range(8)]
    world.store.pairs.replace(pair.model_copy(update={"phone_numbers": numbers}))
    sends = [
        world.sends.create_send(SendRequest(phone=CUSTOMER, text=f"n{n}"), actor="alice")
        for n in range(6)
    ]
    open_attempts: list[tuple[datetime, str, str]] = []
    most_in_flight = 0
    for _ in range(240):  # four minutes of fake time, every program asking each second
        for program in ("pbad", "pgood", "palso", "pworse"):
            session = f"{program}_UZ_uzmobile"
            action = world.dispatcher.lease(session=session)
            if isinstance(action, SendAction):
                open_attempts.append((world.clock.now(), session, action.trigger_id))
        most_in_flight = max(most_in_flight, len(open_attempts))
        world.clock.advance(1)
        due = [entry for entry in open_attempts if world.clock.now() - entry[0] >= DELIVERY]
        for entry in due:
            open_attempts.remove(entry)
            report = ReportRequest(trigger_id=entry[2], session=entry[1], outcome=Outcome.delivered)
            world.dispatcher.report(session=entry[1], report=report)
    world.settle()
    attempts = world.dispatcher.attempts.recent(limit=10_000, country="UZ")
    times = sorted(a.leased_at for a in attempts)
    window = timedelta(seconds=60)
    busiest = max(sum(1 for t in times if start <= t < start + window) for start in times)
    assert busiest <= 10
    assert len(times) >= 38  # one at a time, 20 s each, four sessions would send 12 a minute
    assert most_in_flight >= 3  # several attempts were in flight at once
    on_demand = {a.id for a in attempts if a.phone == CUSTOMER}
    assert on_demand, "no on-demand send went out"
    assert all(world.sends.send(s.id).tries >= 1 for s in sends)


def test_bad_send_requests(world: World) -> None:
    otp(world)
    messages = world.sends
    with pytest.raises(ValidationFailed, match="needs token"):
        messages.create_send(SendRequest(phone=CUSTOMER, template_id="otp"), actor="a")
    with pytest.raises(NotFound):
        messages.create_send(SendRequest(phone=CUSTOMER, template_id="nope"), actor="a")
    with pytest.raises(ValidationFailed, match="either template_id"):
        messages.create_send(SendRequest(phone=CUSTOMER), actor="a")
    with pytest.raises(ValidationFailed, match="international"):
        messages.create_send(SendRequest(phone="0901112233", text="x"), actor="a")
    with pytest.raises(ValidationFailed, match="no active pair of KZ"):
        messages.create_send(SendRequest(phone="+77012345678", text="x"), actor="a")


def test_a_send_through_a_paused_pair_is_refused_with_its_reason(world: World) -> None:
    """Its sessions do not run: accepted, it would only fail minutes later."""
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None and TEST_NUMBER in pair.phone_numbers
    world.store.pairs.replace(
        pair.model_copy(update={"state": PairState.paused, "state_reason": "low success"})
    )
    for request in (
        SendRequest(phone=TEST_NUMBER, text="to its own test number"),
        SendRequest(phone=CUSTOMER, text="through the pair named", pair="UZ_uzmobile"),
    ):
        with pytest.raises(Conflict, match=r"UZ_uzmobile runs no sessions \(low success\)"):
            world.sends.create_send(request, actor="olga")
    assert world.sends.sends(SendQuery()) == []


def test_a_send_through_a_pair_without_test_numbers_is_refused(world: World) -> None:
    """Its programs lease nothing until it has a test number: accepted, the send would wait for
    each program in turn and fail minutes later. Nor is such a pair chosen for a number of
    its country, or retried through."""
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    failed = world.sends.create_send(SendRequest(phone=CUSTOMER, text="hi"), actor="olga")
    world.sends.cancel(failed.id)
    world.store.pairs.replace(pair.model_copy(update={"phone_numbers": []}))
    refused = r"UZ_uzmobile has no test phone numbers, .* add one to the pair first"
    with pytest.raises(Conflict, match=refused):
        world.sends.create_send(
            SendRequest(phone=CUSTOMER, text="named", pair="UZ_uzmobile"), actor="olga"
        )
    with pytest.raises(ValidationFailed, match="no active pair of UZ"):
        world.sends.create_send(SendRequest(phone=CUSTOMER, text="any"), actor="olga")
    with pytest.raises(Conflict, match=refused):
        world.sends.retry(failed.id, actor="alice")
    assert [s.id for s in world.sends.sends(SendQuery())] == [failed.id]


def test_a_send_through_a_probed_pair_is_told_it_goes_out_as_a_probe(world: World) -> None:
    """Accepted, but not as if the route were sound: it waits its turn among the probes."""
    pair = world.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    request = SendRequest(phone=TEST_NUMBER, text="while probed")
    plain = world.sends.accepted(world.sends.create_send(request, actor="olga"))
    assert plain.message == "accepted: it goes out through the dispatcher, within the country's cap"
    world.store.pairs.replace(pair.model_copy(update={"state": PairState.probing}))
    probed = world.sends.accepted(world.sends.create_send(request, actor="olga"))
    assert (probed.pair, probed.status) == ("UZ_uzmobile", SendStatus.PENDING)
    assert probed.message == (
        "accepted: UZ_uzmobile is probed after a pause by the policy, so it goes out as one of"
        " its probes (one at a time, each after the one before), on a route that may still fail"
    )


def test_a_send_claimed_for_a_lease_that_never_opened_goes_on_to_the_next_program(
    world: World,
) -> None:
    """Claimed, and the ledger failed the lease (its program never had it): not sent, so
    the pair's next program takes it once its lease would have run out."""
    send = world.sends.create_send(SendRequest(phone=CUSTOMER, text="x"), actor="alice")
    claimed = world.sends.claim(pair="UZ_uzmobile", program="pbad", attempt_id="f" * 32)
    assert claimed is not None
    world.clock.advance(LEASE_TTL_SECONDS + REPORT_GRACE.total_seconds() + 11)
    assert world.sends.run_jobs() == 1
    moved = world.sends.send(send.id)
    assert (moved.status, moved.next_index, moved.attempt_id) == (SendStatus.PENDING, 1, None)
    assert moved.error == "pbad: its lease never opened"
