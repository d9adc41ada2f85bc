"""The success-rate policy: pause failing routes, probe them, resume them.

Each evaluation looks at every pair's window (see `stats`) and decides on
evidence, with the Wilson score interval at the configured confidence (`z`):

- enabled, normal priority: confidently under the pause line (the interval's
  upper bound below it) → `paused` (its sessions stop through the pair's state);
- paused by the policy, cool-down over → `probing` (sessions run, the dispatcher
  grants at most one send per probe interval);
- probing, decided on `probe_samples` probes: confidently over the resume line
  (the lower bound above it), all of them or the newest `probe_samples` (a route
  that heals while probed: 10 of the newest 10 delivered) → `resumed` (enabled);
  confidently under the pause line → `paused` again, for twice the cool-down before
  (at most `cooldown_max`); neither after `max_probes` (three times as many):
  `resumed` when its probes deliver at or over the resume line, if not confidently
  (a healthy route near the line, 85 % against 70 %, would otherwise be paused again
  as often as not), else `paused` again as above: a route stuck between the two lines
  is not probed forever, and one that heals while probed has its newest probes to
  show it;
- enabled, high priority: never paused; confidently under the pause line → `held`
  (it keeps running and alerts), confidently over the resume line → `recovered`.

A window of more than `min_samples` attempts is looked at twice: whole and its
newest `min_samples`, each at the confidence that keeps the two looks together at
`z`'s (Bonferroni). So a route that turns bad after a good spell is paused on its
newest failures rather than once they outweigh the whole window's successes, and
one that heals while probed is resumed on its newest probes rather than once they
outweigh the failed ones.

The way back is quick after a short outage and backs off while a route stays bad:
a first pause waits `cooldown` (2 min) and ten probes, all delivered, clear the 70 %
resume line; each pause in a row doubles the wait. A wrong resume costs little (the
newest look pauses it again within minutes), a wrong pause costs minutes of a good
route, so the probes decide on fewer attempts than a running route's pause.

A route whose figures do not say which side of a line it is on is left as it is: thin
evidence never pauses a good route nor resumes a bad one. No decision is taken on fewer
than `min_samples` completed attempts (`probe_samples` probes). Every decision's reason
states its evidence (`stats.evidence`), and the decision records the bound it was taken
on (`decided_on`). A window never reaches back past the pair's last state change, so a
probe is judged on what it sent and a resumed pair is not paused again on the failures
that paused it. A pair paused or disabled by a person is left alone.

An evaluation asked for over HTTP (`evaluate_on_request`) runs one at a time per
process, its result shared: a request while one runs gets that run's, and so does one
within `ON_REQUEST_FRESH` of its end (`core.single_flight`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import Clock, human_span, human_time
from smsfleet.core.errors import ConfigurationError, NotFound
from smsfleet.core.single_flight import SingleFlight
from smsfleet.pairs import service as pairs_service
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.models import (
    POLICY_ACTOR,
    DecisionQuery,
    EvaluationResult,
    EvidenceBound,
    PairStanding,
    PolicyAction,
    PolicyDecision,
    PolicySettings,
    StandingQuery,
    named_actor,
)
from smsfleet.policy.stats import (
    Look,
    Window,
    WindowStats,
    beyond,
    confidence,
    figures,
    looks_at,
    percent,
)
from smsfleet.policy.store import PolicyStore
from smsfleet.stores import ConfigStore

__all__ = ["PolicyConfig", "PolicyService", "Verdict", "decide", "pair_window_stats"]

log = logging.getLogger("smsfleet.policy")
# An evaluation asked for over HTTP this soon after the last one ended answers that one's.
ON_REQUEST_FRESH = timedelta(seconds=1)

# The pair state each action writes; `held` and `recovered` change no state.
_STATE_OF: dict[PolicyAction, PairState] = {
    PolicyAction.paused: PairState.paused,
    PolicyAction.probing: PairState.probing,
    PolicyAction.resumed: PairState.enabled,
}


@dataclass(frozen=True)
class PolicyConfig:
    window: Window
    min_samples: int
    pause_threshold: float
    resume_threshold: float
    cooldown: timedelta
    cooldown_max: timedelta
    probe_interval: timedelta
    probe_samples: int
    evaluation_interval: timedelta
    z: float

    def __post_init__(self) -> None:
        if self.resume_threshold < self.pause_threshold:
            raise ConfigurationError(
                "SMSFLEET_POLICY_RESUME_THRESHOLD must not be below SMSFLEET_POLICY_PAUSE_THRESHOLD"
            )
        if self.cooldown_max < self.cooldown:
            raise ConfigurationError(
                "SMSFLEET_POLICY_COOLDOWN_MAX_SECONDS must not be below "
                "SMSFLEET_POLICY_COOLDOWN_SECONDS"
            )

    def next_cooldown(self, last: timedelta | None) -> timedelta:
        """The cool-down of a pause after one of `last` whose probes still failed:
        twice it, at most `cooldown_max`."""
        return min(2 * (self.cooldown if last is None else last), self.cooldown_max)

    @classmethod
    def from_settings(cls, settings: PolicySettings) -> PolicyConfig:
        return cls(
            window=Window(
                span=timedelta(minutes=settings.window_minutes),
                max_attempts=settings.window_max_attempts,
            ),
            min_samples=settings.min_samples,
            pause_threshold=settings.pause_threshold,
            resume_threshold=settings.resume_threshold,
            cooldown=timedelta(seconds=settings.cooldown_seconds),
            probe_interval=timedelta(seconds=settings.probe_interval_seconds),
            evaluation_interval=timedelta(seconds=settings.evaluation_interval_seconds),
            z=settings.z,
            cooldown_max=timedelta(seconds=settings.cooldown_max_seconds),
            probe_samples=settings.probe_samples,
        )

    @property
    def max_probes(self) -> int:
        """The probes a route has to show it delivers again before it is paused again."""
        return 3 * self.probe_samples

    @property
    def newest_window(self) -> Window:
        """The newest attempts a pause looks at besides the whole window: the fewest a
        decision is taken on."""
        return self.window.newest(self.min_samples)

    @property
    def newest_probes_window(self) -> Window:
        """The newest probes a probed pair's resume looks at besides all of them."""
        return self.window.newest(self.probe_samples)

    def thresholds(self, pair: Pair) -> tuple[float, float]:
        """The pair's (pause, resume) thresholds: its own where set, else the defaults.

        An own pause threshold above the default resume one lifts the resume threshold
        to it, so the two never cross.
        """
        pause = self.pause_threshold if pair.pause_threshold is None else pair.pause_threshold
        resume = self.resume_threshold if pair.resume_threshold is None else pair.resume_threshold
        return pause, max(pause, resume)

    def public(self) -> PolicySettings:
        return PolicySettings(
            window_minutes=self.window.span.total_seconds() / 60,
            window_max_attempts=self.window.max_attempts,
            min_samples=self.min_samples,
            pause_threshold=self.pause_threshold,
            resume_threshold=self.resume_threshold,
            cooldown_seconds=self.cooldown.total_seconds(),
            cooldown_max_seconds=self.cooldown_max.total_seconds(),
            probe_interval_seconds=self.probe_interval.total_seconds(),
            probe_samples=self.probe_samples,
            evaluation_interval_seconds=self.evaluation_interval.total_seconds(),
            z=self.z,
        )


@dataclass(frozen=True)
class Verdict:
    """What the policy does with a pair now and why; `action` None: nothing, and `reason`
    says why not (too few attempts, figures on neither side of a line, a cool-down)."""

    action: PolicyAction | None
    reason: str
    decided_on: EvidenceBound | None = None
    look: Look | None = None  # the figures decided on, or said; None: no figure was
    cooldown: timedelta | None = None  # a pause's, before it is probed
    held: bool = False  # held by the policy before this look (high priority, not recovered)


def _nearest(looks: Sequence[Look]) -> Look:
    """The look nearest the pause line (the newest, when worse): the figures said when
    nothing is decided, and shown beside a decision taken on none (a cool-down)."""
    return min(looks, key=lambda look: look.stats.success_ratio or 0.0)


def decide(
    *,
    pair: Pair,
    stats: WindowStats,
    newest: WindowStats | None = None,
    newest_probes: WindowStats | None = None,
    held: bool,
    now: datetime,
    config: PolicyConfig,
    last_cooldown: timedelta | None = None,
    dated: bool = True,
) -> Verdict:
    """What the policy does with `pair` at `now`, or why nothing, with the figures it read.
    Pure: no store, no clock.

    `now` is the moment of the look decided for: an evaluation's, or for a standing the
    policy's next look (what that look does on the figures of this moment). `dated`
    False: that moment is not known (no policy loop looks here) and `now` is the reading's;
    the verdict then names no moment it would move (a pause's probing start).

    `stats` is the pair's window; `newest` its newest `min_samples` attempts, looked at
    too when the window holds more (`stats.looks_at`); `newest_probes`, a probed pair's
    newest `probe_samples` probes, looked at for a resume when it has more (a wrong
    resume costs little: the running route's looks pause it again within minutes, so
    that look is read at the full confidence, and a route that heals while probed is
    back once its newest probes all deliver). `last_cooldown` is the cool-down of
    the pair's latest pause by the policy (None: none recorded, the first one's). A
    verdict taken on no figure (a cool-down, a person's pause) carries the look nearest
    the pause line, so what is shown beside it is what the policy reads of the route."""
    probing = pair.state is PairState.probing
    window = replace(config.window, probes=probing)
    looks = looks_at(stats, newest, window=window, fewest=config.min_samples, z=config.z)
    resume_looks = looks
    if probing and newest_probes is not None and stats.samples > config.probe_samples:
        newest_window = window.newest(config.probe_samples)
        resume_looks = (*looks, Look(newest_window, newest_probes, config.z))
    verdict = _verdict(
        pair,
        looks,
        resume_looks,
        stats,
        now,
        config,
        held=held,
        last_cooldown=last_cooldown,
        dated=dated,
    )
    return verdict if verdict.look is not None else replace(verdict, look=_nearest(looks))


def _verdict(
    pair: Pair,
    looks: Sequence[Look],
    resume_looks: Sequence[Look],
    stats: WindowStats,
    now: datetime,
    config: PolicyConfig,
    *,
    held: bool,
    last_cooldown: timedelta | None,
    dated: bool,
) -> Verdict:
    pause, resume = config.thresholds(pair)
    z = config.z

    def under_pause() -> tuple[str, Look] | None:
        return beyond(looks, pause, name="pause", below=True, z=z)

    def over_resume() -> tuple[str, Look] | None:
        return beyond(resume_looks, resume, name="resume", below=False, z=z)

    nearest = _nearest(looks)
    worst = figures(nearest.stats, nearest.window)

    def paused(
        said: str,
        look: Look,
        cooldown: timedelta,
        again: bool,
        bound: EvidenceBound | None = EvidenceBound.upper_bound,
    ) -> Verdict:
        probed = (
            f"probed from {human_time(now + cooldown, now=now)}, "
            f"after a cool-down of {human_span(cooldown)}"
            if dated
            else f"probed after a cool-down of {human_span(cooldown)}"
        )
        reason = (
            f"while probing, {said}; paused again, {probed} (each pause in a row doubles it, "
            f"to at most {human_span(config.cooldown_max)})"
            if again
            else f"{said}; {probed}"
        )
        return Verdict(PolicyAction.paused, reason, bound, look, cooldown)

    by_policy = pair.state_actor == POLICY_ACTOR
    if pair.state is PairState.paused:
        if not by_policy:
            who = named_actor(pair.state_actor) if pair.state_actor else "a person"
            return Verdict(None, f"paused by {who}: a person's pause is theirs to lift")
        if pair.is_high_priority:
            return Verdict(PolicyAction.resumed, "high-priority pairs are not paused by the policy")
        cooldown = config.cooldown if last_cooldown is None else last_cooldown
        since = pair.state_changed_at
        if since is not None and now < since + cooldown:
            return Verdict(
                None,
                f"in its cool-down of {human_span(cooldown)}: "
                f"probed from {human_time(since + cooldown, now=now)}",
            )
        # Written as the pair's state reason, which stays while it is probed: it says the
        # rule at any count of probes, not what the first of them decide (the pair's
        # standing says where its probes stand).
        interval = config.probe_interval.total_seconds()
        return Verdict(
            PolicyAction.probing,
            f"cool-down of {human_span(cooldown)} over: at most one probe per {interval:g} s;"
            f" from {config.probe_samples} probes, resumed once confidently over"
            f" {percent(resume)} (all or the newest {config.probe_samples}),"
            f" paused again once confidently under {percent(pause)};"
            f" at {config.max_probes} probes, resumed if at or over {percent(resume)},"
            " else paused again",
        )
    if pair.state is PairState.probing:
        if pair.is_high_priority:
            return Verdict(PolicyAction.resumed, "high-priority pairs are not paused by the policy")
        if stats.samples < config.probe_samples:
            return Verdict(
                None,
                f"probing: {stats.samples} of the {config.probe_samples} probes a decision "
                f"needs {'has' if stats.samples == 1 else 'have'} completed,"
                f" {stats.delivered} delivered",
            )
        if (over := over_resume()) is not None:
            said, look = over
            return Verdict(
                PolicyAction.resumed, f"while probing, {said}", EvidenceBound.lower_bound, look
            )
        if (under := under_pause()) is not None:
            return paused(*under, config.next_cooldown(last_cooldown), again=True)
        # Its newest probes resume it too (a route that heals while probed): said with
        # their figures, so that how close it is to a resume reads here.
        newest_probes = [look for look in resume_looks if look not in looks]
        newest_said = "".join(f"; {figures(look.stats, look.window)}" for look in newest_probes)
        between = (
            f"{worst}{newest_said}: neither confidently above the {percent(resume)} resume"
            f" line nor below the {percent(pause)} pause line"
        )
        if stats.samples >= config.max_probes:
            # A route between the two lines would be probed forever: its probes say it.
            # Delivering at or over the resume line, it is back (a wrong resume costs a
            # few minutes: the running route's looks pause it again); else paused again.
            at_resume = [look for look in looks if (look.stats.success_ratio or 0.0) >= resume]
            if at_resume:
                best = max(at_resume, key=lambda look: look.stats.success_ratio or 0.0)
                return Verdict(
                    PolicyAction.resumed,
                    f"while probing, {figures(best.stats, best.window)} after"
                    f" {stats.samples} probes: at or over the {percent(resume)} resume line,"
                    f" if not confidently, and not below the {percent(pause)} pause line",
                    None,
                    best,
                )
            said = f"{between} after {stats.samples} probes"
            cooldown = config.next_cooldown(last_cooldown)
            return paused(said, nearest, cooldown, again=True, bound=None)
        return Verdict(
            None,
            f"probing: {between}; resumed once confidently above the {percent(resume)}"
            f" resume line, over all its probes or its newest {config.probe_samples},"
            f" paused again once confidently below the {percent(pause)} pause"
            f" line, else after {config.max_probes} probes resumed if at or over the"
            f" {percent(resume)} resume line, else paused again",
            look=nearest,
        )
    if pair.state is not PairState.enabled:
        return Verdict(None, f"{pair.state.value}: the policy leaves it alone")
    if stats.samples < config.min_samples:
        # The window starts at the pair's last change (a resume) when that falls within it.
        changed = pair.state_changed_at
        span = (
            f"since it was {pair.became()} at {human_time(changed, now=now)}"
            if changed is not None and changed > config.window.since(now)
            else f"in the last {config.window.minutes()} min"
        )
        attempts = "attempt" if stats.samples == 1 else "attempts"
        return Verdict(
            None,
            f"{stats.samples} completed {attempts} {span}: a decision needs {config.min_samples}",
        )
    if held and pair.is_high_priority:
        if (over := over_resume()) is not None:
            said, look = over
            return Verdict(PolicyAction.recovered, said, EvidenceBound.lower_bound, look)
        # Either look recovers it: both are said, or a good newest spell would not read.
        others = "".join(
            f"; {figures(look.stats, look.window)}" for look in resume_looks if look != nearest
        )
        return Verdict(
            None,
            f"held (high priority, so it keeps running): {worst}{others}:"
            f" taken as failing until {'either' if others else 'it'} is confidently above"
            f" the {percent(resume)} line it recovers at",
            look=nearest,
        )
    if (under := under_pause()) is None:
        if (ratio := nearest.stats.success_ratio or 0.0) >= pause:
            where = "on" if ratio == pause else "over"
            return Verdict(None, f"{worst}: {where} the {percent(pause)} pause line", look=nearest)
        # Two looks (the window and its newest) are each read stricter, so that the two
        # together keep the policy's confidence: said, or its bounds would not add up.
        each = (
            ""
            if nearest.z == z
            else f": the whole window and its newest {config.min_samples} are each read at"
            f" {percent(confidence(nearest.z))}"
        )
        return Verdict(
            None,
            f"{worst}: under the {percent(pause)} pause line, but too few attempts yet to be"
            f" sure of it ({percent(confidence(z))} sure{each}); more attempts decide",
            look=nearest,
        )
    said, look = under
    if pair.is_high_priority:
        return Verdict(
            PolicyAction.held,
            f"high priority, so it keeps running: {said}",
            EvidenceBound.upper_bound,
            look,
        )
    return paused(said, look, config.cooldown, again=False)


class PolicyService:
    def __init__(
        self,
        *,
        store: PolicyStore,
        attempts: AttemptStore,
        config_store: ConfigStore,
        clock: Clock,
        config: PolicyConfig,
        on_decision: Callable[[PolicyDecision], None] | None = None,
        on_state_change: Callable[[Collection[str]], None] | None = None,
        next_look: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self.store = store
        self.config = config
        self._attempts = attempts
        self._config_store = config_store
        self._clock = clock
        # Told of every decision once stored (event bus, alerts).
        self.on_decision = on_decision
        # Told of the pairs whose state changed, once an evaluation (wakes the supervisor).
        self.on_state_change = on_state_change
        # When the loop that drives it evaluates next; None: no loop looks here.
        self._next_look = next_look
        self._on_request: SingleFlight[EvaluationResult] = SingleFlight(
            clock=clock, fresh_for=ON_REQUEST_FRESH
        )

    def settings(self) -> PolicySettings:
        return self.config.public()

    def decisions(self, query: DecisionQuery) -> list[PolicyDecision]:
        return self.store.decisions(query)

    def pair_window_stats(
        self,
        pairs: Collection[Pair],
        *,
        window: Window,
        now: datetime,
        from_changes: bool = True,
        newest_sent: bool = False,
    ) -> dict[str, WindowStats]:
        return pair_window_stats(
            self._attempts,
            pairs,
            window=window,
            now=now,
            from_changes=from_changes,
            newest_sent=newest_sent,
        )

    def evaluate(self) -> EvaluationResult:
        """Look at every pair not disabled once, and carry out what is decided."""
        now = self._clock.now()
        pairs = [p for p in self._config_store.pairs.list() if p.state is not PairState.disabled]
        decisions: list[PolicyDecision] = []
        unchanged: list[PairStanding] = []
        changed: list[str] = []
        # The look after this one: when this is the loop's round, its next.
        next_look = self._next_look()
        if next_look is not None and next_look <= now:
            next_look = now + self.config.evaluation_interval
        for pair, stats, verdict, paused_on in self._verdicts(pairs, now):
            decision = None
            if verdict.action is not None:
                decision = self._carry_out(pair, stats, verdict, now)
                if decision is None:  # changed meanwhile: the next evaluation looks again
                    verdict = Verdict(None, "changed while it was looked at: looked at again next")
            if decision is None:
                unchanged.append(self._standing(pair, stats, verdict, paused_on, now, next_look))
                continue
            decisions.append(decision)
            if verdict.action in _STATE_OF:
                changed.append(pair.key)
        if changed and self.on_state_change is not None:
            self.on_state_change(changed)
        return EvaluationResult(evaluated=len(pairs), decisions=decisions, unchanged=unchanged)

    def evaluate_on_request(self) -> EvaluationResult:
        """`evaluate`, asked for by a person or a key: one run at a time per process,
        shared by the requests that come while it runs and within `ON_REQUEST_FRESH` of
        its end, so a loop of requests costs one run a second at most."""
        return self._on_request.run(self.evaluate)

    def next_look(self, now: datetime) -> datetime | None:
        """When the policy evaluates next: the loop's next round, `now` when that is due
        (under way); None when no loop looks here (stopped, or another replica leads)."""
        due = self._next_look()
        return None if due is None else max(due, now)

    def standing(self, query: StandingQuery) -> list[PairStanding]:
        """Where each pair stands with the policy now, disabled ones too: what its next
        look does on the figures of this moment, or why nothing. Nothing is carried out:
        an action's reason says it is the next look's, and when that is, and any moment
        in it counts from that look, so reads between two looks say the same. A pair asked
        for by name must exist; a country is a filter, which may match none."""
        pairs = [
            p
            for p in self._config_store.pairs.list()
            if (query.pair is None or p.key == query.pair)
            and (query.country is None or p.country == query.country.upper())
        ]
        named = query.pair
        if named is not None and not pairs and self._config_store.pairs.get(named) is None:
            raise NotFound(f"pair {named!r} does not exist")
        now = self._clock.now()
        next_look = self.next_look(now)
        found = self._verdicts(pairs, now, at=next_look, dated=next_look is not None)
        standings = []
        for pair, stats, verdict, paused_on in found:
            if verdict.action is not None:  # not yet carried out: the next look's
                when = "" if next_look is None else f" ({human_time(next_look, now=now)})"
                verdict = replace(verdict, reason=f"at its next look{when}: {verdict.reason}")
            standings.append(self._standing(pair, stats, verdict, paused_on, now, next_look))
        return standings

    def _verdicts(
        self,
        pairs: list[Pair],
        now: datetime,
        *,
        at: datetime | None = None,
        dated: bool = True,
    ) -> list[tuple[Pair, WindowStats, Verdict, PolicyDecision | None]]:
        """Each pair with its window's figures at `now`, what the policy's look at `at`
        (else now) does with it on them (`dated`: see `decide`), and for a pair paused by
        the policy the pause that did (`_paused_on`)."""
        stats = self.pair_window_stats(pairs, window=self.config.window, now=now)
        newest = self.pair_window_stats(pairs, window=self.config.newest_window, now=now)
        probed = [p for p in pairs if p.state is PairState.probing]
        # The latest probes sent: one given up on completes minutes after those sent after
        # it, which would keep a route healed since then from its newest ten.
        newest_probes = (
            self.pair_window_stats(
                probed, window=self.config.newest_probes_window, now=now, newest_sent=True
            )
            if probed
            else {}
        )
        latest = self.store.latest_actions([p.key for p in pairs if p.is_high_priority])
        pauses = self.store.latest_pauses(
            [p.key for p in pairs if p.state in (PairState.paused, PairState.probing)]
        )
        cooldowns = {
            key: timedelta(seconds=pause.cooldown_seconds)
            for key, pause in pauses.items()
            if pause.cooldown_seconds is not None
        }
        found = []
        for listed in pairs:
            pair = self._as_paused_again(listed, pauses.get(listed.key))
            figures = stats.get(pair.key, WindowStats(samples=0, delivered=0))
            held = pair.is_high_priority and latest.get(pair.key) is PolicyAction.held
            verdict = decide(
                pair=pair,
                stats=figures,
                newest=newest.get(pair.key),
                newest_probes=newest_probes.get(pair.key),
                held=held,
                now=now if at is None else at,
                config=self.config,
                last_cooldown=cooldowns.get(pair.key),
                dated=dated,
            )
            verdict = replace(verdict, held=held)
            found.append((pair, figures, verdict, _paused_on(pair, pauses.get(pair.key))))
        return found

    def _as_paused_again(self, pair: Pair, pause: PolicyDecision | None) -> Pair:
        """`pair` as listed; read again when a pause newer than its probing came meanwhile
        (a look paused it again between the listing and the read of its pauses), so its
        state and its pause's cool-down are of the same moment."""
        changed = pair.state_changed_at
        if (
            pause is None
            or pair.state is not PairState.probing
            or changed is None
            or pause.at <= changed + timedelta(seconds=1)
        ):
            return pair
        return self._config_store.pairs.get(pair.key) or pair

    def _standing(
        self,
        pair: Pair,
        stats: WindowStats,
        verdict: Verdict,
        paused_on: PolicyDecision | None,
        now: datetime,
        next_look: datetime | None,
    ) -> PairStanding:
        """What `_verdicts` found of `pair`, with the figures said: those of the pause
        that paused it when the policy did (the figures its reason states), else those
        the verdict read."""
        pause, resume = self.config.thresholds(pair)
        if paused_on is not None:
            ratio, samples, delivered = (
                paused_on.success_ratio,
                paused_on.samples,
                paused_on.delivered,
            )
            lower, upper = paused_on.lower_bound, paused_on.upper_bound
            window = f"what paused it at {human_time(paused_on.at, now=now)}: {paused_on.window}"
        else:
            look = verdict.look or Look(self.config.window, stats, self.config.z)
            ratio, samples, delivered = (
                look.stats.success_ratio,
                look.stats.samples,
                look.stats.delivered,
            )
            lower, upper = look.stats.lower_bound(look.z), look.stats.upper_bound(look.z)
            window = look.window.describe()
        return PairStanding(
            pair=pair.key,
            country=pair.country,
            state=pair.state,
            is_high_priority=pair.is_high_priority,
            held=verdict.held,
            action=verdict.action,
            reason=verdict.reason,
            success_ratio=ratio,
            samples=samples,
            delivered=delivered,
            lower_bound=lower,
            upper_bound=upper,
            pause_threshold=pause,
            resume_threshold=resume,
            window=window,
            next_look_at=next_look,
        )

    def _carry_out(
        self, pair: Pair, stats: WindowStats, verdict: Verdict, now: datetime
    ) -> PolicyDecision | None:
        action = verdict.action
        if action is None:
            return None
        state = _STATE_OF.get(action)
        if state is not None:
            written = pairs_service.set_state_unless_changed(
                pairs=self._config_store.pairs,
                seen=pair,
                state=state,
                reason=f"{action.value} by the policy: {verdict.reason}",
                actor=POLICY_ACTOR,
                at=now,
            )
            if written is None:
                return None
        pause, resume = self.config.thresholds(pair)
        # A probing decision is taken on no figures (its pause's cool-down is over): it
        # records none, and the pause before it shows what the route was paused on.
        look = (
            None
            if action is PolicyAction.probing
            else verdict.look or Look(self.config.window, stats, self.config.z)
        )
        decision = PolicyDecision(
            id=uuid.uuid4().hex,
            at=now,
            pair=pair.key,
            country=pair.country,
            action=action,
            reason=f"{pair.key} {action.value}: {verdict.reason}",
            lower_bound=None if look is None else look.stats.lower_bound(look.z),
            upper_bound=None if look is None else look.stats.upper_bound(look.z),
            decided_on=verdict.decided_on,
            success_ratio=None if look is None else look.stats.success_ratio,
            samples=None if look is None else look.stats.samples,
            delivered=None if look is None else look.stats.delivered,
            pause_threshold=pause,
            resume_threshold=resume,
            window=None if look is None else look.window.describe(),
            cooldown_seconds=None if verdict.cooldown is None else verdict.cooldown.total_seconds(),
        )
        self.store.add(decision)
        log.info("policy: %s", decision.reason)
        if self.on_decision is not None:
            try:
                self.on_decision(decision)
            except Exception:  # the decision stands; a listener's fault must not undo it
                log.exception("on_decision failed for %s", decision.id)
        return decision


def _paused_on(pair: Pair, pause: PolicyDecision | None) -> PolicyDecision | None:
    """`pause`, the pair's latest by the policy, when it is the one the pair is paused
    on: the pair is paused by the policy, and not since before that pause."""
    changed = pair.state_changed_at
    if (
        pause is None
        or pair.state is not PairState.paused
        or pair.state_actor != POLICY_ACTOR
        or changed is None
        # The pair's state and the decision are written apart, at the same moment.
        or pause.at < changed - timedelta(seconds=1)
        or pause.samples is None
    ):
        return None
    return pause


def pair_window_stats(
    attempts: AttemptStore,
    pairs: Collection[Pair],
    *,
    window: Window,
    now: datetime,
    from_changes: bool = True,
    newest_sent: bool = False,
) -> dict[str, WindowStats]:
    """Each pair's completed attempts in `window` ending at `now` (its newest
    `max_attempts`), from its last state change when that falls within the window:
    so a probe is judged on what it sent, and a resumed pair on what it sent since.
    A paused pair's window is not cut at its pause: its figures stay those of its route
    (what paused it), not the few sends that ended after it. Without `from_changes`, the
    whole window (the figures up to a change, read at it). Pairs without any are left out.
    `newest_sent`: the newest are the latest sent, not the latest completed."""
    since = window.since(now)
    count = window.max_attempts
    found = attempts.completed_counts(
        by="pair", start=since, end=now, newest=count, newest_sent=newest_sent
    )
    # The pairs whose window starts at their change, each from its own: read together,
    # not a query each.
    changed: dict[str, datetime] = {}
    for pair in pairs if from_changes else ():
        changed_at = pair.state_changed_at
        if pair.state is not PairState.paused and changed_at is not None and changed_at > since:
            changed[pair.key] = changed_at
    if changed:
        own = attempts.completed_counts(
            by="pair", start=since, end=now, newest=count, starts=changed, newest_sent=newest_sent
        )
        found.update({key: own.get(key, (0, 0)) for key in changed})
    return {
        key: WindowStats(samples=samples, delivered=delivered)
        for key, (samples, delivered) in found.items()
    }
