"""The composition root: every part of a control-plane process, built once, in order.

One config store and one metrics engine per process (the metrics schema migrated once,
here), each feature built on them with its callbacks given at construction, into a
frozen `Services`. The order of building is the order of dependence: whatever a part
is told about is built before it. `Services.running()` starts the loops and, on the
way out, closes everything in the reverse order of building, so nothing is closed
while a part built on it still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

from smsfleet import __version__
from smsfleet.alerts.runtime import Alerts, build_alerts
from smsfleet.alerts.store import AlertStore
from smsfleet.apikeys.service import ApiKeyService
from smsfleet.apikeys.store import QuotaStore
from smsfleet.attempts.models import Attempt
from smsfleet.attempts.store import AttemptStore
from smsfleet.audit import service as audit_service
from smsfleet.audit.models import AUDIT_TOPIC
from smsfleet.auth import service as auth_service
from smsfleet.auth.changes import ChangeBudget
from smsfleet.auth.models import Role
from smsfleet.auth.service import ADMIN_USERNAME, TokenPolicy
from smsfleet.auth.throttle import LoginThrottle
from smsfleet.core.breakers import Breakers
from smsfleet.core.clock import Clock, SystemClock
from smsfleet.core.error_reports import start_error_reports
from smsfleet.core.events import EventBus, RedisFanout
from smsfleet.core.retention import Retention, build_retention
from smsfleet.core.security import PasswordChecks
from smsfleet.core.settings import Settings
from smsfleet.core.sql import fleet_prefix, open_metrics_engine
from smsfleet.developer.runtime import Usage, build_usage
from smsfleet.dispatch.expiry import UnreportedExpiry
from smsfleet.dispatch.prometheus import GoalCollector
from smsfleet.dispatch.service import Dispatcher, build_dispatcher
from smsfleet.dispatch.store import HeartbeatStore
from smsfleet.messages.runtime import Messages, build_messages
from smsfleet.messages.store import MessageStore
from smsfleet.metrics.runtime import Metrics, build_metrics
from smsfleet.pairs import service as pairs_service
from smsfleet.pairs.models import PairChange, PairChangeKind
from smsfleet.policy.models import PolicyDecision
from smsfleet.policy.runtime import Policy, RedisSharedLooks, build_policy
from smsfleet.policy.store import PolicyStore
from smsfleet.search.gateway import (
    SearchFeeder,
    SearchGateway,
    backlog_of,
    document_of_attempt,
    document_of_message,
)
from smsfleet.sessions.models import SessionEvent, SignsOfLife
from smsfleet.sessions.runtime import SessionRuntime
from smsfleet.sessions.ticks import SupervisorTicks
from smsfleet.stores import ConfigStore, open_config_store

__all__ = ["Services", "build_services", "prepare_store"]


class _Running(Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    store: ConfigStore
    bus: EventBus
    tokens: TokenPolicy
    login_throttle: LoginThrottle
    password_checks: PasswordChecks
    api_keys: ApiKeyService
    changes: ChangeBudget
    metrics: Metrics
    breakers: Breakers
    search: SearchGateway
    search_feeder: SearchFeeder
    messages: Messages
    dispatcher: Dispatcher
    sessions: SessionRuntime
    policy: Policy
    alerts: Alerts
    usage: Usage
    # Each kind's retention job, by kind: "audit", "alerts", "session_events", …
    retention: Mapping[str, Retention]
    # What `running` starts, in order, and everything built, closed in reverse.
    _starts: tuple[Callable[[], None], ...] = field(repr=False)
    _resources: ExitStack = field(repr=False)

    def publish_pair_change(self, change: PairChange) -> None:
        self.bus.publish("pairs", change)

    def publish_session_event(self, event: SessionEvent) -> None:
        self.bus.publish("sessions", event)

    def signs_of_life(self) -> SignsOfLife:
        hang_timeout = timedelta(seconds=self.settings.heartbeat_timeout_seconds)
        return SignsOfLife(self.dispatcher.heartbeats(), hang_timeout)

    def wake_supervisor(self) -> None:
        self.sessions.supervisor.wake()

    def session_logs(self, name: str, lines: int, *, say_why: bool = True) -> list[str]:
        return self.sessions.tail(name, lines, say_why=say_why)

    @contextmanager
    def running(self) -> Iterator[Services]:
        """Start the loops; on the way out, stop them and close everything."""
        with self._resources:
            for start in self._starts:
                start()
            yield self


def prepare_store(settings: Settings, store: ConfigStore, clock: Clock) -> None:
    """Start-up duties: the country list, and the admin user when a password is given."""
    pairs_service.ensure_countries(
        countries=store.countries, default_cap=settings.default_country_cap
    )
    if settings.admin_password is not None:
        auth_service.set_password(
            users=store.users,
            clock=clock,
            username=ADMIN_USERNAME,
            password=settings.admin_password.get_secret_value(),
            role=Role.admin,
        )


def build_services(
    settings: Settings, *, store: ConfigStore | None = None, clock: Clock | None = None
) -> Services:
    """Build every part on `store` (else the one the settings name, closed with the rest).

    Nothing runs yet: `Services.running()` starts the loops."""
    resources = ExitStack()
    try:
        return _build(settings, store, clock or SystemClock(), resources)
    except BaseException:
        resources.close()  # what was built before the failure
        raise


def _build(
    settings: Settings, given_store: ConfigStore | None, clock: Clock, resources: ExitStack
) -> Services:
    settings.check_production_safety()
    reports = start_error_reports(
        settings.sentry.dsn.get_secret_value() if settings.sentry.dsn else None,
        service="control-plane",
        release=__version__,
        environment=settings.sentry.environment,
    )
    resources.callback(reports.close)
    store = given_store or open_config_store(settings.resolved_config_url)
    if given_store is None:
        resources.callback(store.close)
    prepare_store(settings, store, clock)
    engine = open_metrics_engine(settings.resolved_metrics_url)
    resources.callback(engine.dispose)

    # The fleet's keys and channels in Redis (limiter, open attempts, leadership, login
    # counters, events) are named after its metrics database: replicas share them.
    redis_prefix = fleet_prefix(engine) if settings.redis_url else "smsfleet"
    # With replicas, a browser on any of them sees every replica's events.
    bus = EventBus(
        RedisFanout.from_url(settings.redis_url, channel=f"{redis_prefix}:events")
        if settings.redis_url
        else None
    )
    # Every entry written through the control plane is told to admins' live sockets.
    store = replace(
        store,
        audit=audit_service.ToldLog(store.audit, lambda notice: bus.publish(AUDIT_TOPIC, notice)),
    )
    starts: list[Callable[[], None]] = []

    def runs(part: _Running) -> None:
        """A part with a loop: started by `running`, closed with the rest."""
        starts.append(part.start)
        resources.callback(part.close)

    if bus.fanout is not None:
        starts.append(bus.fanout.start)
        resources.callback(bus.fanout.close)
    password_checks = PasswordChecks(
        limit=settings.password.checks, wait_seconds=settings.password.check_wait_seconds
    )
    resources.callback(password_checks.close)

    metrics = build_metrics(
        settings=settings,
        engine=engine,
        config_store=store,
        clock=clock,
        on_attempt=lambda summary: bus.publish("attempts", summary),
    )
    runs(metrics)
    breakers = Breakers(metrics.registry)

    search = SearchGateway(
        base_url=settings.search.url,
        token=settings.search.token.get_secret_value() if settings.search.token else None,
        breaker=breakers.get("search", reset_timeout=settings.breaker_reset_seconds),
    )
    resources.callback(search.close)
    # On start it catches up from the stores: what the index lacks is indexed again.
    feeder = SearchFeeder(
        search,
        backlog=backlog_of(
            attempts=AttemptStore(engine).completed_since,
            messages=MessageStore(engine).recorded_since,
        ),
    )
    # Without a search service nothing is fed: no document is made for nobody to index.
    searching = bool(settings.search.url)
    if searching:
        starts.append(feeder.start)
    resources.callback(feeder.close)

    heartbeats = HeartbeatStore(engine)
    sessions = SessionRuntime.build(
        settings=settings,
        store=store,
        clock=clock,
        on_event=lambda event: bus.publish("sessions", event),
        heartbeats=heartbeats.all,
        stops_told=heartbeats.stop_told_at,
        # Read by `smsfleet sessions`, which warns when no control plane acts on its changes.
        on_tick=SupervisorTicks(engine).ticked,
        redis_prefix=redis_prefix,
    )
    supervisor = sessions.supervisor
    if settings.supervise:
        starts.append(lambda: supervisor.start_loop(settings.supervisor_interval_seconds))
    # The sessions keep running when the supervisor closes: the next start adopts them.
    resources.callback(supervisor.close)

    def leading() -> bool:
        """With replicas, the supervising leader decides and alerts; without supervision,
        this one."""
        return not settings.supervise or supervisor.leading

    messages = build_messages(
        settings=settings,
        engine=engine,
        config_store=store,
        clock=clock,
        on_change=lambda send: bus.publish("sends", send),
        on_message=(lambda message: feeder.add(document_of_message(message)))
        if searching
        else None,
        should_run=leading,
    )
    runs(messages)

    def reported(attempt: Attempt) -> None:
        if searching:
            feeder.add(document_of_attempt(attempt))
        metrics.service.record(attempt)

    dispatcher = build_dispatcher(
        settings=settings,
        engine=engine,
        config_store=store,
        clock=clock,
        on_report=reported,
        on_grant=metrics.collector.granted,
        heartbeats=heartbeats,
        on_demand=messages.sends,
        redis_prefix=redis_prefix,
    )
    runs(dispatcher)  # its ledger's drain; closed with its limiter and heartbeats
    runs(
        UnreportedExpiry(
            ledger=dispatcher.ledger,
            clock=clock,
            lease_ttl=dispatcher.policy.lease_ttl,
            closed=dispatcher.tell_closed,
            should_run=leading,
        )
    )
    messages.sends.use_ledger(dispatcher.ledger)  # why a send waits: its numbers' codes
    GoalCollector(goals=dispatcher.goals, registry=metrics.registry)

    def pairs_changed(keys: Collection[str]) -> None:
        """The policy changed these pairs' states: their sessions follow now, pages reload."""
        supervisor.wake()
        for key in keys:
            bus.publish("pairs", PairChange(key=key, change=PairChangeKind.updated))

    shared_looks = None
    if settings.redis_url:  # replicas: the ones not leading read the leader's next look
        shared_looks = RedisSharedLooks.from_url(
            settings.redis_url, key=f"{redis_prefix}:policy:next_look"
        )
        resources.callback(shared_looks.close)
    policy = build_policy(
        settings=settings,
        engine=engine,
        config_store=store,
        clock=clock,
        on_decision=lambda decision: bus.publish("policy", decision),
        on_state_change=pairs_changed,
        should_run=leading,
        shared_looks=shared_looks,
    )
    runs(policy)

    alerts = build_alerts(
        settings=settings,
        engine=engine,
        config_store=store,
        clock=clock,
        registry=metrics.registry,
        breakers=breakers,
        metrics=metrics.service,
        policy=policy.service,
        on_change=lambda alert: bus.publish("alerts", alert),
        should_run=leading,
        country_reasons=lambda: {g.country: g.reason for g in dispatcher.goals() if g.reason},
    )
    bus.listen("sessions", SessionEvent, alerts.service.on_session_event)
    bus.listen("policy", PolicyDecision, alerts.service.on_policy_decision)
    runs(alerts)

    usage = build_usage(settings=settings, engine=engine, clock=clock)
    runs(usage)

    sent = MessageStore(engine)
    alerted = AlertStore(engine)
    retention = {
        kind: build_retention(kind, *forgets, days=days, clock=clock, should_run=leading)
        for kind, days, forgets in (
            ("audit", settings.audit_retention_days, (store.audit.forget_before,)),
            (
                "alerts",
                settings.alert.retention_days,
                # The alerts with their messages, and the messages people sent on their own.
                (alerted.forget_before, alerted.forget_messages_before),
            ),
            (
                "session_events",
                settings.session_event_retention_days,
                (store.session_events.forget_before,),
            ),
            (
                "policy_decisions",
                settings.policy.decision_retention_days,
                (PolicyStore(engine).forget_before,),
            ),
            (
                "messages",
                settings.message_retention_days,
                (sent.forget_sends_before, sent.forget_messages_before),
            ),
        )
    }
    for job in retention.values():
        runs(job)

    return Services(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        tokens=TokenPolicy(
            secret=settings.jwt_secret,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
            refresh_grace=timedelta(seconds=settings.refresh_grace_seconds),
            max_logins_per_user=settings.login.max_open_per_user,
            device_ttl=timedelta(days=settings.login.device_token_days),
        ),
        login_throttle=LoginThrottle(
            per_user=settings.login.failures_per_user,
            per_address=settings.login.failures_per_address,
            window_seconds=settings.login.failure_window_seconds,
            per_device=settings.login.failures_per_device,
            storage_url=settings.redis_url or "memory://",
            redis_prefix=redis_prefix,
        ),
        password_checks=password_checks,
        api_keys=ApiKeyService(
            keys=store.api_keys,
            users=store.users,
            quotas=QuotaStore(engine),
            audit=store.audit,
            clock=clock,
            max_active_per_user=settings.apikeys.max_active_per_user,
            kept_revoked_per_user=settings.apikeys.kept_revoked_per_user,
            made_per_hour=settings.apikeys.made_per_hour,
        ),
        changes=ChangeBudget(
            per_minute=settings.changes_per_minute,
            storage_url=settings.redis_url or "memory://",
            key_prefix=redis_prefix,
        ),
        metrics=metrics,
        breakers=breakers,
        search=search,
        search_feeder=feeder,
        messages=messages,
        dispatcher=dispatcher,
        sessions=sessions,
        policy=policy,
        alerts=alerts,
        usage=usage,
        retention=retention,
        _starts=tuple(starts),
        _resources=resources,
    )
