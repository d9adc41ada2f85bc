"""The alert engine on SQLite and MariaDB: dedup, severity, repeats, acks, resolutions, grouping."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from smsfleet.alerts.manual import MAX_OPEN, acknowledge, raise_alert
from smsfleet.alerts.models import (
    Alert,
    AlertQuery,
    AlertRule,
    AlertState,
    NotificationKind,
    Severity,
    Signal,
    SubjectKind,
)
from smsfleet.alerts.rules import PERIODIC_RULES
from smsfleet.alerts.service import (
    MAX_PENDING_MESSAGES,
    MAX_PENDING_MESSAGES_PER_ACTOR,
    AlertConfig,
)
from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.audit.models import Actor
from smsfleet.auth.models import Role
from smsfleet.core.clock import human_time
from smsfleet.core.errors import Conflict, Throttled
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.models import POLICY_ACTOR, PolicyAction, PolicyDecision
from smsfleet.sessions.models import (
    EventKind,
    SessionEvent,
    SessionSpec,
    SessionState,
    SessionStatus,
)
from tests.support.alerting import Alerting
from tests.support.services import alert_service

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def low(subject: str, severity: Severity = Severity.warning, country: str = "UZ") -> Signal:
    return Signal(
        rule=AlertRule.success_rate_low,
        severity=severity,
        subject_kind=SubjectKind.pair,
        subject=subject,
        country=country,
        summary=f"{subject} is failing",
    )


def test_one_alert_per_condition_repeated_until_acknowledged_then_resolved(
    alerting: Alerting,
) -> None:
    service, store = alerting.service, alerting.store
    (opened,) = service.apply(opened=[low("UZ_a")])
    assert opened.state is AlertState.firing and opened.notifications == 1
    assert alerting.texts("all") == [
        f"🟠 <b>WARNING</b> · success rate low · UZ\nUZ_a is failing\nsince "
        f"{opened.started_at:%H:%M:%S} UTC"  # today: the time alone
    ]
    assert alerting.texts("oncall") == []  # warnings do not wake the on-call chat
    assert alerting.wakes == 1

    # The same condition again: the same alert, no new message.
    alerting.clock.advance(60)
    (again,) = service.apply(opened=[low("UZ_a")])
    assert again.id == opened.id and again.last_seen_at > opened.last_seen_at
    assert len(alerting.texts("all")) == 1

    # Worse: the alert turns critical and says so, to the on-call chat too.
    (worse,) = service.apply(opened=[low("UZ_a", Severity.critical)])
    assert worse.severity is Severity.critical and worse.notifications == 2
    assert alerting.texts("oncall")[0].startswith("🔴 <b>CRITICAL</b>")

    # Past the repeat interval, unacknowledged: repeated once.
    alerting.clock.advance(3601)
    service.apply(opened=[low("UZ_a", Severity.critical)])
    assert "(still firing)" in alerting.texts("all")[-1]
    assert alerting.texts("all")[-1].endswith(f"since {opened.started_at:%H:%M:%S} UTC")
    assert len(alerting.texts("all")) == 3

    # Acknowledged: no more repeats.
    acked = service.acknowledge(opened.id, actor="bob")
    assert acked.acknowledged_by == "bob"
    alerting.clock.advance(7200)
    service.apply(opened=[low("UZ_a", Severity.critical)])
    assert len(alerting.texts("all")) == 3

    # Cleared: resolved, with a message; the next occurrence is a new alert.
    (resolved,) = service.apply(cleared={opened.fingerprint: "resumed by <bob>"})
    assert resolved.state is AlertState.resolved and resolved.resolved_at is not None
    assert resolved.summary == "UZ_a is failing; resolved: resumed by <bob>"
    assert alerting.texts("all")[-1] == (
        "✅ <b>RESOLVED</b> · success rate low · UZ\n"
        "<b>UZ_a</b>: cleared after 3 h 1 min: resumed by &lt;bob&gt;"
    )
    with pytest.raises(Conflict):
        service.acknowledge(opened.id, actor="bob")
    (new,) = service.apply(opened=[low("UZ_a")])
    assert new.id != opened.id
    history = service.find(AlertQuery(subject="UZ_a"))
    assert [(a.id, a.state) for a in history] == [
        (new.id, AlertState.firing),
        (opened.id, AlertState.resolved),
    ]
    assert [n.kind for n in store.notifications(opened.id) if n.chat_id == "all"] == [
        NotificationKind.firing,
        NotificationKind.firing,
        NotificationKind.repeat,
        NotificationKind.resolved,
    ]
    assert service.counts().firing == 1


def test_alerts_changing_together_are_grouped_per_rule_severity_and_country(
    alerting: Alerting,
) -> None:
    service = alerting.service
    opened = service.apply(opened=[low("UZ_a"), low("UZ_b"), low("KZ_c", country="KZ")])
    assert len(opened) == 3
    texts = alerting.texts("all")
    assert len(texts) == 2
    uz = next(t for t in texts if "· UZ" in t)
    assert uz.splitlines()[0] == "🟠 <b>WARNING</b> · success rate low · UZ (2)"
    assert "• UZ_a is failing" in uz and "• UZ_b is failing" in uz


def test_an_alert_resolved_while_held_at_its_severity_says_its_figures_of_then(
    alerting: Alerting,
) -> None:
    """Its figures turned milder, then not seen at all: it resolves saying what it said
    of them, not until when it would have stayed critical."""
    service = alerting.service
    periodic = frozenset({AlertRule.success_rate_low})
    critical = low("UZ_a", Severity.critical).model_copy(
        update={"summary": "UZ_a: 4 of 20 delivered"}
    )
    service.apply(opened=[critical], periodic=periodic)
    alerting.clock.advance(60)
    milder = low("UZ_a").model_copy(update={"summary": "UZ_a: 12 of 20 delivered"})
    (held,) = service.apply(opened=[milder], periodic=periodic)
    assert held.summary.startswith("UZ_a: 4 of 20 delivered; not seen since ")
    assert "now 12 of 20 delivered; critical until" in held.summary
    alerting.clock.advance(service.config.hold.total_seconds())
    (resolved,) = service.apply(periodic=periodic)
    assert resolved.state is AlertState.resolved
    assert "now 12 of 20 delivered" in resolved.summary, resolved.summary
    assert "until" not in resolved.summary, resolved.summary


def test_periodic_rules_resolve_what_they_no_longer_see(alerting: Alerting) -> None:
    service = alerting.service
    periodic = frozenset({AlertRule.success_rate_low})
    service.apply(opened=[low("UZ_a"), low("UZ_b")], periodic=periodic)
    crash = Signal(
        rule=AlertRule.session_crashed,
        severity=Severity.warning,
        subject_kind=SubjectKind.session,
        subject="program1_UZ_a",
        summary="crashed",
    )
    service.apply(opened=[crash])
    # Not seen any more: it holds for the hold time, then resolves.
    changed = service.apply(opened=[low("UZ_b")], periodic=periodic)
    assert [(a.subject, a.state) for a in changed] == [("UZ_b", AlertState.firing)]
    alerting.clock.advance(service.config.hold.total_seconds())
    changed = service.apply(opened=[low("UZ_b")], periodic=periodic)
    assert [(a.subject, a.state) for a in changed] == [
        ("UZ_b", AlertState.firing),
        ("UZ_a", AlertState.resolved),
    ]
    # Event-driven alerts are not the periodic rules' to resolve.
    assert {a.subject for a in service.find(AlertQuery(state=AlertState.firing))} == {
        "UZ_b",
        "program1_UZ_a",
    }


def _event(kind: EventKind, from_state: SessionState | None = None) -> SessionEvent:
    return SessionEvent(
        id=kind.value,
        at=START,
        session="p1_UZ_uzmobile",
        kind=kind,
        from_state=from_state,
        actor="supervisor",
        reason="exited unexpectedly",
        details={"exit_code": 1, "log_tail": ["Traceback", "ValueError: <bad>"]},
    )


START = __import__("datetime").datetime(2026, 1, 5, 12, 0, tzinfo=__import__("datetime").UTC)


def test_a_crash_loop_is_one_alert_resolved_once_the_session_stays_up(
    alerting: Alerting,
) -> None:
    store = alerting.config_store
    store.session_specs.add(
        SessionSpec(name="p1_UZ_uzmobile", program="p1", pair="UZ_uzmobile", created_at=START)
    )
    store.session_status.add(running_since(START))
    service = alerting.service
    service.on_session_event(_event(EventKind.exited, SessionState.running))
    (crash,) = service.find(AlertQuery(rule=AlertRule.session_crashed))
    assert crash.country == "UZ" and crash.details["log_tail"][-1] == "ValueError: <bad>"

    # It comes back and crashes again, and again: still the one alert.
    for _ in range(3):
        alerting.clock.advance(2)
        service.on_session_event(_event(EventKind.running, SessionState.starting))
        store.session_status.replace(running_since(alerting.clock.now()))
        alerting.clock.advance(3)
        assert service.check_recoveries() == []
        service.on_session_event(_event(EventKind.exited, SessionState.running))
    assert len(service.find(AlertQuery(rule=AlertRule.session_crashed))) == 1

    # Up for the recovery time: resolved, with a message.
    alerting.clock.advance(2)
    store.session_status.replace(running_since(alerting.clock.now()))
    alerting.clock.advance(9)
    assert service.check_recoveries() == []
    alerting.clock.advance(1)
    (resolved,) = service.check_recoveries()
    assert resolved.state is AlertState.resolved
    texts = alerting.texts("all")
    assert texts[0].startswith("🟠 <b>WARNING</b> · session crashed · UZ")
    assert "p1_UZ_uzmobile exited with code 1" in texts[0]
    assert texts[1:] == [
        "✅ <b>RESOLVED</b> · session crashed · UZ\n<b>p1_UZ_uzmobile</b>: cleared after 27 s:"
        " running again, started at 12:00:17 UTC"
    ]
    assert alerting.changed[-1].state is AlertState.resolved


def test_each_crash_of_a_loop_tells_the_chats_how_many_in_a_row(alerting: Alerting) -> None:
    """A crash while its alert still fires (the session never ran long enough to resolve
    it) is told again with the count of now, not left at the count first told."""
    store = alerting.config_store
    store.session_specs.add(
        SessionSpec(name="p1_UZ_uzmobile", program="p1", pair="UZ_uzmobile", created_at=START)
    )
    service = alerting.service
    for in_a_row in (1, 2, 3):
        crashed = _event(EventKind.exited, SessionState.running)
        details = {**crashed.details, "failures_in_a_row": in_a_row}
        service.on_session_event(crashed.model_copy(update={"details": details}))
        alerting.clock.advance(5)
    (crash,) = service.find(AlertQuery(rule=AlertRule.session_crashed))
    assert "(3 failures in a row)" in crash.summary
    texts = alerting.texts("all")
    assert len(texts) == 3
    assert "(2 failures in a row)" not in texts[0] and "in a row" not in texts[0]
    for text, in_a_row in zip(texts[1:], (2, 3), strict=True):
        assert text.startswith("🟠 <b>WARNING</b> · session crashed · UZ (crashed again)"), text
        assert f"p1_UZ_uzmobile exited with code 1 ({in_a_row} failures in a row)" in text
    # The same count seen again (an event told twice) is no news.
    again = _event(EventKind.exited, SessionState.running)
    service.on_session_event(
        again.model_copy(update={"details": {**again.details, "failures_in_a_row": 3}})
    )
    assert len(alerting.texts("all")) == 3


def running_since(at: datetime) -> SessionStatus:
    return SessionStatus(
        name="p1_UZ_uzmobile", state=SessionState.running, started_at=at, updated_at=at
    )


def test_a_session_stopped_on_purpose_resolves_at_once(alerting: Alerting) -> None:
    service = alerting.service
    service.on_session_event(_event(EventKind.exited, SessionState.running))
    stopped = _event(EventKind.stopped, SessionState.backoff)
    service.on_session_event(stopped.model_copy(update={"reason": "pair UZ_uzmobile is paused"}))
    (alert,) = service.find(AlertQuery(rule=AlertRule.session_crashed))
    assert alert.state is AlertState.resolved
    assert alert.summary.endswith("; resolved: stopped on purpose (pair UZ_uzmobile is paused)")


def test_a_session_gone_fatal_leaves_no_alert_promising_a_restart(alerting: Alerting) -> None:
    store = alerting.config_store
    store.session_specs.add(
        SessionSpec(name="p1_UZ_uzmobile", program="p1", pair="UZ_uzmobile", created_at=START)
    )
    service = alerting.service
    service.on_session_event(_event(EventKind.exited, SessionState.running))
    (crash,) = service.find(AlertQuery(rule=AlertRule.session_crashed))
    assert "restarting with backoff" in crash.summary
    alerting.clock.advance(30)
    # The crash its supervisor gives up at promises no restart: the fatal one tells it.
    last = _event(EventKind.exited, SessionState.running)
    last_details = {**last.details, "failures_in_a_row": 5, "gives_up": True}
    service.on_session_event(last.model_copy(update={"details": last_details}))
    (crash,) = service.find(AlertQuery(rule=AlertRule.session_crashed))
    assert "in a row" not in crash.summary
    fatal_event = _event(EventKind.fatal, SessionState.exited).model_copy(
        update={"reason": "5 quick failures in a row, the last: exited with code 1", "details": {}}
    )
    service.on_session_event(fatal_event)

    firing = service.find(AlertQuery(state=AlertState.firing, subject="p1_UZ_uzmobile"))
    assert [(a.rule, a.summary) for a in firing] == [
        (
            AlertRule.session_fatal,
            "p1_UZ_uzmobile gave up: 5 quick failures in a row, the last: exited with code 1;"
            " start it again once fixed",
        )
    ]
    (crash,) = service.find(AlertQuery(rule=AlertRule.session_crashed))
    assert crash.state is AlertState.resolved
    assert not [text for text in alerting.texts("all") if "restarting" in text and "5 " in text]
    # The on-call chat hears of the fatal session, not of a crash that is "resolved".
    (oncall,) = alerting.texts("oncall")
    assert oncall.startswith("🔴 <b>CRITICAL</b> · session fatal · UZ")

    # Once someone starts it again and it stays up, the fatal alert resolves too.
    store.session_status.add(running_since(alerting.clock.now()))
    alerting.clock.advance(service.config.recovery.total_seconds())
    (resolved,) = service.check_recoveries()
    assert resolved.rule is AlertRule.session_fatal and resolved.state is AlertState.resolved


def _attempts(alerting: Alerting, program: str, completed: list[tuple[datetime, Outcome]]) -> None:
    """UZ_uzmobile's attempts by `program`, each completed when given, 30 s after its lease."""
    AttemptStore(alerting.engine).add_many(
        [
            Attempt(
                id=f"{n:032x}",
                session=f"{program}_UZ_uzmobile",
                pair="UZ_uzmobile",
                country="UZ",
                operator="uzmobile",
                program=program,
                phone="+998901234567",
                leased_at=at - timedelta(seconds=30),
                completed_at=at,
                outcome=outcome,
            )
            for n, (at, outcome) in enumerate(completed)
        ]
    )


def test_gateway_errors_come_from_recorded_attempts(alerting: Alerting) -> None:
    now = alerting.clock.now()
    outcomes = [Outcome.send_failed] * 8 + [Outcome.delivered] * 4
    _attempts(alerting, "program3", [(now - timedelta(minutes=4), o) for o in outcomes])
    changed = alerting.service.evaluate()
    assert [(a.rule, a.subject) for a in changed] == [(AlertRule.gateway_errors, "program3")]
    assert "8 of 12 sends failed" in changed[0].summary
    alerting.clock.advance(16 * 60)  # out of the window: resolved
    (resolved,) = alerting.service.evaluate()
    assert resolved.state is AlertState.resolved


def test_an_alert_that_turns_worse_after_its_acknowledgement_is_unacknowledged_again(
    alerting: Alerting,
) -> None:
    service = alerting.service
    (warning,) = service.apply(opened=[low("UZ_a")])
    acknowledged = service.acknowledge(warning.id, actor="olga").acknowledged_at
    assert service.counts().unacknowledged == 0
    alerting.clock.advance(60)
    (critical,) = service.apply(opened=[low("UZ_a", Severity.critical)])
    # Olga acknowledged a warning; the critical one is news to whoever is on call.
    assert critical.severity is Severity.critical
    assert (critical.acknowledged_at, critical.acknowledged_by) == (None, None)
    assert service.counts().unacknowledged == 1
    # Hers is kept as given while it was milder: the row says who knew of it.
    kept = service.get(critical.id)
    assert (
        kept.milder_acknowledged_by,
        kept.milder_acknowledged_at,
        kept.milder_acknowledged_severity,
    ) == ("olga", acknowledged, Severity.warning)
    # The same again is no news: an acknowledgement of the critical one holds.
    service.acknowledge(critical.id, actor="bob")
    (again,) = service.apply(opened=[low("UZ_a", Severity.critical)])
    assert again.acknowledged_by == "bob"


def test_an_open_alerts_severity_follows_its_figures_both_ways(alerting: Alerting) -> None:
    """Its severity, summary and details always tell one story: a critical alert whose
    route is now only under the warning line turns warning, and is told so where it was
    told critical; only a change is news, and a route hovering at a line is no flap."""
    service = alerting.service

    def figures(severity: Severity, line: float) -> Signal:
        return low("UZ_a", severity).model_copy(
            update={"summary": f"UZ_a: under the {line:.0%} line", "details": {"line": line}}
        )

    (critical,) = service.apply(opened=[figures(Severity.critical, 0.5)])
    service.acknowledge(critical.id, actor="olga")
    # As it resolves, it eases only once it has not been seen critical for the hold time:
    # till then it stays critical with the figures that made it so, and says those of now.
    seen_at = human_time(alerting.clock.now(), now=alerting.clock.now())
    alerting.clock.advance(60)
    (held,) = service.apply(opened=[figures(Severity.warning, 0.8)])
    until = human_time(
        alerting.clock.now() - timedelta(seconds=60) + service.config.hold,
        now=alerting.clock.now(),
    )
    assert (held.id, held.severity, held.details) == (critical.id, Severity.critical, {"line": 0.5})
    assert held.summary == (
        f"UZ_a: under the 50% line; not seen since {seen_at}: now under the 80% line;"
        f" critical until {until} unless seen again"
    )
    alerting.clock.advance(service.config.hold.total_seconds() - 61)
    assert service.apply(opened=[figures(Severity.warning, 0.8)]) == []  # nothing new to say
    assert service.get(critical.id).summary == held.summary
    alerting.clock.advance(1)
    (eased,) = service.apply(opened=[figures(Severity.warning, 0.8)])
    assert (eased.id, eased.severity) == (critical.id, Severity.warning)
    assert (eased.summary, eased.details) == ("UZ_a: under the 80% line", {"line": 0.8})
    assert eased.acknowledged_by == "olga"  # milder: still hers
    said = "🟠 <b>WARNING</b> · success rate low · UZ (was critical)\nUZ_a: under the 80% line"
    # The on-call chat, paged for it, hears that it eased (and would hear nothing more).
    assert alerting.texts("oncall")[-1].startswith(said)
    assert alerting.texts("all")[-1].startswith(said)
    assert (len(alerting.texts("all")), len(alerting.texts("oncall"))) == (2, 2)

    # The same again is no news.
    alerting.clock.advance(60)
    service.apply(opened=[figures(Severity.warning, 0.8)])
    assert (len(alerting.texts("all")), len(alerting.texts("oncall"))) == (2, 2)

    # Worse again: critical, unacknowledged, paged as before.
    (worse,) = service.apply(opened=[figures(Severity.critical, 0.5)])
    assert (worse.severity, worse.summary) == (Severity.critical, "UZ_a: under the 50% line")
    assert worse.acknowledged_at is None
    assert alerting.texts("oncall")[-1].startswith(
        "🔴 <b>CRITICAL</b> · success rate low · UZ (was warning)\nUZ_a: under the 50% line"
    )
    assert [n.kind for n in alerting.store.notifications(critical.id) if n.chat_id == "all"] == [
        NotificationKind.firing
    ] * 3


def _paused_by_the_policy(alerting: Alerting) -> Pair:
    """UZ_uzmobile, paused by the policy; as written."""
    pairs = alerting.config_store.pairs
    pair = pairs.get("UZ_uzmobile")
    assert pair is not None
    paused = pair.model_copy(update={"state": PairState.paused, "state_actor": POLICY_ACTOR})
    pairs.replace(paused)
    return paused


PAUSED_SIGNAL = Signal(
    rule=AlertRule.pair_paused,
    severity=Severity.warning,
    subject_kind=SubjectKind.pair,
    subject="UZ_uzmobile",
    country="UZ",
    summary="UZ_uzmobile paused by the policy",
)


def test_a_pause_alert_resolved_by_a_persons_resume_says_who(alerting: Alerting) -> None:
    paused = _paused_by_the_policy(alerting)
    (alert,) = alerting.service.apply(opened=[PAUSED_SIGNAL])
    alerting.config_store.pairs.replace(
        paused.model_copy(update={"state": PairState.enabled, "state_actor": "alice"})
    )
    alerting.service.evaluate()
    resolved = alerting.service.get(alert.id)
    assert resolved.state is AlertState.resolved
    assert resolved.summary == "UZ_uzmobile paused by the policy; resolved: enabled by alice"
    assert alerting.texts("all")[-1].endswith(": enabled by alice")


def test_a_deleted_pairs_alerts_resolve_at_the_next_evaluation(alerting: Alerting) -> None:
    service = alerting.service
    _paused_by_the_policy(alerting)
    (alert,) = service.apply(opened=[PAUSED_SIGNAL])
    service.evaluate()
    assert service.get(alert.id).state is AlertState.firing  # paused, and still there
    assert alerting.config_store.pairs.delete("UZ_uzmobile")
    service.evaluate()
    resolved = service.get(alert.id)
    assert resolved.state is AlertState.resolved
    assert alerting.texts("all")[-1].startswith("✅ <b>RESOLVED</b> · pair paused")
    assert alerting.texts("all")[-1].endswith(": pair UZ_uzmobile was deleted")
    assert resolved.summary == (
        "UZ_uzmobile paused by the policy; resolved: pair UZ_uzmobile was deleted"
    )


def test_peoples_messages_and_alerts_are_bounded_while_they_wait(alerting: Alerting) -> None:
    service = alerting.service
    for n in range(MAX_PENDING_MESSAGES):
        # Several people's, as one person has room for a few of them only.
        service.send_message(f"test {n}", actor=f"script {n // MAX_PENDING_MESSAGES_PER_ACTOR}")
    with pytest.raises(Throttled, match="20 messages from people wait") as refused:
        service.send_message("one more", actor="olga")
    assert refused.value.retry_after > 0
    for n in range(MAX_OPEN):
        raise_alert(
            service=service, message=f"look at {n}", actor="script", severity=Severity.warning
        )
    with pytest.raises(Conflict, match="you have 20 alerts open that you raised"):
        raise_alert(service=service, message="and this", actor="script", severity=Severity.warning)
    # Another person's room is their own.
    raise_alert(service=service, message="mine", actor="olga", severity=Severity.warning)
    # The same message as an open one is that alert again; one acknowledged makes room.
    raise_alert(service=service, message="look at 0", actor="script", severity=Severity.warning)
    (first,) = service.find(AlertQuery(subject="look at 0"))
    olga = Actor(username="olga", role=Role.operator)
    # Resolves a person's alert.
    acknowledge(service=service, alert_id=first.id, actor=olga, audit=alerting.config_store.audit)
    assert service.get(first.id).summary.endswith("; resolved: acknowledged by olga")
    raise_alert(service=service, message="and this", actor="script", severity=Severity.warning)


def test_a_paused_routes_success_alert_stays_until_it_runs_again_without_one(
    alerting: Alerting,
) -> None:
    """Paused, the route sends nothing and its window starts at the pause: no figures is
    no news, not a recovery."""
    service = alerting.service
    (alert,) = service.apply(
        opened=[low("UZ_uzmobile", Severity.critical)], periodic=PERIODIC_RULES
    )
    pairs = alerting.config_store.pairs
    paused = _paused_by_the_policy(alerting)
    # Held, it says so and since when its figures are, lest they be read as today's.
    for state, said in [(PairState.paused, "paused"), (PairState.probing, "probed after a pause")]:
        pairs.replace(paused.model_copy(update={"state": state}))
        alerting.clock.advance(3600)  # far past the hold time
        service.evaluate()
        still = service.get(alert.id)
        assert (still.state, still.severity) == (AlertState.firing, Severity.critical), state
        assert still.summary == (
            f"UZ_uzmobile is failing; held since {alert.last_seen_at:%H:%M:%S} UTC "
            f"while UZ_uzmobile is {said} by the policy"
        )
        assert still.details["held_since"] == alert.last_seen_at.isoformat()
    # A person resumes it: too few attempts since to say anything, so still held, saying so
    # (not eased and resolved on "0 of 0 delivered").
    resumed_at = alerting.clock.now()
    pairs.replace(
        paused.model_copy(update={"state": PairState.enabled, "state_changed_at": resumed_at})
    )
    alerting.clock.advance(3600)
    service.evaluate()
    still = service.get(alert.id)
    assert still.state is AlertState.firing
    assert still.summary == (
        f"UZ_uzmobile is failing; held since {alert.last_seen_at:%H:%M:%S} UTC: 0 completed"
        f" attempts since it was enabled at {resumed_at:%H:%M:%S} UTC, too few to say (it"
        f" takes {service.config.thresholds.min_samples})"
    )
    # Delivering since: nothing bad seen, it resolves after the hold time.
    now = alerting.clock.now()
    fewest = service.config.thresholds.min_samples
    _attempts(
        alerting,
        "program1",
        [(now - timedelta(seconds=n), Outcome.delivered) for n in range(fewest)],
    )
    service.evaluate()
    alerting.clock.advance(service.config.hold.total_seconds() + 1)
    service.evaluate()
    assert service.get(alert.id).state is AlertState.resolved


def test_an_alert_raised_before_any_chat_is_told_once_one_takes_it(alerting: Alerting) -> None:
    """Telegram configured while alerts are open: each is told as firing at its next look,
    once; one that resolves without a chat ever hearing it fire says nothing of it."""
    service = alerting.service
    configured = service.config
    service.config = dataclasses.replace(configured, routes=())
    service.apply(opened=[low("UZ_a"), low("UZ_b")])
    assert alerting.texts("all") == []
    service.config = configured
    alerting.clock.advance(60)
    service.apply(opened=[low("UZ_a")], cleared={low("UZ_b").fingerprint: "deleted"})
    [told] = alerting.texts("all")
    assert told == (
        "🟠 <b>WARNING</b> · success rate low · UZ (raised before a chat took it)\n"
        "UZ_a is failing\nsince 12:00:00 UTC"
    )
    assert "UZ_b" not in told
    alerting.clock.advance(60)
    service.apply(opened=[low("UZ_a")])  # told already: not again before the repeat interval
    assert alerting.texts("all") == [told]
    # Raised while no chat took it, then worse once one does: no chat heard it milder.
    service.config = dataclasses.replace(configured, routes=())
    service.apply(opened=[low("UZ_c")])
    service.config = configured
    service.apply(opened=[low("UZ_c", Severity.critical)])
    assert alerting.texts("all")[-1].startswith(
        "🔴 <b>CRITICAL</b> · success rate low · UZ (was warning, raised before a chat took it)\n"
    )


def _decision(alerting: Alerting, action: PolicyAction, reason: str, n: int) -> PolicyDecision:
    return PolicyDecision(
        id=f"d{n}",
        at=alerting.clock.now(),
        pair="UZ_uzmobile",
        country="UZ",
        action=action,
        reason=f"UZ_uzmobile {action.value}: {reason}",
        lower_bound=0.1,
        upper_bound=0.4,
        decided_on=None,
        success_ratio=0.2,
        samples=11,
        delivered=2,
        pause_threshold=0.5,
        resume_threshold=0.7,
        window="last 30 min, at most 50 attempts",
    )


def test_a_route_paused_again_after_failed_probes_is_told_again(alerting: Alerting) -> None:
    """The pause said when the route would be probed; a pause again after its probes
    failed says when it is probed next, once per pause, acknowledged or not."""
    service = alerting.service
    service.on_policy_decision(
        _decision(alerting, PolicyAction.paused, "2 of 20 delivered; probed from 12:02:00", 1)
    )
    [alert] = service.find(AlertQuery(rule=AlertRule.pair_paused))
    assert alert.notifications == 1
    alerting.clock.advance(120)
    service.on_policy_decision(_decision(alerting, PolicyAction.probing, "cool-down over", 2))
    assert service.get(alert.id).notifications == 1  # probing: nothing to tell yet
    alerting.clock.advance(330)
    again = _decision(
        alerting,
        PolicyAction.paused,
        "while probing, 2 of 11 delivered; paused again, probed from 12:13:30",
        3,
    )
    service.on_policy_decision(again)
    told = service.get(alert.id)
    assert told.notifications == 2 and told.state is AlertState.firing
    assert alerting.texts("all")[-1] == (
        "🟠 <b>WARNING</b> · pair paused · UZ (paused again)\n"
        "UZ_uzmobile paused: while probing, 2 of 11 delivered; paused again, probed from"
        " 12:13:30\nsince 12:00:00 UTC"
    )
    # The same decision heard twice is told once.
    service.on_policy_decision(again)
    assert service.get(alert.id).notifications == 2
    # Acknowledged, it still hears of a pause again: not a repeat, a new cool-down.
    service.acknowledge(alert.id, actor="olga")
    alerting.clock.advance(600)
    service.on_policy_decision(
        _decision(alerting, PolicyAction.paused, "paused again, probed from 12:31:30", 4)
    )
    told = service.get(alert.id)
    assert told.notifications == 3 and told.acknowledged_by == "olga"
    assert [n.kind for n in alerting.store.notifications(alert.id) if n.chat_id == "all"] == [
        NotificationKind.firing
    ] * 3
    assert alerting.texts("oncall") == []  # a warning, as it was


def test_a_pause_raised_while_no_chat_was_set_is_told_once_one_is(alerting: Alerting) -> None:
    """No event comes again to tell it (the pause stands until the route is probed): the
    next pass of the rules tells it, once."""
    unconfigured = alert_service(
        alerting.engine,
        alerting.config_store,
        alerting.clock,
        store=alerting.store,
        config=AlertConfig(routes=(), repeat_interval=timedelta(hours=1)),
    )
    _paused_by_the_policy(alerting)
    unconfigured.on_policy_decision(
        _decision(alerting, PolicyAction.paused, "2 of 20 delivered; probed from 12:02:00", 1)
    )
    [alert] = alerting.service.find(AlertQuery(rule=AlertRule.pair_paused))
    assert alert.notifications == 0 and alerting.texts("all") == []
    alerting.clock.advance(30)
    alerting.service.evaluate()  # Telegram set up since, as a restart with chats does
    told = alerting.service.get(alert.id)
    assert told.notifications == 1 and told.state is AlertState.firing
    [text] = alerting.texts("all")
    assert "pair paused" in text and "probed from 12:02:00" in text
    assert told.details == alert.details  # as the pause raised it
    alerting.service.evaluate()
    assert alerting.service.get(alert.id).notifications == 1  # once


def _sounds(alerting: Alerting, chat: str) -> list[tuple[str, bool]]:
    """Each message queued for `chat`: its first line, and whether it goes out silently."""
    return [
        (n.text.partition("\n")[0], n.silent)
        for n in alerting.store.pending(limit=1000)
        if n.chat_id == chat
    ]


def test_a_failing_high_priority_route_pages_each_chat_once(alerting: Alerting) -> None:
    """Its success alert pages; the policy's word that it keeps the pair running, on the
    same figures, is told without a sound. Its reminders ring."""
    service = alerting.service
    service.apply(opened=[low("UZ_uzmobile", Severity.critical)])
    alerting.clock.advance(9)
    held = _decision(alerting, PolicyAction.held, "high priority: kept running", 1)
    service.on_policy_decision(held)
    expected = [
        ("🔴 <b>CRITICAL</b> · success rate low · UZ", False),
        ("🔴 <b>CRITICAL</b> · priority pair failing · UZ", True),
    ]
    assert _sounds(alerting, "all") == _sounds(alerting, "oncall") == expected
    # Past the repeat interval, both reminders ring: neither has paged since.
    alerting.clock.advance(3601)
    service.apply(opened=[low("UZ_uzmobile", Severity.critical)])
    service.on_policy_decision(held.model_copy(update={"id": "d2", "at": alerting.clock.now()}))
    assert _sounds(alerting, "oncall")[2:] == [
        ("🔴 <b>CRITICAL</b> · success rate low · UZ (still firing)", False),
        ("🔴 <b>CRITICAL</b> · priority pair failing · UZ (still firing)", False),
    ]
    # Another pair's alert is its own page.
    service.apply(opened=[low("UZ_other", Severity.critical)])
    assert _sounds(alerting, "oncall")[-1] == (
        "🔴 <b>CRITICAL</b> · success rate low · UZ",
        False,
    )


def _held_high_priority(alerting: Alerting) -> tuple[Alert, PolicyDecision]:
    """UZ_uzmobile marked high priority and held running by the policy: its alert."""
    pairs = alerting.config_store.pairs
    pair = pairs.get("UZ_uzmobile")
    assert pair is not None
    pairs.replace(pair.model_copy(update={"is_high_priority": True}))
    held = _decision(alerting, PolicyAction.held, "high priority: kept running", 1)
    alerting.service.on_policy_decision(held)
    [alert] = alerting.service.find(AlertQuery(rule=AlertRule.priority_pair_failing))
    return alert, held


def test_a_held_high_priority_routes_alert_is_seen_at_each_pass_with_its_figures_of_now(
    alerting: Alerting,
) -> None:
    """The policy holds it once (one decision): while it stays held, each pass sees its
    alert again, with the route's figures of the pass, not the decision's."""
    alert, held = _held_high_priority(alerting)
    alerting.clock.advance(300)
    now = alerting.clock.now()
    outcomes = [Outcome.not_delivered] * 14 + [Outcome.delivered] * 6
    _attempts(alerting, "program1", [(now - timedelta(minutes=1), o) for o in outcomes])
    alerting.service.evaluate()
    seen = alerting.service.get(alert.id)
    assert (seen.state, seen.last_seen_at) == (AlertState.firing, now)
    assert seen.summary.startswith(f"{held.reason}; now 6 of 20 delivered (30 %)"), seen.summary
    alerting.clock.advance(60)
    alerting.service.evaluate()  # the figures said once, not one more "; now" a pass
    assert alerting.service.get(alert.id).summary.count("; now ") == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            {"is_high_priority": False},
            "UZ_uzmobile is no longer high priority: the policy decides on it as on any other",
        ),
        (
            {"state": PairState.paused, "state_actor": "alice"},
            "paused by alice: held running no more",
        ),
    ],
)
def test_a_held_pairs_alert_clears_once_it_is_held_running_no_more(
    alerting: Alerting, change: dict[str, object], why: str
) -> None:
    """Unmarked, or paused by an admin, a failing high-priority pair is held running no
    more: its alert would otherwise say so until a `recovered` the policy never decides."""
    alert, _ = _held_high_priority(alerting)
    pairs = alerting.config_store.pairs
    alerting.service.evaluate()
    assert alerting.service.get(alert.id).state is AlertState.firing
    marked = pairs.get("UZ_uzmobile")
    assert marked is not None
    pairs.replace(marked.model_copy(update=change))
    alerting.service.evaluate()
    resolved = alerting.service.get(alert.id)
    assert resolved.state is AlertState.resolved
    assert resolved.summary.endswith(f"; resolved: {why}"), resolved.summary
    assert alerting.texts("all")[-1].endswith(f": {why}")


def test_an_alert_resolving_as_a_chat_first_takes_it_is_not_told_firing(
    alerting: Alerting,
) -> None:
    """Held while no chat took alerts, unmarked as one is configured: it resolves in that
    pass, and no chat hears of a pair held that is no longer."""
    service, pairs = alerting.service, alerting.config_store.pairs
    pair = pairs.get("UZ_uzmobile")
    assert pair is not None
    pairs.replace(pair.model_copy(update={"is_high_priority": True}))
    configured = service.config
    service.config = dataclasses.replace(configured, routes=())
    service.on_policy_decision(_decision(alerting, PolicyAction.held, "kept running", 1))
    [alert] = service.find(AlertQuery(rule=AlertRule.priority_pair_failing))
    pairs.replace(pair.model_copy(update={"is_high_priority": False}))
    service.config = configured
    service.evaluate()
    assert service.get(alert.id).state is AlertState.resolved
    assert alerting.texts("all") == []


def test_a_success_alert_after_the_policys_word_is_silent_unless_more_severe(
    alerting: Alerting,
) -> None:
    """The pause paged first: the route's success alert at its severity adds no page,
    turning worse it does, and its resolution with the pause's is one sound."""
    service = alerting.service
    service.on_policy_decision(
        _decision(alerting, PolicyAction.paused, "2 of 20 delivered; probed from 12:02:00", 1)
    )
    service.apply(opened=[low("UZ_uzmobile", Severity.warning)])
    assert [silent for _, silent in _sounds(alerting, "all")] == [False, True]
    # Worse than the pause that paged: it pages, the on-call chat too.
    service.apply(opened=[low("UZ_uzmobile", Severity.critical)])
    assert _sounds(alerting, "all")[-1] == (
        "🔴 <b>CRITICAL</b> · success rate low · UZ (was warning)",
        False,
    )
    assert [silent for _, silent in _sounds(alerting, "oncall")] == [False]
    # Resumed: both resolve in one pass, and the more severe one's message is the sound.
    resumed = _decision(alerting, PolicyAction.resumed, "while probing, 9 of 10", 2)
    service.on_policy_decision(resumed)
    resolved = [(line, silent) for line, silent in _sounds(alerting, "all") if "RESOLVED" in line]
    assert resolved == [
        ("✅ <b>RESOLVED</b> · success rate low · UZ", False),
        ("✅ <b>RESOLVED</b> · pair paused · UZ", True),
    ]


def test_a_route_paused_again_after_its_probes_keeps_its_alert_on_the_first_pauses_figures(
    alerting: Alerting,
) -> None:
    """Paused again on its probes, its success alert is not read on a window that mixes
    the probes with the sends before the first pause: it stays as the first pause held it."""
    service, pairs = alerting.service, alerting.config_store.pairs
    start = alerting.clock.now()
    # 4 of 20 delivered before the pause; probed from 2 minutes on, 8 of its 10 probes.
    before = [Outcome.delivered] * 4 + [Outcome.not_delivered] * 16
    probing = start + timedelta(minutes=2)
    probes = [Outcome.delivered] * 8 + [Outcome.not_delivered] * 2
    _attempts(
        alerting,
        "program1",
        [(start - timedelta(seconds=n), o) for n, o in enumerate(before)]
        + [(probing + timedelta(seconds=30 * n + 10), o) for n, o in enumerate(probes)],
    )
    paused = _paused_by_the_policy(alerting).model_copy(update={"state_changed_at": start})
    pairs.replace(paused)
    service.evaluate()
    [alert] = service.find(AlertQuery(rule=AlertRule.success_rate_low))
    assert "4 of 20 delivered (20 %)" in alert.summary, alert.summary
    # Probed, then paused again on its probes.
    alerting.clock.advance(120)
    pairs.replace(
        paused.model_copy(update={"state": PairState.probing, "state_changed_at": probing})
    )
    service.evaluate()
    alerting.clock.advance(330)
    pairs.replace(paused.model_copy(update={"state_changed_at": alerting.clock.now()}))
    service.evaluate()
    again = service.get(alert.id)
    assert again.state is AlertState.firing
    assert "4 of 20 delivered (20 %)" in again.summary, again.summary
    assert f"held since {start:%H:%M:%S} UTC" in again.summary, again.summary
