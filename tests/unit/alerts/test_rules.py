"""The alert rules and texts, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from smsfleet.alerts import rules
from smsfleet.alerts.models import (
    Alert,
    AlertRule,
    AlertState,
    NotificationKind,
    Severity,
    SubjectKind,
)
from smsfleet.alerts.rules import RuleThresholds
from smsfleet.alerts.service import AlertConfig, ChatRoute
from smsfleet.alerts.text import MESSAGE_LIMIT, alert_text, message_text, telegram_length
from smsfleet.core.settings import Settings
from smsfleet.pairs.models import Pair
from smsfleet.policy.models import PolicyAction, PolicyDecision
from smsfleet.policy.stats import Window, WindowStats, split_z
from smsfleet.sessions.models import EventKind, SessionEvent, SessionState
from tests.support.telegram import html_error

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
THRESHOLDS = RuleThresholds()
WINDOW = Window(span=timedelta(minutes=30), max_attempts=50)


def pair(key: str = "UZ_uzmobile", *, high_priority: bool = False) -> Pair:
    country, slug = key.split("_", 1)
    return Pair(
        key=key,
        country=country,
        operator=slug,
        slug=slug,
        is_high_priority=high_priority,
        created_at=NOW,
        updated_at=NOW,
    )


def event(
    kind: EventKind, *, from_state: SessionState | None = None, **details: object
) -> SessionEvent:
    return SessionEvent(
        id="e1",
        at=NOW,
        session="program1_UZ_uzmobile",
        kind=kind,
        from_state=from_state,
        actor="supervisor",
        reason="exited unexpectedly",
        details=details,
    )


def test_success_rate_alerts_only_when_confidently_under_a_line() -> None:
    keys = ("UZ_a", "UZ_b", "UZ_c", "UZ_d", "UZ_e", "UZ_f", "UZ_g")
    pairs = {key: pair(key) for key in keys}
    stats = {
        "UZ_a": WindowStats(samples=50, delivered=48),  # 96 %: fine
        "UZ_b": WindowStats(samples=50, delivered=40),  # 80 %, at the line: [67 %, 89 %]
        "UZ_c": WindowStats(samples=50, delivered=15),  # 30 %: [19 %, 44 %] critical
        "UZ_d": WindowStats(samples=19, delivered=0),  # too few to judge
        "UZ_e": WindowStats(samples=50, delivered=33),  # 66 %: [52 %, 78 %] warning
        "UZ_f": WindowStats(samples=23, delivered=22),  # 96 % of few: [79 %, 99 %] fine
        "UZ_g": WindowStats(samples=50, delivered=20),  # 40 %: [28 %, 54 %] warning only
    }
    signals = {
        s.subject: s for s in rules.success_rate_signals(stats, {}, pairs, THRESHOLDS, WINDOW)
    }
    assert {key: s.severity for key, s in signals.items()} == {
        "UZ_c": Severity.critical,
        "UZ_e": Severity.warning,
        "UZ_g": Severity.warning,
    }
    assert signals["UZ_c"].summary == (
        "UZ_c (c): 15 of the newest 50 delivered (30 %) in the last 30 min: below the 50 % "
        "critical line with 95 % confidence"
    )
    assert signals["UZ_e"].summary.endswith("below the 80 % warning line with 95 % confidence")
    assert signals["UZ_c"].details["upper_bound"] < 0.5
    assert signals["UZ_c"].fingerprint == "success_rate_low:pair:UZ_c"


def test_a_route_going_on_failing_is_quoted_on_its_worst_look() -> None:
    """A route whose newest 20 are at 20 % while its whole window, at 66 %, has just
    become confidently under the warning line too: the alert quotes the newest 20, not a
    figure that reads as if the route were recovering."""
    pairs = {"IN_vi": pair("IN_vi", high_priority=True)}
    stats = {"IN_vi": WindowStats(50, 33)}
    newest = {"IN_vi": WindowStats(20, 4)}
    thresholds = RuleThresholds(success_critical=0.1)  # both under the warning line only
    [signal] = rules.success_rate_signals(stats, newest, pairs, thresholds, WINDOW)
    assert signal.severity is Severity.warning
    assert signal.summary.startswith("IN_vi (vi): 4 of the newest 20 delivered (20 %)")


def test_success_rate_alerts_look_at_the_newest_attempts_as_the_policy_does() -> None:
    """The demo's case: a route paused on "2 of the newest 20 delivered" alerted as a
    warning on its whole window's 16 of 32, milder than a route at 4 of 20."""
    pairs = {
        "UZ_uzmobile": pair("UZ_uzmobile"),
        "IN_vi": pair("IN_vi", high_priority=True),
        "IN_docomo": pair("IN_docomo"),
    }
    stats = {
        "UZ_uzmobile": WindowStats(32, 16),
        "IN_vi": WindowStats(50, 33),
        "IN_docomo": WindowStats(20, 4),
    }
    newest = {
        "UZ_uzmobile": WindowStats(20, 2),
        "IN_vi": WindowStats(20, 4),
        "IN_docomo": WindowStats(20, 4),  # its whole window: looked at once
    }
    signals = {
        s.subject: s for s in rules.success_rate_signals(stats, newest, pairs, THRESHOLDS, WINDOW)
    }
    assert {key: s.severity for key, s in signals.items()} == dict.fromkeys(
        pairs, Severity.critical
    )
    assert signals["UZ_uzmobile"].summary == (
        "UZ_uzmobile (uzmobile): 2 of the newest 20 delivered (10 %) in the last 30 min: "
        "below the 50 % critical line with 95 % confidence"
    )
    assert signals["IN_vi"].summary.startswith("IN_vi (vi): 4 of the newest 20 delivered (20 %)")
    assert signals["IN_docomo"].summary.startswith("IN_docomo (docomo): 4 of 20 delivered (20 %)")
    # The details are the look's, its bounds read at the quantile it was taken on.
    each = split_z(THRESHOLDS.z, 2)
    assert signals["UZ_uzmobile"].details == {
        "delivered": 2,
        "samples": 20,
        "window": "last 30 min, at most 20 attempts",
        "line": 0.5,
        "lower_bound": round(WindowStats(20, 2).lower_bound(each), 4),
        "upper_bound": round(WindowStats(20, 2).upper_bound(each), 4),
        "high_priority": False,
    }
    assert signals["IN_docomo"].details["upper_bound"] == round(WindowStats(20, 4).upper_bound(), 4)
    # Two looks keep one's confidence: 18 of 50 alone is critical (49.9 % at 95 %), not
    # with its newest 20 looked at too (each at 97.5 %).
    eighteen = {"UZ_uzmobile": WindowStats(50, 18)}
    (alone,) = rules.success_rate_signals(eighteen, {}, pairs, THRESHOLDS, WINDOW)
    (both,) = rules.success_rate_signals(
        eighteen, {"UZ_uzmobile": WindowStats(20, 8)}, pairs, THRESHOLDS, WINDOW
    )
    assert (alone.severity, both.severity) == (Severity.critical, Severity.warning)


def test_a_sudden_drop_is_measured_against_the_pairs_own_baseline() -> None:
    pairs = {key: pair(key) for key in ("UZ_a", "UZ_b", "UZ_c")}
    # Against a 7-day 95 %, the drop line is 65 %: 40 % of 30 is under it beyond
    # doubt, 50 % of 30 ([33 %, 67 %]) is not, 90 % is fine.
    current = {
        "UZ_a": WindowStats(30, 12),
        "UZ_b": WindowStats(30, 27),
        "UZ_c": WindowStats(30, 15),
    }
    baseline = {key: WindowStats(1000, 950) for key in pairs}
    (signal,) = rules.drop_signals(current, {}, baseline, pairs, THRESHOLDS, WINDOW)
    assert (signal.subject, signal.rule) == ("UZ_a", AlertRule.success_rate_drop)
    assert signal.summary == (
        "UZ_a: success dropped from a 7-day 95 % (1000 attempts): 12 of 30 delivered (40 %) "
        "in the last 30 min: below the 65 % drop line with 95 % confidence "
        "(30 points under the baseline)"
    )
    # A drop after a good spell shows in the newest attempts first.
    spell = {"UZ_b": WindowStats(50, 40)}
    assert rules.drop_signals(spell, {}, baseline, pairs, THRESHOLDS, WINDOW) == []
    (newest,) = rules.drop_signals(
        spell, {"UZ_b": WindowStats(20, 5)}, baseline, pairs, THRESHOLDS, WINDOW
    )
    assert "5 of the newest 20 delivered (25 %)" in newest.summary
    thin = {"UZ_a": WindowStats(99, 95)}
    assert rules.drop_signals(current, {}, thin, pairs, THRESHOLDS, WINDOW) == []


def test_gateway_errors_and_a_country_under_target() -> None:
    (gateway,) = rules.gateway_signals({"program3": (20, 12), "program1": (20, 2)}, THRESHOLDS, 15)
    assert (gateway.subject_kind, gateway.subject) == (SubjectKind.gateway, "program3")
    assert rules.gateway_signals({"program3": (9, 9)}, THRESHOLDS, 15) == []
    window = timedelta(minutes=10)
    signals = rules.country_signals(
        {"UZ": 30, "TJ": 90}, {"UZ": 10, "TJ": 10, "KZ": 10}, ["UZ", "TJ", "KZ"], THRESHOLDS, window
    )
    assert {s.subject: s.details["sent"] for s in signals} == {"KZ": 0, "UZ": 30}


def test_a_country_under_target_says_why() -> None:
    why = (
        "too few test numbers for the cap at this pace: 2 numbers, 2 attempts at once, "
        "at 30 s per SMS"
    )
    (signal,) = rules.country_signals(
        {"TJ": 20}, {"TJ": 10}, ["TJ"], THRESHOLDS, timedelta(minutes=10), reasons={"TJ": why}
    )
    assert signal.summary == (
        f"TJ: 20 sends in the last 10 min against a target of 100 (10/min): {why}"
    )
    assert signal.details["reason"] == why


def test_a_crash_opens_and_a_stop_clears() -> None:
    crashed = rules.session_outcome(
        event(EventKind.exited, from_state=SessionState.running, exit_code=3, log_tail=["boom"]),
        pair=pair(high_priority=True),
    )
    (signal,) = crashed.opened
    assert signal.rule is AlertRule.session_crashed
    assert signal.severity is Severity.critical  # a high-priority pair's session
    assert "exited with code 3" in signal.summary and signal.country == "UZ"
    for code, said in [
        (-9, "killed by signal 9 (SIGKILL)"),
        (-15, "killed by signal 15 (SIGTERM)"),
        (-1, "killed by signal 1 (SIGHUP, as when its screen is closed)"),
        (-99, "killed by signal 99"),
        (None, "exited"),
    ]:
        killed = rules.session_outcome(
            event(EventKind.exited, from_state=SessionState.running, exit_code=code),
            pair=pair(),
        )
        summary = killed.opened[0].summary
        assert summary.startswith(f"program1_UZ_uzmobile {said};"), (code, summary)
    # Its runner gone without recording how the program ended (a kill -9 of the runner).
    (vanished,) = rules.session_outcome(
        event(
            EventKind.exited, from_state=SessionState.running, exit_code=None, exit_recorded=False
        ),
        pair=pair(),
    ).opened
    assert vanished.summary == (
        "program1_UZ_uzmobile went down: its runner ended without recording the program's"
        " exit (killed?); restarting with backoff"
    )
    # In a crash loop, how many: the alert is refreshed at each, notified only now and then.
    (again,) = rules.session_outcome(
        event(EventKind.exited, from_state=SessionState.running, exit_code=-9, failures_in_a_row=3),
        pair=pair(),
    ).opened
    assert again.summary == (
        "program1_UZ_uzmobile killed by signal 9 (SIGKILL) (3 failures in a row); restarting"
        " with backoff"
    )
    asked = rules.session_outcome(
        event(EventKind.exited, from_state=SessionState.stopping), pair=pair()
    )
    assert asked.opened == ()  # a stop someone asked for is no crash
    clean = rules.session_outcome(
        event(EventKind.exited, from_state=SessionState.running, exit_code=0), pair=pair()
    )
    assert clean.opened == ()  # nor is a program that chose to end
    # Running again is no recovery yet (the engine waits until it stays up); a stop is.
    assert rules.session_outcome(event(EventKind.running), pair=pair()).cleared == ()
    stopped = rules.session_outcome(event(EventKind.stopped), pair=pair())
    assert signal.fingerprint in stopped.cleared
    fatal = rules.session_outcome(event(EventKind.fatal), pair=pair())
    assert fatal.opened[0].severity is Severity.critical
    # Given up: the crash alert's "restarting with backoff" is no longer true.
    assert signal.fingerprint in fatal.cleared
    assert fatal.opened[0].fingerprint not in fatal.cleared


def test_a_hung_sessions_alert_tells_its_last_heartbeat_as_people_read_it() -> None:
    def said(last_heartbeat: str | None = None) -> str:
        hung = event(EventKind.hung)
        if last_heartbeat is not None:
            hung = hung.model_copy(update={"details": {"last_heartbeat": last_heartbeat}})
        (signal,) = rules.session_outcome(hung, pair=pair()).opened
        return signal.summary

    # The event keeps the machine's timestamp; the alert says the time, and the date
    # only when it is not the day of the event.
    earlier = (NOW - timedelta(hours=1, microseconds=682766)).isoformat()
    assert earlier == "2026-01-05T10:59:59.317234+00:00"
    assert said(last_heartbeat=earlier) == (
        "program1_UZ_uzmobile sent no heartbeat since 10:59:59 UTC; restarting it"
    )
    yesterday = (NOW - timedelta(days=1)).isoformat()
    assert "since 2026-01-04 12:00:00 UTC;" in said(last_heartbeat=yesterday)
    assert "since its start;" in said()


@pytest.mark.parametrize(
    ("action", "opens", "clears"),
    [
        (PolicyAction.paused, AlertRule.pair_paused, ()),
        (PolicyAction.held, AlertRule.priority_pair_failing, ()),
        # A resume ends the success alerts held through the pause with it.
        (
            PolicyAction.resumed,
            None,
            (AlertRule.pair_paused, AlertRule.success_rate_low, AlertRule.success_rate_drop),
        ),
        (PolicyAction.recovered, None, (AlertRule.priority_pair_failing,)),
        (PolicyAction.probing, None, ()),
    ],
)
def test_policy_decisions(
    action: PolicyAction, opens: AlertRule | None, clears: tuple[AlertRule, ...]
) -> None:
    decision = PolicyDecision(
        id="d",
        at=NOW,
        pair="UZ_a",
        country="UZ",
        action=action,
        reason="why",
        lower_bound=0.3,
        upper_bound=0.5,
        decided_on=None,
        success_ratio=0.4,
        samples=50,
        delivered=20,
        pause_threshold=0.5,
        resume_threshold=0.7,
        window="w",
    )
    outcome = rules.policy_outcome(decision)
    assert [s.rule for s in outcome.opened] == ([opens] if opens else [])
    assert list(outcome.cleared) == [f"{rule}:pair:UZ_a" for rule in clears]


def alert(subject: str, summary: str = "a <b> & c", **update: object) -> Alert:
    values: dict[str, object] = {
        "id": subject,
        "fingerprint": f"success_rate_low:pair:{subject}",
        "rule": AlertRule.success_rate_low,
        "severity": Severity.critical,
        "state": AlertState.firing,
        "subject_kind": SubjectKind.pair,
        "subject": subject,
        "country": "UZ",
        "summary": summary,
        "started_at": NOW,
        "last_seen_at": NOW,
    }
    values.update(update)
    return Alert.model_validate(values)


def test_texts_are_escaped_grouped_and_under_the_limit() -> None:
    one = alert_text(NotificationKind.firing, [alert("UZ_a")])
    assert one.startswith("🔴 <b>CRITICAL</b> · success rate low · UZ")
    assert "a &lt;b&gt; &amp; c" in one and html_error(one) is None
    many = alert_text(NotificationKind.firing, [alert(f"UZ_{i}", "x" * 500) for i in range(20)])
    assert len(many) <= MESSAGE_LIMIT and html_error(many) is None
    assert "(20)" in many.splitlines()[0] and many.endswith("more")
    assert one.endswith("\nsince 12:00:00 UTC")
    days = alert("UZ_a", last_seen_at=NOW + timedelta(days=2))  # repeated days later
    assert alert_text(NotificationKind.repeat, [days]).endswith("since 2026-01-05 12:00:00 UTC")
    done = alert_text(
        NotificationKind.resolved,
        [alert("UZ_a", resolved_at=NOW + timedelta(minutes=5), state=AlertState.resolved)],
    )
    assert done.startswith("✅ <b>RESOLVED</b>") and "cleared after 5 min" in done
    long = message_text("<&>" * 1500, actor="alice")
    assert len(long) <= MESSAGE_LIMIT and html_error(long) is None
    # Telegram counts UTF-16 code units: 3,500 emoji are 7,000 of them.
    emoji = message_text("🔥" * 3500, actor="alice")
    assert telegram_length(emoji) <= MESSAGE_LIMIT and emoji.endswith("…")
    wide = alert_text(NotificationKind.firing, [alert(f"UZ_{i}", "🔥" * 300) for i in range(20)])
    assert telegram_length(wide) <= MESSAGE_LIMIT and wide.endswith("more")


def test_chats_are_routed_by_severity() -> None:
    config = AlertConfig(
        routes=(ChatRoute("all"), ChatRoute("oncall", Severity.critical), ChatRoute("all"))
    )
    assert config.chats_for(Severity.warning) == ["all"]
    assert config.chats_for(Severity.critical) == ["all", "oncall"]


def test_severity_routes_are_read_from_one_variable() -> None:
    settings = Settings(telegram_routes="critical=-1,-2; warning=-3", telegram_chat_ids="-9, -8")
    assert settings.telegram.routes == {"critical": ["-1", "-2"], "warning": ["-3"]}
    assert settings.telegram.chats == ["-9", "-8"]
    with pytest.raises(ValidationError, match="severity=chat"):
        Settings(telegram_routes="loud=-1")
