"""The policy end to end on a fake clock: real dispatcher, metrics store and supervisor.

Two routes of one country send through the real dispatcher (lease → report, every 5 s of
fake time); the policy evaluates and the supervisor reconciles every 30 s. Both routes
degrade together: the normal one is paused within its window, probed at one send per
probe interval after its cool-down, and resumed once it delivers again (a short outage
costs minutes; a lasting one is probed less and less often); the high-priority one stays
enabled, its session keeps running, and it is `held` (then `recovered`) instead. The
alert engine runs beside them: the pause and the held high-priority route alert, and
both resolve when the routes recover.

The policy decides on evidence: a route confidently under the pause line (30 %
delivered) is paused within minutes, one at 70 % never is, over hours.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy.engine import Engine

from smsfleet.alerts.models import AlertQuery, AlertRule, AlertState, Severity
from smsfleet.alerts.service import AlertConfig, AlertService, ChatRoute
from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import human_time
from smsfleet.dispatch._sql_limiter import SqlLimiter
from smsfleet.dispatch.admission import SqlAdmission
from smsfleet.dispatch.models import ReportRequest, SendAction, StopAction
from smsfleet.dispatch.service import Dispatcher, DispatchPolicy
from smsfleet.dispatch.store import HeartbeatStore
from smsfleet.pairs.models import PairState, PairUpdate
from smsfleet.pairs.service import get_country, update_pair
from smsfleet.policy.models import (
    POLICY_ACTOR,
    EvidenceBound,
    PolicyAction,
    PolicyDecision,
    StandingQuery,
)
from smsfleet.policy.service import PolicyConfig, PolicyService
from smsfleet.policy.stats import Window, WindowStats, split_z, wilson_lower_bound
from smsfleet.sessions.models import DesiredState, SessionState
from smsfleet.sessions.supervisor import Supervisor
from tests.support.fakes import person
from tests.support.services import alert_service, policy_service
from tests.support.sessions import TICKING, Fleet
from tests.support.waiting import eventually

STEP = 5  # seconds between two asks of a route's session
EVALUATE_EVERY = 30
CONFIG = PolicyConfig(
    window=Window(span=timedelta(minutes=30), max_attempts=50),
    min_samples=20,
    pause_threshold=0.5,
    resume_threshold=0.7,
    cooldown=timedelta(minutes=2),
    cooldown_max=timedelta(minutes=30),
    probe_interval=timedelta(seconds=30),
    probe_samples=10,
    evaluation_interval=timedelta(seconds=EVALUATE_EVERY),
    z=1.96,
)
PHONE = "+998901234567"
PERSON = person("alice")


@dataclass
class Route:
    session: str
    pair: str
    healthy: bool = True
    # How the n-th send ends (delivered or not), when not all-or-nothing by `healthy`.
    delivers: Callable[[int], bool] | None = None
    # The error code the n-th send is broken off with, if it is (`feed` only).
    breaks_off: Callable[[int], str | None] | None = None
    sends: list[datetime] = field(default_factory=list)
    outcomes: list[bool] = field(default_factory=list)
    stops: int = 0


@dataclass
class World:
    fleet: Fleet
    dispatcher: Dispatcher
    policy: PolicyService
    supervisor: Supervisor
    alerts: AlertService
    routes: list[Route]
    published: list[PolicyDecision]
    engine: Engine
    # The pairs each evaluation said it changed the state of (pages reload them).
    state_changes: list[list[str]] = field(default_factory=list)
    elapsed: int = 0

    def add_route(self, slug: str, *, high_priority: bool = False) -> Route:
        session = self.fleet.add_pair(slug, TICKING, high_priority=high_priority)
        pair = self.fleet.store.pairs.get(f"UZ_{slug}")
        assert pair is not None
        self.fleet.store.pairs.replace(pair.model_copy(update={"phone_numbers": [PHONE]}))
        if not high_priority:  # high-priority sessions run without being asked
            self.fleet.want(session, DesiredState.running)
        route = Route(session=session, pair=pair.key)
        self.routes.append(route)
        return route

    def step(self, route: Route) -> None:
        """What the route's session does now: ask for a send, and report its outcome."""
        if self.fleet.state(route.session) not in (SessionState.starting, SessionState.running):
            return
        action = self.dispatcher.lease(session=route.session)
        if isinstance(action, StopAction):
            route.stops += 1
        if not isinstance(action, SendAction):
            return
        delivered = route.healthy if route.delivers is None else route.delivers(len(route.sends))
        route.sends.append(self.fleet.clock.now())
        route.outcomes.append(delivered)
        outcome = Outcome.delivered if delivered else Outcome.not_delivered
        report = ReportRequest(trigger_id=action.trigger_id, session=route.session, outcome=outcome)
        self.dispatcher.report(session=route.session, report=report)

    def drain(self, route: Route) -> None:
        """The paused route's session drains: its program, told `stop` at its next lease,
        exits once its attempts in flight are reported (this one carries none, and never
        leases: it is ended as it would end itself), and the supervisor records a stop."""
        session = route.session
        assert self.fleet.state(session) == SessionState.stopping
        os.kill(self.fleet.program_pid(session), signal.SIGTERM)
        eventually(lambda: session not in self.fleet.screens(), what="the program to exit")
        self.supervisor.reconcile_once()

    def run(self, seconds: int, *, until: list[tuple[Route, PolicyAction]] | None = None) -> None:
        """Let fake time pass; with `until`, stop once each route had its decision."""
        for _ in range(seconds // STEP):
            for route in self.routes:  # staggered: the limiter spaces a country's sends
                self.fleet.clock.advance(STEP / len(self.routes))
                self.step(route)
            self.elapsed += STEP
            if self.elapsed % EVALUATE_EVERY == 0:
                self.policy.evaluate()
                self.alerts.evaluate()
                self.supervisor.reconcile_once()
                if until is not None and all(self.decided(*wanted) for wanted in until):
                    return
        assert until is None, f"not all of {until} within {seconds} s: {self.published}"

    def decided(self, route: Route, action: PolicyAction) -> list[PolicyDecision]:
        return [d for d in self.published if d.pair == route.pair and d.action is action]

    def decision(self, route: Route, action: PolicyAction) -> PolicyDecision:
        found = self.decided(route, action)
        assert len(found) == 1, f"{route.pair}: {[d.action for d in self.published]}"
        return found[0]

    def pair_state(self, route: Route) -> PairState:
        pair = self.fleet.store.pairs.get(route.pair)
        assert pair is not None
        return pair.state


def _build_world(fleet: Fleet, engine: Engine) -> World:
    clock = fleet.clock
    # Room for every ask: each route sends at its own pace, 12 a minute.
    countries = fleet.store.countries
    countries.replace(get_country(countries=countries, code="UZ").model_copy(update={"cap": 60}))
    attempts, limiter = AttemptStore(engine), SqlLimiter(engine, clock=clock)
    dispatcher = Dispatcher(
        config_store=fleet.store,
        attempts=attempts,
        heartbeats=HeartbeatStore(engine),
        limiter=limiter,
        admission=SqlAdmission(store=attempts, limiter=limiter),
        clock=clock,
        worker_secret="-" * 32,
        policy=DispatchPolicy(probe_interval=CONFIG.probe_interval),
    )
    published: list[PolicyDecision] = []
    alerts = alert_service(
        engine,
        fleet.store,
        clock,
        config=AlertConfig(routes=(ChatRoute("ops"),), success_window=CONFIG.window),
    )

    def decided(decision: PolicyDecision) -> None:
        published.append(decision)
        alerts.on_policy_decision(decision)

    state_changes: list[list[str]] = []
    policy = policy_service(
        engine,
        fleet.store,
        clock,
        CONFIG,
        on_decision=decided,
        on_state_change=lambda keys: state_changes.append(list(keys)),
    )
    supervisor = fleet.supervisor()
    return World(
        fleet, dispatcher, policy, supervisor, alerts, [], published, engine, state_changes
    )


MakeWorld = Callable[[Fleet, Engine], World]


def probed_after(paused: PolicyDecision, cooldown: timedelta = CONFIG.cooldown) -> str:
    """What a pause's reason says of its cool-down."""
    probed_from = human_time(paused.at + cooldown, now=paused.at)
    return f"probed from {probed_from}, after a cool-down of {cooldown // timedelta(minutes=1)} min"


@pytest.fixture
def make_world() -> Iterator[MakeWorld]:
    """Builds worlds; their dispatchers (and the heartbeats they write) close after."""
    worlds: list[World] = []

    def make(fleet: Fleet, engine: Engine) -> World:
        worlds.append(_build_world(fleet, engine))
        return worlds[-1]

    yield make
    for world in worlds:
        world.dispatcher.close()


def test_a_degraded_route_is_paused_probed_and_resumed_while_high_priority_keeps_running(
    fleet: Fleet, metrics_engine: Engine, make_world: MakeWorld
) -> None:
    world = make_world(fleet, metrics_engine)
    normal = world.add_route("uzmobile")
    priority = world.add_route("beeline", high_priority=True)
    world.supervisor.reconcile_once()
    world.run(10 * 60)
    assert world.published == []
    assert fleet.state(normal.session) == fleet.state(priority.session) == SessionState.running

    # Both routes stop delivering.
    normal.healthy = priority.healthy = False
    degraded_at = fleet.clock.now()
    world.run(
        CONFIG.window.span // timedelta(seconds=1),
        until=[(normal, PolicyAction.paused), (priority, PolicyAction.held)],
    )
    paused = world.decision(normal, PolicyAction.paused)
    # 12 attempts a minute: the newest 20 are confidently under 50 % (the upper bound of
    # 4 of 20 is 44.9 % at the 97.5 % each of the two looks takes) after 16 failures
    # (80 s), and the next evaluation acts; the whole window of 50 would have taken 32.
    each = split_z(CONFIG.z, 2)
    assert timedelta(seconds=75) <= paused.at - degraded_at <= timedelta(seconds=115)
    assert paused.delivered is not None and paused.upper_bound is not None
    assert paused.samples == 20 and paused.delivered <= 4
    assert WindowStats(20, paused.delivered).upper_bound(each) == paused.upper_bound < 0.5
    assert paused.success_ratio == paused.delivered / 20
    assert (paused.pause_threshold, paused.resume_threshold) == (0.5, 0.7)
    assert paused.window == "last 30 min, at most 20 attempts"
    assert paused.reason == (
        f"{normal.pair} paused: {paused.delivered} of the newest 20 delivered "
        f"({paused.delivered * 5} %) in the last 30 min: below the 50 % pause line "
        f"with 95 % confidence; {probed_after(paused)}"
    )
    assert paused.cooldown_seconds == CONFIG.cooldown.total_seconds()
    held = world.decision(priority, PolicyAction.held)
    assert held.at - degraded_at <= timedelta(seconds=115)
    assert held.samples is not None and held.delivered is not None
    assert WindowStats(held.samples, held.delivered).upper_bound(each) < CONFIG.pause_threshold
    assert "high priority, so it keeps running: " in held.reason
    (holding,) = world.policy.standing(StandingQuery(pair=priority.pair))
    assert holding.held and holding.reason.startswith("held (high priority")

    pair = fleet.store.pairs.get(normal.pair)
    assert pair is not None
    assert (pair.state, pair.state_actor) == (PairState.paused, POLICY_ACTOR)
    world.drain(normal)
    assert fleet.state(normal.session) == SessionState.stopped
    assert normal.session not in fleet.screens()
    assert world.pair_state(priority) is PairState.enabled
    assert fleet.state(priority.session) == SessionState.running
    assert priority.session in fleet.screens()
    stopped = world.dispatcher.lease(session=normal.session)
    assert isinstance(stopped, StopAction) and "paused" in stopped.reason

    # The normal route delivers again within its cool-down, during which it sends nothing;
    # the high-priority one keeps failing for two minutes more.
    sends_before = len(normal.sends)
    world.run(60)
    normal.healthy = True
    world.run(60)
    priority.healthy = True
    world.run(11 * 60, until=[(normal, PolicyAction.probing), (priority, PolicyAction.recovered)])
    probing = world.decision(normal, PolicyAction.probing)
    # Probed because its cool-down is over: no figure decided it, so none is recorded.
    figures = (probing.success_ratio, probing.samples, probing.delivered, probing.window)
    assert figures == (None, None, None, None)
    assert (probing.lower_bound, probing.upper_bound, probing.decided_on) == (None, None, None)
    assert CONFIG.cooldown <= probing.at - paused.at <= CONFIG.cooldown + timedelta(seconds=30)
    assert all(at > probing.at for at in normal.sends[sends_before:])
    recovered = world.decision(priority, PolicyAction.recovered)
    assert recovered.lower_bound is not None
    assert recovered.lower_bound > CONFIG.resume_threshold
    assert recovered.reason.endswith("above the 70 % resume line with 95 % confidence")
    (recovered_standing,) = world.policy.standing(StandingQuery(pair=priority.pair))
    assert not recovered_standing.held
    assert world.pair_state(normal) is PairState.probing
    # The supervisor runs it again.
    assert fleet.state(normal.session) in (SessionState.starting, SessionState.running)

    # Probing: at most one send per probe interval, until 10 probes are in and the bound is high.
    world.run(15 * 60, until=[(normal, PolicyAction.resumed)])
    resumed = world.decision(normal, PolicyAction.resumed)
    probes = [at for at in normal.sends[sends_before:] if at <= resumed.at]
    gaps = [later - earlier for earlier, later in pairwise(probes)]
    assert min(gaps) >= CONFIG.probe_interval
    assert len(probes) <= (resumed.at - probing.at) / CONFIG.probe_interval + 1
    assert resumed.samples == CONFIG.probe_samples
    assert resumed.lower_bound is not None and resumed.lower_bound > CONFIG.resume_threshold
    assert resumed.reason.startswith(
        f"{normal.pair} resumed: while probing, 10 of 10 probes delivered (100 %)"
    )
    assert resumed.window == "its probes since it was probed, at most 50"
    # Back within the cool-down and ten probes of the pause.
    assert resumed.at - paused.at <= CONFIG.cooldown + 10 * CONFIG.probe_interval + timedelta(
        seconds=EVALUATE_EVERY
    )
    assert world.pair_state(normal) is PairState.enabled

    # Enabled again: back to its full rate, and no further decision.
    sends_before = len(normal.sends)
    world.run(60)
    assert len(normal.sends) - sends_before >= 10
    assert [d.action for d in world.published if d.pair == normal.pair] == [
        PolicyAction.paused,
        PolicyAction.probing,
        PolicyAction.resumed,
    ]
    assert [d.action for d in world.published if d.pair == priority.pair] == [
        PolicyAction.held,
        PolicyAction.recovered,
    ]
    assert world.pair_state(priority) is PairState.enabled
    assert all(route.stops <= 1 for route in world.routes)

    # Alerts: the pause (warning) and the held high-priority route (critical), each
    # opened by the policy's decision and resolved by the recovery. The success-rate
    # rule reads the figures as the policy does (the window and its newest 20): it saw
    # the high-priority route fail and recover, and the normal one under the critical
    # line on the figures it was paused on; that alert stayed through the pause and the
    # probing, on those figures, and resolved with the resume.
    world.run(6 * 60)

    def alerts_of(rule: AlertRule) -> list[tuple[str, Severity, AlertState]]:
        found = world.alerts.find(AlertQuery(rule=rule))
        return sorted((a.subject, a.severity, a.state) for a in found)

    assert alerts_of(AlertRule.pair_paused) == [
        (normal.pair, Severity.warning, AlertState.resolved)
    ]
    (failing,) = world.alerts.find(AlertQuery(rule=AlertRule.priority_pair_failing))
    assert (failing.subject, failing.severity) == (priority.pair, Severity.critical)
    assert (failing.started_at, failing.resolved_at) == (held.at, recovered.at)
    # Seen at each pass while it was held, with its figures of the pass; resolved, it says
    # what raised it, not the figures of its last pass.
    assert failing.summary.startswith(held.reason)
    assert "; now " not in failing.summary
    assert alerts_of(AlertRule.success_rate_low) == [
        (priority.pair, Severity.critical, AlertState.resolved),
        (normal.pair, Severity.critical, AlertState.resolved),
    ]
    (normal_low,) = world.alerts.find(
        AlertQuery(rule=AlertRule.success_rate_low, subject=normal.pair)
    )
    assert normal_low.resolved_at == resumed.at
    # Still firing: UZ sends 24 a minute against the room of 60 this world gave it.
    assert [(a.rule, a.subject) for a in world.alerts.store.firing()] == [
        (AlertRule.country_under_target, "UZ")
    ]
    texts = [n.text for n in world.alerts.store.pending(limit=100)]
    assert any(t.startswith("🔴 <b>CRITICAL</b> · priority pair failing · UZ") for t in texts)
    [resume_told] = [t for t in texts if t.startswith("✅ <b>RESOLVED</b> · pair paused · UZ")]
    assert resume_told.endswith(f": {resumed.reason}")


def test_a_pair_paused_by_a_person_is_never_resumed_by_the_policy(
    fleet: Fleet, sqlite_metrics_engine: Engine, make_world: MakeWorld
) -> None:
    world = make_world(fleet, sqlite_metrics_engine)
    route = world.add_route("uzmobile")
    world.supervisor.reconcile_once()
    world.run(5 * 60)
    update_pair(
        pairs=fleet.store.pairs,
        programs=fleet.store.programs,
        clock=fleet.clock,
        actor=PERSON,
        key=route.pair,
        audit=fleet.store.audit,
        data=PairUpdate(state=PairState.paused, state_reason="maintenance"),
    )
    world.run(CONFIG.cooldown // timedelta(seconds=1) * 3)
    pair = fleet.store.pairs.get(route.pair)
    assert pair is not None
    assert (pair.state, pair.state_actor, pair.state_reason) == (
        PairState.paused,
        "alice",
        "maintenance",
    )
    assert world.published == []


def test_a_person_pausing_a_probing_pair_takes_it_over(
    fleet: Fleet, sqlite_metrics_engine: Engine, make_world: MakeWorld
) -> None:
    world = make_world(fleet, sqlite_metrics_engine)
    route = world.add_route("uzmobile")
    route.healthy = False
    world.supervisor.reconcile_once()
    world.run(10 * 60, until=[(route, PolicyAction.paused)])
    world.run(11 * 60, until=[(route, PolicyAction.probing)])
    update_pair(
        pairs=fleet.store.pairs,
        programs=fleet.store.programs,
        clock=fleet.clock,
        actor=PERSON,
        key=route.pair,
        audit=fleet.store.audit,
        data=PairUpdate(state=PairState.paused),
    )
    route.healthy = True
    world.run(CONFIG.cooldown // timedelta(seconds=1) * 2)
    assert world.pair_state(route) is PairState.paused
    assert [d.action for d in world.published] == [PolicyAction.paused, PolicyAction.probing]


def feed(world: World, route: Route, seconds: int) -> None:
    """A route's sends written straight to the attempts, every `STEP` s of fake time.

    The policy and the alert rules run every 30 s as in production; without the
    dispatcher and screen, hours of it take seconds.
    """
    attempts = AttemptStore(world.engine)
    pair = world.fleet.store.pairs.get(route.pair)
    assert pair is not None
    for _ in range(seconds // STEP):
        world.fleet.clock.advance(STEP)
        world.elapsed += STEP
        now = world.fleet.clock.now()
        assert route.delivers is not None
        broken_off = route.breaks_off(len(route.sends)) if route.breaks_off else None
        delivered = broken_off is None and route.delivers(len(route.sends))
        route.sends.append(now)
        if broken_off is None:
            route.outcomes.append(delivered)
        outcome = Outcome.delivered if delivered else Outcome.not_delivered
        attempts.add_many(
            [
                Attempt(
                    id=f"{len(route.sends):032x}",
                    session=route.session,
                    pair=route.pair,
                    country=pair.country,
                    operator=pair.slug,
                    program=route.session.split("_", 1)[0],
                    phone=PHONE,
                    leased_at=now - timedelta(seconds=STEP),
                    completed_at=now,
                    outcome=Outcome.error if broken_off else outcome,
                    error_code=broken_off,
                )
            ]
        )
        if world.elapsed % EVALUATE_EVERY == 0:
            world.policy.evaluate()
            world.alerts.evaluate()


def test_a_route_delivering_70_percent_is_never_paused_at_a_50_percent_line(
    fleet: Fleet, metrics_engine: Engine, make_world: MakeWorld
) -> None:
    world = make_world(fleet, metrics_engine)
    rng = random.Random(7)
    route = world.add_route("uzmobile")
    route.delivers = lambda _n: rng.random() < 0.7
    feed(world, route, 3 * 60 * 60)
    assert len(route.outcomes) == 3 * 60 * 60 // STEP
    assert world.published == []
    assert world.pair_state(route) is PairState.enabled
    assert world.alerts.find(AlertQuery(rule=AlertRule.pair_paused)) == []
    # Its last 50 dipped to where the lower bound is under the line, as a 70 %
    # route's do: judged on the lower bound, it would have been paused.
    worst = min(sum(route.outcomes[i : i + 50]) for i in range(len(route.outcomes) - 49))
    assert wilson_lower_bound(worst, 50, CONFIG.z) < CONFIG.pause_threshold


def test_attempts_broken_off_by_restarts_never_pause_a_route_nor_alert(
    fleet: Fleet, metrics_engine: Engine, make_world: MakeWorld
) -> None:
    """Two of every three sends broken off (stopped, killed, never reported) on a route
    that delivers every SMS it does send: counted as failures, a third delivered would
    pause it within minutes (the test above) and call the gateway failing."""
    world = make_world(fleet, metrics_engine)
    route = world.add_route("uzmobile")
    route.delivers = lambda _n: True
    codes = ("interrupted", "lease_lost", "lease_expired")
    route.breaks_off = lambda n: None if n % 3 == 0 else codes[n % len(codes)]
    feed(world, route, 60 * 60)
    assert len(route.outcomes) == len(route.sends) // 3
    assert world.published == []
    assert world.pair_state(route) is PairState.enabled
    assert world.alerts.find(AlertQuery()) == []
    pair = fleet.store.pairs.get(route.pair)
    assert pair is not None
    stats = world.policy.pair_window_stats([pair], window=CONFIG.window, now=fleet.clock.now())
    assert stats[route.pair] == WindowStats(samples=50, delivered=50)


def test_a_route_delivering_30_percent_is_paused_within_5_minutes(
    fleet: Fleet, metrics_engine: Engine, make_world: MakeWorld
) -> None:
    world = make_world(fleet, metrics_engine)
    route = world.add_route("uzmobile")
    route.delivers = lambda n: n % 10 in (1, 4, 7)  # 3 in 10, spread out
    world.supervisor.reconcile_once()
    started = fleet.clock.now()
    world.run(5 * 60, until=[(route, PolicyAction.paused)])
    paused = world.decision(route, PolicyAction.paused)
    assert paused.at - started <= timedelta(minutes=5)
    assert paused.samples is not None and paused.samples >= CONFIG.min_samples
    assert paused.reason.startswith(f"{route.pair} paused: {paused.delivered} of {paused.samples}")
    assert paused.reason.endswith(
        f"below the 50 % pause line with 95 % confidence; {probed_after(paused)}"
    )
    pair = fleet.store.pairs.get(route.pair)
    assert pair is not None
    assert pair.state_reason == f"paused by the policy: {paused.reason.split(': ', 1)[1]}"
    assert world.state_changes == [[route.pair]]
    world.drain(route)
    assert fleet.state(route.session) == SessionState.stopped
    (alert,) = world.alerts.find(AlertQuery(rule=AlertRule.pair_paused))
    assert alert.summary == paused.reason


def test_a_route_that_fails_after_a_good_spell_is_paused_on_its_newest_failures(
    fleet: Fleet, metrics_engine: Engine, make_world: MakeWorld
) -> None:
    """Its window full of successes, a route that stops delivering is paused once its newest
    attempts say so (16 failures in its newest 20), not once its failures outweigh the
    whole window's successes (32 of 50)."""
    world = make_world(fleet, metrics_engine)
    route = world.add_route("uzmobile")
    good_spell = 60
    route.delivers = lambda n: n < good_spell
    world.supervisor.reconcile_once()
    world.run(30 * 60, until=[(route, PolicyAction.paused)])
    paused = world.decision(route, PolicyAction.paused)
    failed_before = sum(1 for at in route.sends[good_spell:] if at <= paused.at)
    # Evaluated every 30 s, at a send per 5 s: up to six more failures than the 16.
    assert 16 <= failed_before <= 16 + EVALUATE_EVERY // STEP
    assert (paused.samples, paused.window) == (20, "last 30 min, at most 20 attempts")
    assert paused.delivered is not None and paused.upper_bound is not None
    assert paused.reason == (
        f"{route.pair} paused: {paused.delivered} of the newest 20 delivered "
        f"({paused.delivered * 5} %) in the last 30 min: below the 50 % pause line with "
        f"95 % confidence; {probed_after(paused)}"
    )
    assert paused.decided_on is EvidenceBound.upper_bound
    assert paused.upper_bound < 0.5
    # Its success alert, through the pause, names the figures it was paused on, at the
    # severity they call for, rather than those of the rules' last look before it.
    world.run(60)
    (alert,) = world.alerts.find(AlertQuery(rule=AlertRule.success_rate_low))
    assert alert.severity is Severity.critical
    assert alert.summary == (
        f"{route.pair} (uzmobile): {paused.delivered} of the newest 20 delivered "
        f"({paused.delivered * 5} %) in the last 30 min: below the 50 % critical line with "
        "95 % confidence; held since "
        f"{human_time(paused.at, now=paused.at)} while {route.pair} is paused by the policy"
    )
    # Probed after its cool-down, it is still held on the figures of the pause, since then.
    world.run(3 * 60, until=[(route, PolicyAction.probing)])
    world.run(EVALUATE_EVERY)
    (alert,) = world.alerts.find(AlertQuery(rule=AlertRule.success_rate_low))
    assert alert.summary.endswith(
        f"; held since {human_time(paused.at, now=paused.at)} while {route.pair} is probed"
        " after a pause by the policy"
    )


def test_a_short_outage_costs_a_good_route_minutes(
    fleet: Fleet, metrics_engine: Engine, make_world: MakeWorld
) -> None:
    """90 s without a delivery pauses a route sending 12 a minute (18 failures in its newest
    20); it is probed after 2 minutes and resumed on ten probes, all delivered."""
    world = make_world(fleet, metrics_engine)
    route = world.add_route("uzmobile")
    world.supervisor.reconcile_once()
    world.run(5 * 60)
    route.healthy = False
    world.run(5 * 60, until=[(route, PolicyAction.paused)])
    route.healthy = True
    paused = world.decision(route, PolicyAction.paused)
    world.run(15 * 60, until=[(route, PolicyAction.resumed)])
    resumed = world.decision(route, PolicyAction.resumed)
    assert resumed.at - paused.at <= timedelta(minutes=8)
    assert (resumed.samples, resumed.delivered) == (10, 10)
    assert [d.action for d in world.published] == [
        PolicyAction.paused,
        PolicyAction.probing,
        PolicyAction.resumed,
    ]


def test_a_pair_probed_past_its_first_probes_says_what_it_waits_for_now(
    fleet: Fleet, metrics_engine: Engine, make_world: MakeWorld
) -> None:
    """A route delivering 60 % while probed is neither confidently over the 70 % resume
    line nor under the 50 % pause line on its first 10 probes, and is probed on: its
    state reason, written when probing started, must still be true at 21 probes."""
    world = make_world(fleet, metrics_engine)
    route = world.add_route("uzmobile")
    route.healthy = False
    world.supervisor.reconcile_once()
    world.run(5 * 60, until=[(route, PolicyAction.paused)])
    route.delivers = lambda n: n % 5 in (0, 1, 2)  # 3 in 5, spread out
    world.run(5 * 60, until=[(route, PolicyAction.probing)])
    probing = world.decision(route, PolicyAction.probing)
    world.run(21 * 30)
    (standing,) = world.policy.standing(StandingQuery(pair=route.pair))
    assert standing.state is PairState.probing
    assert CONFIG.probe_samples < standing.samples < CONFIG.max_probes
    pair = fleet.store.pairs.get(route.pair)
    assert pair is not None and pair.state_reason is not None
    assert pair.state_reason == f"probing by the policy: {probing.reason.split(': ', 1)[1]}"
    assert "until 10 probes" not in pair.state_reason
    assert pair.state_reason.endswith(
        "at most one probe per 30 s; from 10 probes, resumed once confidently over 70 %"
        " (all or the newest 10), paused again once confidently under 50 %; at"
        " 30 probes, resumed if at or over"
        " 70 %, else paused again"
    )


def test_a_route_that_stays_bad_is_probed_less_and_less_often(
    fleet: Fleet, sqlite_metrics_engine: Engine, make_world: MakeWorld
) -> None:
    world = make_world(fleet, sqlite_metrics_engine)
    route = world.add_route("uzmobile")
    route.healthy = False
    world.supervisor.reconcile_once()
    world.run(50 * 60)
    pauses = world.decided(route, PolicyAction.paused)
    probes = world.decided(route, PolicyAction.probing)
    cooldowns = [timedelta(seconds=p.cooldown_seconds or 0) for p in pauses]
    assert [c // timedelta(minutes=1) for c in cooldowns] == [2, 4, 8, 16]
    for pause, probe, cooldown in zip(pauses, probes, cooldowns, strict=False):
        assert cooldown <= probe.at - pause.at <= cooldown + timedelta(seconds=EVALUATE_EVERY)
    # Paused again on ten failed probes, each reason saying when it is probed next.
    again = pauses[1]
    assert (again.samples, again.delivered) == (10, 0)
    assert again.reason.endswith(
        f"; paused again, {probed_after(again, cooldowns[1])} "
        "(each pause in a row doubles it, to at most 30 min)"
    )
    # It delivers again while probed: resumed once its newest 10 probes are all delivered,
    # rather than once they outweigh the failed probes before them.
    assert world.pair_state(route) is PairState.probing
    route.healthy = True
    healed_at = fleet.clock.now()
    world.run(30 * 60, until=[(route, PolicyAction.resumed)])
    resumed = world.decision(route, PolicyAction.resumed)
    newest = CONFIG.probe_samples * CONFIG.probe_interval
    assert resumed.at - healed_at <= newest + timedelta(seconds=EVALUATE_EVERY)
    assert resumed.window == "its probes since it was probed, at most 10"
    assert (resumed.samples, resumed.delivered) == (10, 10)
