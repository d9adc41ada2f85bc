"""The alert engine: signals in; deduplicated alerts, repeats and resolutions out.

One open alert per fingerprint (rule and subject). A signal for an open alert
refreshes it, changes its severity to the signal's (notified again; a fall also to the
chats that heard of it at its former severity), tells a pause decided again on its
route (a `pair_paused` alert: the probes failed, a longer cool-down) or, past the repeat
interval and unacknowledged, repeats it; a cleared condition resolves it with a message. A
periodic rule's alert resolves only once its condition has not been seen for the
hold time, and eases only once its severity has not been, so a route hovering near
a line is one alert, not a flap every pass. The
alerts that change together in one pass are grouped by rule, severity and country
into one message per chat. Alerts and their messages are written in one
transaction, so nothing is notified that is not recorded, or the other way round.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from smsfleet.alerts import rules
from smsfleet.alerts.models import (
    Alert,
    AlertCounts,
    AlertQuery,
    AlertRule,
    AlertState,
    MessageQueued,
    Notification,
    NotificationKind,
    NotificationStatus,
    Severity,
    Signal,
    SubjectKind,
)
from smsfleet.alerts.rules import FAILURES_IN_A_ROW, RuleThresholds
from smsfleet.alerts.store import AlertStore, NewNotification
from smsfleet.alerts.text import alert_text, message_text, resolved_summary
from smsfleet.core.clock import Clock, human_time
from smsfleet.core.errors import Conflict, NotFound, Throttled
from smsfleet.core.limits import check_window
from smsfleet.core.settings import Settings
from smsfleet.core.single_flight import SingleFlight
from smsfleet.metrics.models import GroupBy
from smsfleet.metrics.service import MetricsService
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.models import POLICY_ACTOR, PolicyDecision, named_actor
from smsfleet.policy.service import PolicyService
from smsfleet.policy.stats import Window, WindowStats, figures, looks_at
from smsfleet.sessions.models import SessionEvent, SessionState
from smsfleet.stores import ConfigStore

__all__ = ["AlertConfig", "AlertService", "ChatRoute"]

log = logging.getLogger("smsfleet.alerts")
# Events' alerts kept while the store is down; past this many, the oldest give way.
MAX_DEFERRED = 10_000
# An evaluation asked for over HTTP this soon after the last one ended answers that one's.
ON_REQUEST_FRESH = timedelta(seconds=1)

SUMMARY_LIMIT = 512
# People's own messages waiting for Telegram, at most: each chat takes about 20 a minute,
# and a script's burst must not keep the outbox busy for hours (the alerts go first).
MAX_PENDING_MESSAGES = 20
# Of those, one person's at most: one person's burst (with Telegram down, say) never
# refuses another's message.
MAX_PENDING_MESSAGES_PER_ACTOR = 5
MESSAGES_RETRY_AFTER_SECONDS = 30
BASELINE_SPAN = timedelta(days=7)
SUCCESS_RULES = frozenset({AlertRule.success_rate_low, AlertRule.success_rate_drop})
BASELINE_REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class ChatRoute:
    """A chat that receives every alert of at least `min_severity`."""

    chat_id: str
    min_severity: Severity = Severity.info


@dataclass(frozen=True)
class AlertConfig:
    routes: tuple[ChatRoute, ...] = ()
    repeat_interval: timedelta = timedelta(hours=4)
    evaluation_interval: timedelta = timedelta(seconds=15)
    thresholds: RuleThresholds = field(default_factory=RuleThresholds)
    success_window: Window = field(default_factory=lambda: Window(timedelta(minutes=30), 50))
    gateway_window: timedelta = timedelta(minutes=15)
    country_window: timedelta = timedelta(minutes=10)
    # A crashed, hung or fatal session's alert resolves once it has run this long again.
    recovery: timedelta = timedelta(seconds=10)
    recovery_check_interval: timedelta = timedelta(seconds=1)
    # A periodic rule's alert resolves once its condition has not been seen this long.
    hold: timedelta = timedelta(minutes=5)
    # Alerts one person may raise (`POST /alert`) within `raised_window`, resolved or not.
    max_raised_per_actor: int = 30
    raised_window: timedelta = timedelta(hours=1)
    # Messages one person may send to the chats (`POST /api/v1/alerts/test`) within
    # `raised_window`, sent or not.
    max_messages_per_actor: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertConfig:
        routes = [ChatRoute(chat) for chat in settings.telegram.chats]
        routes += [
            ChatRoute(chat, Severity(severity))
            for severity, chats in settings.telegram.routes.items()
            for chat in chats
        ]
        return cls(
            routes=tuple(routes) if settings.telegram.bot_token is not None else (),
            repeat_interval=timedelta(minutes=settings.alert.repeat_minutes),
            evaluation_interval=timedelta(seconds=settings.alert.evaluation_interval_seconds),
            recovery=timedelta(seconds=settings.alert.recovery_seconds),
            hold=timedelta(minutes=settings.alert.hold_minutes),
            max_raised_per_actor=settings.alert.max_raised_per_actor,
            max_messages_per_actor=settings.alert.max_messages_per_actor,
            raised_window=timedelta(minutes=settings.alert.raised_window_minutes),
            thresholds=RuleThresholds(
                success_warning=settings.alert.success_warning,
                success_critical=settings.alert.success_critical,
                min_samples=settings.policy.min_samples,
                z=settings.policy.z,
            ),
            success_window=Window(
                timedelta(minutes=settings.policy.window_minutes),
                settings.policy.window_max_attempts,
            ),
        )

    def chats_for(self, severity: Severity) -> list[str]:
        chats = [r.chat_id for r in self.routes if severity.rank >= r.min_severity.rank]
        return list(dict.fromkeys(chats))  # once each, in configured order


@dataclass(frozen=True)
class _Notice:
    """An alert to notify, how; `eased_from`: the severity it fell from, whose chats
    heard of it at that severity and hear of the fall too."""

    kind: NotificationKind
    alert: Alert
    eased_from: Severity | None = None
    # What is new about an alert told again at the same severity ("paused again").
    news: str | None = None


@dataclass
class _Pass:
    """What one pass changed: alerts to write, and which of them to notify how."""

    changed: dict[str, Alert] = field(default_factory=dict)
    notify: list[_Notice] = field(default_factory=list)


class _PairPages:
    """Per pair and chat, the alerts that paged it (their id and severity then)."""

    def __init__(self) -> None:
        self._pages: dict[tuple[str, str], list[tuple[str, Severity]]] = {}

    def add(self, pair: str, chat: str, alert_id: str, severity: Severity) -> None:
        self._pages.setdefault((pair, chat), []).append((alert_id, severity))

    def record(self, alerts: Iterable[Alert], chat: str) -> None:
        for alert in alerts:
            if alert.subject_kind == SubjectKind.pair:
                self.add(alert.subject, chat, alert.id, alert.severity)

    def __call__(self, alert: Alert, chat: str) -> bool:
        """Whether another alert of `alert`'s pair paged `chat` at its severity or higher."""
        if alert.subject_kind != SubjectKind.pair:
            return False
        return any(
            other != alert.id and severity.rank >= alert.severity.rank
            for other, severity in self._pages.get((alert.subject, chat), ())
        )


class AlertService:
    def __init__(
        self,
        *,
        store: AlertStore,
        metrics: MetricsService,
        policy: PolicyService,
        config_store: ConfigStore,
        clock: Clock,
        config: AlertConfig,
        on_change: Callable[[Alert], None] | None = None,
        on_queued: Callable[[], None] | None = None,
        country_reasons: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self._metrics = metrics
        self._policy = policy
        self._config_store = config_store
        self._clock = clock
        self._on_change = on_change
        self._on_queued = on_queued
        # Why each country under its goal is (the dispatcher's reading), for the alert.
        self._country_reasons = country_reasons
        self._lock = threading.Lock()
        self._baseline: dict[str, WindowStats] = {}
        self._baseline_at: datetime | None = None
        # What events opened or cleared while the alert store could not take it (the
        # metrics store down): applied, in order, as soon as it can.
        self._deferred: deque[tuple[tuple[Signal, ...], dict[str, str]]] = deque(
            maxlen=MAX_DEFERRED
        )
        self._on_request: SingleFlight[list[Alert]] = SingleFlight(
            clock=clock, fresh_for=ON_REQUEST_FRESH
        )

    @property
    def clock(self) -> Clock:
        return self._clock

    # --- reading -----------------------------------------------------------------------

    def find(self, query: AlertQuery) -> list[Alert]:
        return self.store.query(query)

    def get(self, alert_id: str) -> Alert:
        alert = self.store.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id!r}")
        return alert

    def counts(self) -> AlertCounts:
        return self.store.counts()

    def notifications(self, alert_id: str) -> list[Notification]:
        self.get(alert_id)
        return self.store.notifications(alert_id)

    def outbox_status(self) -> NotificationStatus:
        pending, failed, oldest = self.store.outbox_counts()
        not_taken = self.store.oldest_not_taken() if pending else None
        return NotificationStatus(
            configured=bool(self.config.routes),
            pending=pending,
            failed=failed,
            oldest_pending_at=oldest,
            not_taken=not_taken[0] if not_taken else None,
            next_try_at=not_taken[1] if not_taken else None,
            last_sent_at=self.store.last_sent_at(),
        )

    # --- people ------------------------------------------------------------------------

    def acknowledge(self, alert_id: str, *, actor: str) -> Alert:
        """Someone is on it: no more repeats for this alert."""
        with self._lock:
            alert = self.get(alert_id)
            if alert.state != AlertState.firing:
                raise Conflict(f"alert {alert_id} is already resolved")
            if alert.acknowledged_at is None:
                alert = alert.model_copy(
                    update={"acknowledged_at": self._clock.now(), "acknowledged_by": actor}
                )
                self.store.save([alert], [], now=self._clock.now())
        self._changed([alert])
        return alert

    def send_message(self, text: str, *, actor: str) -> MessageQueued:
        """A message from a person to every configured chat, sent now (through the outbox)."""
        chats = self.config.chats_for(Severity.critical)
        if not chats:
            raise Conflict(
                "Telegram is not configured: set SMSFLEET_TELEGRAM_BOT_TOKEN and "
                "SMSFLEET_TELEGRAM_CHAT_IDS"
            )
        body = message_text(text, actor=actor)
        # Counted and queued one after the other, so messages sent at once pass no limit.
        with self._lock:
            now = self._clock.now()
            window = self.config.raised_window
            check_window(
                self.store.messages_by(actor, since=now - window),
                most=self.config.max_messages_per_actor,
                window=window,
                now=now,
                said="you sent {count} messages to the chats in the last {minutes} min, the"
                " most one user may",
            )
            mine = self.store.pending_messages(actor=actor)
            if mine >= MAX_PENDING_MESSAGES_PER_ACTOR:
                raise Throttled(
                    f"{mine} of your messages wait to go out to a Telegram chat, the most one"
                    " user may have waiting; try again once they are sent",
                    retry_after=MESSAGES_RETRY_AFTER_SECONDS,
                )
            waiting = self.store.pending_messages()
            if waiting >= MAX_PENDING_MESSAGES:
                raise Throttled(
                    f"{waiting} messages from people wait to go out to a Telegram chat, the"
                    " most there may be; try again once they are sent",
                    retry_after=MESSAGES_RETRY_AFTER_SECONDS,
                )
            ids = self.store.enqueue(
                [
                    NewNotification(chat, NotificationKind.message, None, body, actor=actor)
                    for chat in chats
                ],
                now=now,
            )
        self._queued()
        not_taken = self.store.oldest_not_taken()
        if not_taken is None:
            when = "it goes out at once"
        else:
            # Sent in order per chat: it waits behind those Telegram has not taken.
            error, retry = not_taken
            next_try = human_time(retry, now=self._clock.now())
            when = (
                f"it goes out once Telegram takes the messages before it ({error}; next try"
                f" at {next_try})"
            )
        return MessageQueued(message=f"queued for {len(chats)} chat(s); {when}", notifications=ids)

    # --- events ------------------------------------------------------------------------

    def on_session_event(self, event: SessionEvent) -> None:
        """Called by the supervisor for every transition; never raises into it."""
        try:
            spec = self._config_store.session_specs.get(event.session)
            pair = self._config_store.pairs.get(spec.pair) if spec is not None else None
            outcome = rules.session_outcome(event, pair=pair)
        except Exception:
            log.exception("alerting on %s %s failed", event.session, event.kind)
            return
        self._apply_or_defer(outcome, f"{event.session} {event.kind}")

    def on_policy_decision(self, decision: PolicyDecision) -> None:
        self._apply_or_defer(rules.policy_outcome(decision), f"the decision on {decision.pair}")

    def _apply_or_defer(self, outcome: rules.EventOutcome, what: str) -> None:
        if not (outcome.opened or outcome.cleared):
            return
        self._deferred.append((tuple(outcome.opened), outcome.clearing()))
        try:
            self.apply_deferred()
        except Exception:
            log.warning(
                "alerting on %s waits for the alert store (%d waiting)",
                what,
                len(self._deferred),
                exc_info=True,
            )

    def apply_deferred(self) -> list[Alert]:
        """Apply what events opened or cleared, oldest first; what fails stays queued."""
        changed: list[Alert] = []
        while self._deferred:
            opened, cleared = self._deferred[0]
            changed += self.apply(opened=opened, cleared=cleared)
            self._deferred.popleft()
        return changed

    def check_recoveries(self) -> list[Alert]:
        """Resolve the alerts of sessions that have been running again for `recovery`."""
        open_alerts = [a for a in self.store.firing() if a.rule in rules.SESSION_RULES]
        if not open_alerts:
            return []
        now = self._clock.now()
        cleared: dict[str, str] = {}
        for alert in open_alerts:
            status = self._config_store.session_status.get(alert.subject)
            if status is None:
                cleared[alert.fingerprint] = "the session is gone with its pair"
            elif (
                status.state == SessionState.running
                and status.started_at is not None
                and now - status.started_at >= self.config.recovery
            ):
                ran = human_time(status.started_at, now=now)
                cleared[alert.fingerprint] = f"running again, started at {ran}"
        return self.apply(cleared=cleared) if cleared else []

    # --- periodic rules --------------------------------------------------------------

    def evaluate_on_request(self) -> list[Alert]:
        """`evaluate`, asked for by a person or a key: one run at a time per process,
        shared by the requests that come while it runs and within `ON_REQUEST_FRESH` of
        its end, so a loop of requests costs one run a second at most."""
        return self._on_request.run(self.evaluate)

    def evaluate(self) -> list[Alert]:
        """Run the periodic rules over the stored figures; return the alerts that changed.

        Alerts that events raised while the store was down are applied first."""
        deferred = self.apply_deferred()
        now = self._clock.now()
        config = self.config
        thresholds = config.thresholds
        pairs = {pair.key: pair for pair in self._config_store.pairs.list()}
        window = config.success_window
        # A route paused or probed sends (next to) nothing, and its window starts at its
        # state change: its figures are read as they were then, which the pause was decided
        # on, rather than held at the rules' last look before it.
        stopped = {
            key: pair
            for key, pair in pairs.items()
            if pair.state in (PairState.paused, PairState.probing) and pair.state_changed_at
        }
        running = [pair for key, pair in pairs.items() if key not in stopped]
        current = self._policy.pair_window_stats(running, window=window, now=now)
        newest = self._policy.pair_window_stats(
            running, window=window.newest(thresholds.min_samples), now=now
        )
        for key in stopped:
            current.pop(key, None)
            newest.pop(key, None)
        signals = rules.success_rate_signals(current, newest, pairs, thresholds, window)
        firing = self.store.firing()
        # A probed route's success alert, raised on its figures at the pause, is held as it
        # was (below): read again at the probing start, it would say it is held since then.
        # So is one held since an earlier change when the route is paused again after its
        # probes: read at that pause, the window would mix the probes with the sends before
        # the first pause, and claim what the probes' own decision does not.
        alerted = {alert.subject: alert for alert in firing if alert.rule in SUCCESS_RULES}
        for halted in stopped.values():
            alert = alerted.get(halted.key)
            if alert is not None and (
                halted.state is PairState.probing or _held_before(alert, halted)
            ):
                continue
            signals += [
                _held(signal, halted, now)
                for signal in self._success_at_change(halted, thresholds, window)
            ]
        signals += rules.drop_signals(
            current, newest, self._baseline_stats(now), pairs, thresholds, window
        )
        signals += rules.gateway_signals(
            self._gateway_outcomes(now), thresholds, config.gateway_window.total_seconds() / 60
        )
        countries, refreshed = self._country_signals(now, pairs, firing)
        signals += countries
        # A route the policy paused or probes sends (next to) nothing, and its window starts
        # at the pause: no figures is no news, so its success alert is held as it was rather
        # than read as recovered. It clears once the route runs again without one.
        seen = {signal.fingerprint for signal in signals}
        signals += [
            _held(_as_signal(alert), pair, now)
            for alert in firing
            if alert.rule in SUCCESS_RULES
            and alert.fingerprint not in seen
            and (pair := pairs.get(alert.subject)) is not None
            and pair.state in (PairState.paused, PairState.probing)
        ]
        # A route running again (a person resumed it) with too few attempts since for its
        # figures to say anything: no news is no news, so its alert is held as it was
        # rather than eased and resolved on "0 of 0 delivered".
        seen = {signal.fingerprint for signal in signals}
        fewest = thresholds.min_samples
        samples = {key: stats.samples for key, stats in current.items()}
        signals += [
            _unsettled(_as_signal(alert), pair, samples.get(pair.key, 0), fewest, now)
            for alert in firing
            if alert.rule in SUCCESS_RULES
            and alert.fingerprint not in seen
            and (pair := pairs.get(alert.subject)) is not None
            and pair.key not in stopped
            and samples.get(pair.key, 0) < fewest
        ]
        # A running route over its lines again: its alert waits the hold time to resolve,
        # and says so meanwhile, with the figures of now, rather than keep the ones it was
        # raised on as if they still held.
        seen = {signal.fingerprint for signal in signals}
        refreshed += [
            _easing(
                alert,
                _figures_now(alert.subject, current, newest, window, thresholds),
                now,
                config.hold,
            )
            for alert in firing
            if alert.rule in SUCCESS_RULES
            and alert.fingerprint not in seen
            and alert.subject in pairs
            and alert.subject not in stopped
        ]
        # A high-priority pair held running as it fails stays held until the policy sees it
        # over its resume line (`recovered`): its alert is seen at each pass, with the
        # figures of now, not left at the ones of the decision that held it.
        seen = {signal.fingerprint for signal in signals}
        signals += [
            _still_held(alert, _figures_now(alert.subject, current, newest, window, thresholds))
            for alert in firing
            if alert.rule is AlertRule.priority_pair_failing
            and alert.fingerprint not in seen
            and (pair := pairs.get(alert.subject)) is not None
            and pair.is_high_priority
            and pair.state.runs_sessions
        ]
        # A pause alert also clears when a person resumes the pair, and a held pair's when
        # it is held running no more (unmarked, or paused by an admin); a deleted pair's
        # alerts clear with it (nothing else would: it is gone with its figures).
        cleared: dict[str, str] = {}
        for alert in firing:
            if alert.subject_kind != SubjectKind.pair:
                continue
            pair = pairs.get(alert.subject)
            who = named_actor(pair.state_actor) if pair and pair.state_actor else "a person"
            if pair is None:
                cleared[alert.fingerprint] = f"pair {alert.subject} was deleted"
            elif (
                alert.rule == AlertRule.pair_paused
                and pair.state.runs_sessions
                and pair.state_actor != POLICY_ACTOR
            ):
                cleared[alert.fingerprint] = f"{pair.state.value} by {who}"
            elif alert.rule == AlertRule.priority_pair_failing and not pair.is_high_priority:
                cleared[alert.fingerprint] = (
                    f"{pair.key} is no longer high priority: the policy decides on it as on"
                    " any other"
                )
            elif alert.rule == AlertRule.priority_pair_failing and not pair.state.runs_sessions:
                cleared[alert.fingerprint] = f"{pair.state.value} by {who}: held running no more"
        # An alert an event raised while no chat took its severity (none configured yet):
        # told once one does, as a periodic rule's is at its next pass; no event may come
        # again to say it (a pause stands until the route is probed).
        seen = {signal.fingerprint for signal in signals}
        signals += [
            _as_signal(alert, held=False)
            for alert in firing
            if alert.rule not in rules.PERIODIC_RULES
            and alert.fingerprint not in seen
            and alert.fingerprint not in cleared  # resolving now: not told as firing first
            and alert.acknowledged_at is None
            and not alert.notifications
            and config.chats_for(alert.severity)
        ]
        return deferred + self.apply(
            opened=signals, cleared=cleared, periodic=rules.PERIODIC_RULES, refreshed=refreshed
        )

    def _success_at_change(
        self, pair: Pair, thresholds: RuleThresholds, window: Window
    ) -> list[Signal]:
        """The success signals of `pair` on its figures at its last state change (a pause,
        the probing after it), held since then."""
        at = pair.state_changed_at
        assert at is not None
        # The window up to the change, not from it (as a window ending later would be).
        then = self._policy.pair_window_stats([pair], window=window, now=at, from_changes=False)
        newest = self._policy.pair_window_stats(
            [pair], window=window.newest(thresholds.min_samples), now=at, from_changes=False
        )
        signals = rules.success_rate_signals(then, newest, {pair.key: pair}, thresholds, window)
        return [
            signal.model_copy(update={"details": {**signal.details, "held_since": at.isoformat()}})
            for signal in signals
        ]

    def _baseline_stats(self, now: datetime) -> dict[str, WindowStats]:
        # Seven days of hourly rollups change slowly: read them once an hour.
        if self._baseline_at is None or now - self._baseline_at >= BASELINE_REFRESH:
            end = now - _since_hour(now)
            tallies = self._metrics.tallies_by(
                GroupBy.pair, start=end - BASELINE_SPAN, end=end, fine_latencies=False
            )
            self._baseline = {
                pair: WindowStats(samples=tally.completed, delivered=tally.delivered)
                for pair, tally in tallies.items()
            }
            self._baseline_at = now
        return self._baseline

    def _gateway_outcomes(self, now: datetime) -> dict[str, tuple[int, int]]:
        tallies = self._metrics.tallies_by(
            GroupBy.program, start=now - self.config.gateway_window, end=now, fine_latencies=False
        )
        return {
            program: (tally.completed, tally.send_failed + tally.error)
            for program, tally in tallies.items()
        }

    def _country_signals(
        self, now: datetime, pairs: dict[str, Pair], firing: Sequence[Alert]
    ) -> tuple[list[Signal], list[Signal]]:
        """The countries under target; and the open alerts of the others as they stand now
        (their sends and what holds them back), refreshed while they wait to resolve."""
        window = self.config.country_window
        # Only countries whose sessions ran the whole window are expected to send.
        active: set[str] = set()
        statuses = {status.name: status for status in self._config_store.session_status.list()}
        for spec in self._config_store.session_specs.list():
            status, pair = statuses.get(spec.name), pairs.get(spec.pair)
            if status is None or pair is None or not pair.state.runs_sessions:
                continue
            if pair.state == PairState.probing:
                continue  # a probed pair sends on purpose at a trickle
            changed = pair.state_changed_at
            if changed is not None and now - changed < window:
                continue  # resumed within the window: probed at a trickle for part of it
            started = status.started_at
            if status.state == SessionState.running and started and now - started >= window:
                active.add(pair.country)
        countries = self._config_store.countries.list()
        # Nor those whose cap changed within it: their count is partly at the previous cap.
        active -= {
            country.code
            for country in countries
            if country.cap_changed_at is not None and now - country.cap_changed_at < window
        }
        still_open = {a.subject for a in firing if a.rule is AlertRule.country_under_target}
        if not (active or still_open):
            return [], []
        # Sends granted, as the dispatcher's goals and the Prometheus alert count them.
        sent = self._metrics.grants_by_country(since=now - window)
        caps = {
            country.code: country.cap
            for country in countries
            if country.code in active | still_open
        }
        reasons = self._country_reasons() if self._country_reasons is not None else {}
        signals = rules.country_signals(
            sent, caps, active, self.config.thresholds, window, reasons=reasons
        )
        under = {signal.subject for signal in signals}
        refreshed = [
            rules.country_signal(country, sent.get(country, 0), caps[country], window, reasons)
            for country in sorted(still_open - under)
            if country in caps
        ]
        return signals, refreshed

    # --- the engine ----------------------------------------------------------------------

    def apply(
        self,
        *,
        opened: Iterable[Signal] = (),
        cleared: Mapping[str, str] | None = None,
        periodic: frozenset[AlertRule] = frozenset(),
        refreshed: Iterable[Signal] = (),
    ) -> list[Alert]:
        """Open or refresh alerts for `opened`, resolve `cleared` ones (by fingerprint: why).

        With `periodic`, an open alert of those rules that no signal names has cleared,
        and resolves once it has not been seen for the hold time. `refreshed`: the summary
        and details of open alerts whose condition is not seen, as they stand now; they
        change nothing else (not seen, no message).
        """
        with self._lock:
            now = self._clock.now()
            firing = {alert.fingerprint: alert for alert in self.store.firing()}
            work = _Pass()
            seen: set[str] = set()
            for signal in opened:
                seen.add(signal.fingerprint)
                self._open(work, firing.get(signal.fingerprint), signal, now)
            for signal in refreshed:
                alert = firing.get(signal.fingerprint)
                summary = signal.summary[:SUMMARY_LIMIT]
                if alert is None or signal.fingerprint in seen:
                    continue
                if (alert.summary, alert.details) != (summary, signal.details):
                    update = {"summary": summary, "details": signal.details}
                    work.changed[alert.id] = alert.model_copy(update=update)
            gone = dict(cleared or {})
            for fingerprint, alert in firing.items():
                if (
                    alert.rule in periodic
                    and fingerprint not in seen
                    and now - alert.last_seen_at >= self.config.hold
                ):
                    gone[fingerprint] = _not_seen(alert, now)
            for fingerprint in sorted(gone.keys() - seen):
                alert = firing.get(fingerprint)
                if alert is not None:
                    self._resolve(work, work.changed.get(alert.id, alert), now, gone[fingerprint])
            if not work.changed:
                return []
            notifications = self._messages(work, firing)
            self.store.save(list(work.changed.values()), notifications, now=now)
        if notifications:
            self._queued()
        changed = list(work.changed.values())
        self._changed(changed)
        return changed

    def _open(self, work: _Pass, alert: Alert | None, signal: Signal, now: datetime) -> None:
        summary = signal.summary[:SUMMARY_LIMIT]
        if alert is None:
            alert = Alert(
                id=uuid.uuid4().hex,
                fingerprint=signal.fingerprint,
                rule=signal.rule,
                severity=signal.severity,
                state=AlertState.firing,
                subject_kind=signal.subject_kind,
                subject=signal.subject,
                country=signal.country,
                summary=summary,
                details=signal.details,
                started_at=now,
                last_seen_at=now,
            )
            work.notify.append(_Notice(NotificationKind.firing, alert))
            work.changed[alert.id] = alert
            return
        # The severity follows the figures the summary states, both ways; a fall, as a
        # resolution, once the severity has not been seen for the hold time (till then the
        # alert stays as last seen at it), so a route hovering at a line is not told back
        # and forth every pass.
        worse = signal.severity.rank > alert.severity.rank
        milder = signal.severity.rank < alert.severity.rank
        if milder and now - alert.last_seen_at < self.config.hold:
            # Meanwhile it says the figures of now, and until when it stays as it was, so
            # a route on the mend does not read as failing as much as when last seen.
            # Its subject is said once, where the summary starts: "UZ_a (a): …".
            subject = alert.summary.partition(_EASING)[0].partition(": ")[0]
            held = _waiting(
                alert,
                signal.summary.removeprefix(f"{subject}: "),
                f"{alert.severity.value} until",
                now,
                self.config.hold,
            )[:SUMMARY_LIMIT]
            if held != alert.summary:
                work.changed[alert.id] = alert.model_copy(update={"summary": held})
            return
        update: dict[str, object] = {
            "last_seen_at": now,
            "summary": summary,
            "details": signal.details,
            "severity": signal.severity,
        }
        if worse and alert.acknowledged_at is not None:
            # Whoever acknowledged the milder alert has not seen this one: theirs is kept
            # as given while it was milder, so the row says who knew of it.
            update.update(
                acknowledged_at=None,
                acknowledged_by=None,
                milder_acknowledged_at=alert.acknowledged_at,
                milder_acknowledged_by=alert.acknowledged_by,
                milder_acknowledged_severity=alert.severity,
            )
        refreshed = alert.model_copy(update=update)
        last = alert.last_notified_at or alert.started_at
        if worse:
            # Said as an easing is: a chat that heard it milder hears what it was; and that
            # no chat did, when none took it then (none configured yet, or none for it).
            rose = f"was {alert.severity.value}" + ("" if alert.notifications else f", {_UNHEARD}")
            work.notify.append(_Notice(NotificationKind.firing, refreshed, news=rose))
        elif milder:
            work.notify.append(_Notice(NotificationKind.firing, refreshed, alert.severity))
        elif _paused_again(alert, signal):
            # The route's probes failed and it waits a longer cool-down: what was told (when
            # it would be probed) no longer holds. Told once per pause, acknowledged or not.
            work.notify.append(_Notice(NotificationKind.firing, refreshed, news="paused again"))
        elif _crashed_again(alert, signal):
            # Another crash before it ran long enough to resolve: the chats that heard of the
            # first hear how many there are now, not the count they were told.
            work.notify.append(_Notice(NotificationKind.firing, refreshed, news="crashed again"))
        elif alert.acknowledged_at is None and not alert.notifications:
            # Raised while no chat took its severity (none configured yet): told now, once
            # one does, rather than after the repeat interval or never; saying so, as its
            # figures may be the ones it was raised on.
            if self.config.chats_for(refreshed.severity):
                work.notify.append(_Notice(NotificationKind.firing, refreshed, news=_UNHEARD))
        elif alert.acknowledged_at is None and now - last >= self.config.repeat_interval:
            work.notify.append(_Notice(NotificationKind.repeat, refreshed))
        work.changed[alert.id] = refreshed

    def _resolve(self, work: _Pass, alert: Alert, now: datetime, why: str) -> None:
        """Resolve `alert`; its summary keeps what raised it and says why it resolved."""
        raised_on = alert.summary.partition(_HELD)[0].partition(_EASING)[0].partition(_NOW)[0]
        resolved = alert.model_copy(
            update={
                "state": AlertState.resolved,
                "resolved_at": now,
                "last_seen_at": now,
                "summary": resolved_summary(raised_on, why, limit=SUMMARY_LIMIT),
            }
        )
        work.changed[alert.id] = resolved
        if alert.notifications:  # a chat that never heard it fire is not told it resolved
            work.notify.append(_Notice(NotificationKind.resolved, resolved))

    def _messages(self, work: _Pass, firing: Mapping[str, Alert]) -> list[NewNotification]:
        """Group what changed together, one message per group and chat; count them per alert.

        A pair's failing route pages each chat once: a message about a pair whose other
        alert already paged that chat, at the same or a higher severity, and still fires
        (or pages it in this pass) goes out silently. Reminders always ring.
        """
        groups: dict[
            tuple[NotificationKind, AlertRule, Severity, str | None, Severity | None, str | None],
            list[str],
        ] = {}
        for notice in work.notify:
            alert = notice.alert
            key = (
                notice.kind,
                alert.rule,
                alert.severity,
                alert.country,
                notice.eased_from,
                notice.news,
            )
            groups.setdefault(key, []).append(alert.id)
        notifications: list[NewNotification] = []
        now = self._clock.now()
        paged = self._pages(work, firing)
        # The most severe first: it is the one that pages.
        ordered = sorted(groups.items(), key=lambda group: -group[0][2].rank)
        for (kind, _rule, severity, _country, eased_from, news), ids in ordered:
            # A fall reaches the chats that heard of the alert at its former severity, or an
            # on-call chat paged for it would hear neither that it eased nor that it resolved.
            chats = self.config.chats_for(eased_from or severity)
            if not chats:
                continue  # kept, not sent: nowhere to send it
            alerts = [work.changed[alert_id] for alert_id in ids]
            text = alert_text(kind, alerts, eased_from=eased_from, news=news)
            for alert in alerts:
                work.changed[alert.id] = alert.model_copy(
                    update={"last_notified_at": now, "notifications": alert.notifications + 1}
                )
            for chat in chats:
                silent = kind != NotificationKind.repeat and all(
                    paged(alert, chat) for alert in alerts
                )
                if not silent:
                    paged.record(alerts, chat)
                notifications.append(NewNotification(chat, kind, ids[0], text, silent=silent))
        return notifications

    def _pages(self, work: _Pass, firing: Mapping[str, Alert]) -> _PairPages:
        """Which chats each pair's alerts have paged: those firing after this pass, told
        before it, at their severity then."""
        pages = _PairPages()
        for before in firing.values():
            after = work.changed.get(before.id, before)
            if (
                before.subject_kind == SubjectKind.pair
                and before.notifications
                and after.state == AlertState.firing
            ):
                for chat in self.config.chats_for(before.severity):
                    pages.add(before.subject, chat, before.id, before.severity)
        return pages

    def _changed(self, alerts: Sequence[Alert]) -> None:
        if self._on_change is not None:
            for alert in alerts:
                self._on_change(alert)

    def _queued(self) -> None:
        if self._on_queued is not None:
            self._on_queued()


# What an alert raised while no chat took its severity says when a chat first hears of it:
# its figures may be the ones it was raised on, and no chat heard it milder before.
_UNHEARD = "raised before a chat took it"
_HELD = "; held since "


def _paused_again(alert: Alert, signal: Signal) -> bool:
    """`signal` is a pause decided after the one `alert` was told of: a route whose probes
    still failed, paused again for a longer cool-down."""
    decision = signal.details.get("decision")
    return (
        alert.rule is AlertRule.pair_paused
        and decision is not None
        and decision != alert.details.get("decision")
    )


def _crashed_again(alert: Alert, signal: Signal) -> bool:
    """`signal` is a crash of the session after the ones `alert` was told of."""
    now, told = signal.details.get(FAILURES_IN_A_ROW), alert.details.get(FAILURES_IN_A_ROW, 1)
    return (
        alert.rule is AlertRule.session_crashed
        and isinstance(now, int)
        and isinstance(told, int)
        and now > told
    )


def _held_before(alert: Alert, pair: Pair) -> bool:
    """Whether `alert` is held on figures of a change of `pair`'s before its last one."""
    since = alert.details.get("held_since")
    changed = pair.state_changed_at
    return (
        isinstance(since, str) and changed is not None and datetime.fromisoformat(since) < changed
    )


def _as_signal(alert: Alert, *, held: bool = True) -> Signal:
    """An open alert as the signal that raised it; `held`: held as it was (its figures'
    time)."""
    details = dict(alert.details)
    if held:
        since = details.get("held_since")
        details["held_since"] = since if isinstance(since, str) else alert.last_seen_at.isoformat()
    return Signal(
        rule=alert.rule,
        severity=alert.severity,
        subject_kind=alert.subject_kind,
        subject=alert.subject,
        country=alert.country,
        summary=alert.summary,
        details=details,
    )


def _held(signal: Signal, pair: Pair, now: datetime) -> Signal:
    """`signal` saying that it is held while `pair` is paused or probed and since when (its
    figures' time, `held_since`), so its figures are not read as today's."""
    since = datetime.fromisoformat(str(signal.details["held_since"]))
    state = "paused" if pair.state is PairState.paused else "probed after a pause"
    actor = "by the policy" if pair.state_actor == POLICY_ACTOR else f"by {pair.state_actor}"
    figures = signal.summary.partition(_HELD)[0]  # as the rule said it, before any hold
    return signal.model_copy(
        update={
            "summary": (
                f"{figures}{_HELD}{human_time(since, now=now)} while {pair.key} is {state} {actor}"
            )
        }
    )


def _unsettled(signal: Signal, pair: Pair, samples: int, fewest: int, now: datetime) -> Signal:
    """`signal` held as it was while `pair` runs again with fewer than `fewest` completed
    attempts since its last change: since when, and why."""
    since = datetime.fromisoformat(str(signal.details["held_since"]))
    figures = signal.summary.partition(_HELD)[0].partition(_EASING)[0]
    changed = pair.state_changed_at
    after = f" since it was {pair.became()} at {human_time(changed, now=now)}" if changed else ""
    attempt = "attempt" if samples == 1 else "attempts"
    return signal.model_copy(
        update={
            "summary": (
                f"{figures}{_HELD}{human_time(since, now=now)}: {samples} completed {attempt}"
                f"{after}, too few to say (it takes {fewest})"
            )
        }
    )


_EASING = "; not seen since "


def _figures_now(
    key: str,
    current: Mapping[str, WindowStats],
    newest: Mapping[str, WindowStats],
    window: Window,
    thresholds: RuleThresholds,
) -> str:
    """A pair's figures as the rules read them now: its newest attempts when the window
    holds more (the look that changes first), else the window."""
    stats = current.get(key, WindowStats(samples=0, delivered=0))
    looks = looks_at(
        stats, newest.get(key), window=window, fewest=thresholds.min_samples, z=thresholds.z
    )
    return figures(looks[-1].stats, looks[-1].window)


# Between a held pair's alert as raised and its figures of now.
_NOW = "; now "


def _still_held(alert: Alert, now_said: str) -> Signal:
    """A held high-priority pair's alert seen again: as raised, and its figures of now."""
    summary = f"{alert.summary.partition(_NOW)[0]}{_NOW}{now_said}"
    return _as_signal(alert, held=False).model_copy(update={"summary": summary})


def _easing(alert: Alert, now_said: str, now: datetime, hold: timedelta) -> Signal:
    """An open alert not seen any more, as it waits `hold` to resolve: since when, the
    figures of now, and when it resolves unless seen again."""
    return Signal(
        rule=alert.rule,
        severity=alert.severity,
        subject_kind=alert.subject_kind,
        subject=alert.subject,
        country=alert.country,
        summary=_waiting(alert, now_said, "resolves at", now, hold),
        details=alert.details,
    )


def _waiting(alert: Alert, now_said: str, then: str, now: datetime, hold: timedelta) -> str:
    """`alert`'s summary as raised, then since when it was last seen so, the figures of
    now, and what comes at the hold's end unless it is seen so again (`then`: "resolves
    at", "critical until")."""
    raised_on = alert.summary.partition(_EASING)[0]
    return (
        f"{raised_on}{_EASING}{human_time(alert.last_seen_at, now=now)}: now {now_said};"
        f" {then} {human_time(alert.last_seen_at + hold, now=now)} unless seen again"
    )


def _not_seen(alert: Alert, now: datetime) -> str:
    """Why a periodic rule's alert resolves: not seen for the hold time, and the figures of
    now when its easing said them."""
    # Less its last clause, which said until when it waited ("resolves at …", or "critical
    # until …" while its figures were milder).
    easing = alert.summary.partition(_EASING)[2].rpartition("; ")[0]
    if easing:
        return f"not seen since {easing}"
    return f"not seen since {human_time(alert.last_seen_at, now=now)}"


def _since_hour(now: datetime) -> timedelta:
    """The baseline ends at the last whole hour, so the current one does not count."""
    return timedelta(minutes=now.minute, seconds=now.second, microseconds=now.microsecond)
