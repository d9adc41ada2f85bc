"""The alert rules: each turns what the fleet shows now into signals, without side effects.

Periodic rules (evaluated every few seconds over stored figures) give the full set of
conditions they see; an open alert of theirs missing from it has cleared. Event rules
(sessions, the policy) say what opened and what cleared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from smsfleet.alerts.models import AlertRule, Severity, Signal, SubjectKind
from smsfleet.core.clock import human_time
from smsfleet.pairs.models import Pair
from smsfleet.policy.models import PolicyAction, PolicyDecision
from smsfleet.policy.stats import Z_95, Window, WindowStats, beyond, looks_at, percent
from smsfleet.sessions.models import EventKind, SessionEvent, SessionState, exit_said

__all__ = [
    "FAILURES_IN_A_ROW",
    "PERIODIC_RULES",
    "SESSION_RULES",
    "EventOutcome",
    "RuleThresholds",
    "country_signal",
    "country_signals",
    "drop_signals",
    "gateway_signals",
    "policy_outcome",
    "session_outcome",
    "success_rate_signals",
]

PERIODIC_RULES = frozenset(
    {
        AlertRule.success_rate_low,
        AlertRule.success_rate_drop,
        AlertRule.gateway_errors,
        AlertRule.country_under_target,
    }
)
SESSION_RULES = (AlertRule.session_crashed, AlertRule.session_hung, AlertRule.session_fatal)


@dataclass(frozen=True)
class RuleThresholds:
    success_warning: float = 0.8
    success_critical: float = 0.5
    min_samples: int = 20
    z: float = Z_95
    drop_points: float = 0.3
    baseline_min_samples: int = 100
    gateway_error_ratio: float = 0.5
    gateway_min_samples: int = 10
    country_target_ratio: float = 0.5


@dataclass(frozen=True)
class EventOutcome:
    """What one event opens, which alerts (by fingerprint) it clears, and why."""

    opened: tuple[Signal, ...] = ()
    cleared: tuple[str, ...] = ()
    why: str = ""

    def clearing(self) -> dict[str, str]:
        return dict.fromkeys(self.cleared, self.why)


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def success_rate_signals(
    stats: Mapping[str, WindowStats],
    newest: Mapping[str, WindowStats],
    pairs: Mapping[str, Pair],
    thresholds: RuleThresholds,
    window: Window,
) -> list[Signal]:
    """Pairs confidently under the warning or critical line (the Wilson upper bound below it).

    A pair whose figures are too thin to tell (22 of 23 delivered against an 80 %
    line) does not alert: only a route that is bad, not one that is unlucky. The
    figures are read as the policy reads them (`stats.looks_at`: the window, and its
    newest attempts in `newest`), so a route that turns bad after a good spell alerts
    on its newest attempts, as it is paused on them; the alert names the look it was
    raised on.
    """
    z = thresholds.z
    signals = []
    for key, window_stats in stats.items():
        pair = pairs.get(key)
        if pair is None or window_stats.samples < thresholds.min_samples:
            continue
        looks = looks_at(
            window_stats, newest.get(key), window=window, fewest=thresholds.min_samples, z=z
        )
        severity, line = Severity.critical, thresholds.success_critical
        found = beyond(looks, line, name=severity.value, below=True, z=z)
        if found is None:
            severity, line = Severity.warning, thresholds.success_warning
            found = beyond(looks, line, name=severity.value, below=True, z=z)
        if found is None:
            continue
        said, look = found
        signals.append(
            Signal(
                rule=AlertRule.success_rate_low,
                severity=severity,
                subject_kind=SubjectKind.pair,
                subject=key,
                country=pair.country,
                summary=f"{key} ({pair.operator}): {said}",
                details={
                    "delivered": look.stats.delivered,
                    "samples": look.stats.samples,
                    "window": look.window.describe(),
                    "line": line,
                    "lower_bound": round(look.stats.lower_bound(look.z), 4),
                    "upper_bound": round(look.stats.upper_bound(look.z), 4),
                    "high_priority": pair.is_high_priority,
                },
            )
        )
    return signals


def drop_signals(
    current: Mapping[str, WindowStats],
    newest: Mapping[str, WindowStats],
    baseline: Mapping[str, WindowStats],
    pairs: Mapping[str, Pair],
    thresholds: RuleThresholds,
    window: Window,
) -> list[Signal]:
    """Pairs confidently under their own 7-day baseline less the allowed drop, read as
    `success_rate_signals` reads them."""
    z = thresholds.z
    signals = []
    for key, now_stats in current.items():
        pair, before = pairs.get(key), baseline.get(key)
        if pair is None or before is None or now_stats.samples < thresholds.min_samples:
            continue
        if before.samples < thresholds.baseline_min_samples:
            continue
        usual = before.success_ratio or 0.0
        line = usual - thresholds.drop_points
        looks = looks_at(
            now_stats, newest.get(key), window=window, fewest=thresholds.min_samples, z=z
        )
        found = beyond(looks, line, name="drop", below=True, z=z)
        if found is None:
            continue
        said, look = found
        signals.append(
            Signal(
                rule=AlertRule.success_rate_drop,
                severity=Severity.warning,
                subject_kind=SubjectKind.pair,
                subject=key,
                country=pair.country,
                summary=(
                    f"{key}: success dropped from a 7-day {percent(usual)} "
                    f"({before.samples} attempts): {said} "
                    f"({thresholds.drop_points * 100:g} points under the baseline)"
                ),
                details={
                    "ratio": round(look.stats.success_ratio or 0.0, 4),
                    "window": look.window.describe(),
                    "baseline": round(usual, 4),
                    "line": round(line, 4),
                    "upper_bound": round(look.stats.upper_bound(look.z), 4),
                },
            )
        )
    return signals


def gateway_signals(
    outcomes: Mapping[str, tuple[int, int]], thresholds: RuleThresholds, minutes: float
) -> list[Signal]:
    """Programs (each wired to one provider) whose sends fail at the gateway.

    `outcomes` maps a program to (completed attempts, send failures and errors).
    """
    signals = []
    for program, (completed, failures) in outcomes.items():
        if completed < thresholds.gateway_min_samples:
            continue
        ratio = failures / completed
        if ratio < thresholds.gateway_error_ratio:
            continue
        signals.append(
            Signal(
                rule=AlertRule.gateway_errors,
                severity=Severity.warning,
                subject_kind=SubjectKind.gateway,
                subject=program,
                summary=(
                    f"{program}: {failures} of {completed} sends failed at the gateway "
                    f"({_percent(ratio)}) in the last {minutes:g} min"
                ),
                details={"failures": failures, "completed": completed},
            )
        )
    return signals


def country_signals(
    sent: Mapping[str, int],
    caps: Mapping[str, int],
    active: Iterable[str],
    thresholds: RuleThresholds,
    window: timedelta,
    reasons: Mapping[str, str] | None = None,
) -> list[Signal]:
    """Countries with sessions running the whole window that sent well under their cap.

    `reasons` says, per country, what holds it back (the dispatcher's goals), in words.
    """
    minutes = window.total_seconds() / 60
    signals = []
    for country in sorted(set(active)):
        target = caps.get(country, 0) * minutes
        count = sent.get(country, 0)
        if target <= 0 or count >= thresholds.country_target_ratio * target:
            continue
        signals.append(country_signal(country, count, caps[country], window, reasons or {}))
    return signals


def country_signal(
    country: str, sent: int, cap: int, window: timedelta, reasons: Mapping[str, str]
) -> Signal:
    """A country's sends against its target in `window`, and what holds it back now."""
    minutes = window.total_seconds() / 60
    target = cap * minutes
    why = reasons.get(country)
    return Signal(
        rule=AlertRule.country_under_target,
        severity=Severity.warning,
        subject_kind=SubjectKind.country,
        subject=country,
        country=country,
        summary=(
            f"{country}: {sent} sends in the last {minutes:g} min against a target "
            f"of {target:g} ({cap}/min)" + (f": {why}" if why else "")
        ),
        details={"sent": sent, "target": target, "reason": why},
    )


# A crash event's detail (the supervisor's count of quick failures, this one included),
# kept in its alert's details: a crash after those told of is told again.
FAILURES_IN_A_ROW = "failures_in_a_row"


def _session_fingerprint(rule: AlertRule, session: str) -> str:
    return f"{rule}:{SubjectKind.session}:{session}"


def _heartbeat(value: object, now: datetime) -> str:
    """The last heartbeat (an ISO 8601 field of the event) as a person reads it."""
    if not isinstance(value, str):
        return "its start"
    try:
        return human_time(datetime.fromisoformat(value), now=now)
    except ValueError:
        return value


START_FAILED_SAID = "failed to start (why: its events, for operators)"


def session_outcome(event: SessionEvent, *, pair: Pair | None) -> EventOutcome:
    """Crashed, hung and fatal sessions open alerts; a stop on purpose clears them.

    A fatal session's alert replaces its crash and hang alerts (those promise a restart
    that will not come), which resolve as it opens."""
    name = event.session
    country = pair.country if pair is not None else None
    # Exit code 0 is the program's own choice (e.g. told to stop): no crash.
    crashed = event.kind == EventKind.start_failed or (
        event.kind == EventKind.exited
        and event.from_state != SessionState.stopping
        and event.details.get("exit_code") != 0
    )
    if crashed and event.details.get("gives_up"):
        # Its supervisor gives up at this one: the fatal event that follows opens the
        # alert, saying how it ended; a crash alert would promise a restart that is not
        # coming.
        return EventOutcome()
    if crashed:
        code = event.details.get("exit_code")
        how = exit_said(code, event.details.get("exit_recorded"))
        if event.kind == EventKind.start_failed:
            # Not its raw reason (this host's paths and commands, an SSH host's login or
            # answer): alerts are everyone's to read, that reason only operators' (`sessions.
            # service.hides_reason`), in the session's events.
            how = START_FAILED_SAID
        log_tail = [str(line) for line in event.details.get("log_tail", [])][-5:]
        in_a_row = event.details.get(FAILURES_IN_A_ROW)
        if isinstance(in_a_row, int) and in_a_row > 1:
            how = f"{how} ({in_a_row} failures in a row)"
        return EventOutcome(
            opened=(
                Signal(
                    rule=AlertRule.session_crashed,
                    severity=Severity.critical if _high_priority(pair) else Severity.warning,
                    subject_kind=SubjectKind.session,
                    subject=name,
                    country=country,
                    summary=f"{name} {how}; restarting with backoff",
                    details={
                        "exit_code": code,
                        "log_tail": log_tail,
                        FAILURES_IN_A_ROW: in_a_row if isinstance(in_a_row, int) else 1,
                    },
                ),
            )
        )
    if event.kind == EventKind.hung:
        return EventOutcome(
            opened=(
                Signal(
                    rule=AlertRule.session_hung,
                    severity=Severity.warning,
                    subject_kind=SubjectKind.session,
                    subject=name,
                    country=country,
                    summary=f"{name} sent no heartbeat since "
                    f"{_heartbeat(event.details.get('last_heartbeat'), event.at)}; "
                    "restarting it",
                ),
            )
        )
    if event.kind == EventKind.fatal:
        # The supervisor gave up: the crash and hang alerts that said it restarts the
        # session are no longer true, and give way to this one.
        return EventOutcome(
            opened=(
                Signal(
                    rule=AlertRule.session_fatal,
                    severity=Severity.critical,
                    subject_kind=SubjectKind.session,
                    subject=name,
                    country=country,
                    summary=f"{name} gave up: {event.reason}; start it again once fixed",
                ),
            ),
            cleared=(
                _session_fingerprint(AlertRule.session_crashed, name),
                _session_fingerprint(AlertRule.session_hung, name),
            ),
            why="the supervisor gave up restarting it (session fatal)",
        )
    if event.kind == EventKind.stopped:  # stopped on purpose: nothing left to recover
        return EventOutcome(
            cleared=tuple(_session_fingerprint(r, name) for r in SESSION_RULES),
            why=f"stopped on purpose ({event.reason})" if event.reason else "stopped on purpose",
        )
    # Running again clears only once it has stayed up a while (`AlertService.check_recoveries`),
    # so a crash loop is one alert, not a crash and a recovery every few seconds.
    return EventOutcome()


def _high_priority(pair: Pair | None) -> bool:
    return pair is not None and pair.is_high_priority


def _pair_fingerprint(rule: AlertRule, pair: str) -> str:
    return f"{rule}:{SubjectKind.pair}:{pair}"


def policy_outcome(decision: PolicyDecision) -> EventOutcome:
    """A pause opens an alert that the resume clears; so does a held high-priority pair."""
    action = decision.action
    figures = {
        "lower_bound": None if decision.lower_bound is None else round(decision.lower_bound, 4),
        "samples": decision.samples,
        "delivered": decision.delivered,
        # Which decision: a later one on the same open alert is news (paused again).
        "decision": decision.id,
    }
    if action in (PolicyAction.paused, PolicyAction.held):
        held = action == PolicyAction.held
        return EventOutcome(
            opened=(
                Signal(
                    rule=AlertRule.priority_pair_failing if held else AlertRule.pair_paused,
                    severity=Severity.critical if held else Severity.warning,
                    subject_kind=SubjectKind.pair,
                    subject=decision.pair,
                    country=decision.country,
                    summary=decision.reason,
                    details=figures,
                ),
            )
        )
    if action == PolicyAction.resumed:
        # Its probes showed it over the resume line: the success alerts held through the
        # pause end with it rather than read "probed" until they time out.
        return EventOutcome(
            cleared=tuple(
                _pair_fingerprint(rule, decision.pair)
                for rule in (
                    AlertRule.pair_paused,
                    AlertRule.success_rate_low,
                    AlertRule.success_rate_drop,
                )
            ),
            why=decision.reason,  # "<pair> resumed: while probing, <its figures>"
        )
    if action == PolicyAction.recovered:
        return EventOutcome(
            cleared=(_pair_fingerprint(AlertRule.priority_pair_failing, decision.pair),),
            why=decision.reason,
        )
    return EventOutcome()  # probing: the pause alert stays open until it resumes
