"""Each country's goal against what it is granted now, and why when it falls short.

The cap is also the target: a country with work should be granted close to its cap every
minute. `country_goals` compares the grants of the last minutes (at grant time, as the
limiter counts them) less those their programs gave up unsent with the cap, and names the
first reason that explains a shortfall: grants given up, no running session, the sessions'
capacity (attempts in flight at the observed delivery time, or test numbers all awaiting
codes, the country's or one pair's), sessions down, providers refusing sends, pairs paused
(by the policy or a person, named); in words with the country's figures, and by kind
(`ReasonKind`). A route is failing on evidence, as the alerts judge it: its pair's success
confidently below the warning line (`FailingLine`), never on a raw count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from smsfleet.core.clock import human_span
from smsfleet.dispatch.inflight import Outlook
from smsfleet.dispatch.limiter import LIMITER_WINDOW
from smsfleet.pairs.models import Country, Pair, PairState, halted_said
from smsfleet.policy.models import POLICY_ACTOR, named_actor
from smsfleet.policy.stats import Z_95, Window, WindowStats, beyond, figures, looks_at
from smsfleet.sessions.models import DesiredState, SessionSpec, SessionState, SessionStatus

__all__ = [
    "GOAL_SHARE",
    "GOAL_WINDOW",
    "CountryGoal",
    "FailingLine",
    "Granted",
    "ReasonKind",
    "Route",
    "country_goals",
]

# Grants are counted over this window ending now: long enough to smooth a 6 s spacing.
GOAL_WINDOW = timedelta(minutes=2)
# At or above this share of its cap, a country is on goal.
GOAL_SHARE = 0.95
# Refusals above this share of the grants are named as a reason.
REFUSAL_SHARE = 0.2


class ReasonKind(StrEnum):
    """What keeps a country under its goal, one of a fixed set (a Prometheus label)."""

    no_session = "no_session"
    starting = "starting"
    sessions_down = "sessions_down"
    no_numbers = "no_numbers"
    numbers_busy = "numbers_busy"
    awaiting_codes = "awaiting_codes"
    failing = "failing"
    in_flight_limit = "in_flight_limit"
    refused = "refused"
    paused = "paused"
    probing = "probing"
    asked_fewer = "asked_fewer"
    given_up = "given_up"
    cap_changed = "cap_changed"
    halted = "halted"

    @property
    def words(self) -> str:
        """The kind in words, without a country's figures (those are in `reason`)."""
        return _KIND_WORDS[self]


_KIND_WORDS = {
    ReasonKind.no_session: "no session is wanted running",
    ReasonKind.starting: (
        "its sessions started, or its pairs resumed from probing, less than the window ago:"
        " not yet a full count"
    ),
    ReasonKind.sessions_down: "sessions wanted running are not running",
    ReasonKind.no_numbers: (
        "its pairs whose sessions people want running have no test number: those sessions"
        " are held stopped"
    ),
    # Said without advice: more numbers help only a route that delivers (its reason says
    # whether to add some, or names the route that may be failing).
    ReasonKind.numbers_busy: (
        "its test numbers, or one of its pairs' numbers, all await codes, some for over a"
        " minute: too few numbers for its pace, or a route that may be failing"
    ),
    ReasonKind.awaiting_codes: (
        "its test numbers, or one of its pairs' numbers, all await codes sent under a minute"
        " ago: none is late yet"
    ),
    ReasonKind.failing: (
        "SMS not delivered, each holding its test number until the gateway gives up: "
        "the route fails"
    ),
    ReasonKind.in_flight_limit: (
        "sessions busy at their in-flight limit at the observed delivery time: "
        "add programs or pairs"
    ),
    ReasonKind.refused: "providers refused sends",
    ReasonKind.paused: "pairs paused (by the policy or a person)",
    ReasonKind.probing: (
        "pairs probing after a pause by the policy: at most one send per probe interval"
    ),
    ReasonKind.asked_fewer: (
        "its sessions asked for fewer sends than the cap allows (starting up, or waiting)"
    ),
    ReasonKind.cap_changed: (
        "its cap changed less than the window ago: the count is partly at the previous cap"
    ),
    ReasonKind.halted: "its cap is 0: an admin halted it, nothing is sent until it is raised",
    ReasonKind.given_up: (
        "grants its programs gave up unsent, too late to send within the cap's margin:"
        " their machine, or the control plane, answers too slowly"
    ),
}


@dataclass(frozen=True)
class Granted:
    """A country's grants in the window, how many the provider refused and how many their
    programs gave up unsent (`given_up`: each took its slot, no SMS left); and its
    attempts awaiting a code now (each holds a test number), `stale` for over a minute,
    on the pairs whose numbers its outlook counts (those with sessions wanted running)."""

    grants: int = 0
    refused: int = 0
    given_up: int = 0
    awaiting: int = 0
    stale: int = 0


@dataclass(frozen=True)
class Route:
    """A pair's success over the policy's window (and its newest attempts, looked at too
    as the policy does), and its attempts awaiting a code now, `stale` for over a minute."""

    stats: WindowStats
    awaiting: int = 0
    newest: WindowStats | None = None
    stale: int = 0


@dataclass(frozen=True)
class FailingLine:
    """A route fails when its success is confidently below `line`, read as the policy
    and the alerts read it: over `window`, and over its newest `fewest` attempts too
    (`looks_at`), so a route that just broke is named on its newest failures.

    The line is the success alert's warning line, not the policy's pause line: a route
    under the pause line is paused at the policy's next look (and the reason is then
    `paused`), while one between the two (a pair delivering 60 %) still runs, its
    undelivered SMS holding the numbers; and the dashboard names the pairs the warning
    alert does."""

    line: float = 0.8
    window: Window = field(default_factory=lambda: Window(timedelta(minutes=30), 50))
    z: float = Z_95
    fewest: int = 20

    @property
    def newest(self) -> Window:
        return self.window.newest(self.fewest)

    def said(self, route: Route) -> str | None:
        """What shows the route fails, in words; None when nothing does, nor before its
        window holds the `fewest` completed attempts the policy and the alerts need."""
        if route.stats.samples < self.fewest:
            return None
        looks = looks_at(
            route.stats, route.newest, window=self.window, fewest=self.fewest, z=self.z
        )
        found = beyond(looks, self.line, name="warning", below=True, z=self.z)
        return None if found is None else found[0]

    def doubted(self, route: Route) -> str | None:
        """The figures of its worst look under the line, when one is but not confidently
        (a route that may have just broken, too few of its SMS given up on yet to say);
        None when none is under it."""
        looks = looks_at(
            route.stats, route.newest, window=self.window, fewest=self.fewest, z=self.z
        )
        ratios = [(look.stats.success_ratio, look) for look in looks]
        under = [(ratio, look) for ratio, look in ratios if ratio is not None and ratio < self.line]
        if not under:
            return None
        _, worst = min(under, key=lambda pair: pair[0])
        return figures(worst.stats, worst.window)


class CountryGoal(BaseModel):
    country: str
    goal_per_minute: int = Field(description="The cap: both the ceiling and the target")
    achieved_per_minute: float = Field(description="Sends granted per minute, last minutes")
    window_seconds: int
    on_goal: bool
    reason: str | None = Field(description="Why the country is under its goal, in words")
    reason_kind: ReasonKind | None = Field(description="The reason's kind, one of a fixed set")
    sessions_wanted: int = Field(description="Sessions wanted running, on pairs that run them")
    sessions_running: int
    pairs_paused: list[str]
    in_flight_limit: int = Field(description="Attempts its sessions may carry at once")
    test_numbers: int = Field(
        description="Test numbers of its pairs with sessions wanted running (a paused pair's"
        " are not counted)"
    )
    cycle_seconds: float = Field(description="Observed lease-to-report time per SMS")
    capacity_per_minute: float = Field(description="What its sessions can send a minute")
    refused: int = Field(description="Grants in the window the provider refused")
    given_up: int = Field(
        default=0,
        description="Grants in the window their programs gave up unsent (`grant_stale`):"
        " asked too long before they could send, each took its slot in the cap",
    )
    awaiting_code: int = Field(
        description="Of those test numbers, how many await a code now (a paused pair's SMS"
        " still in flight are not counted: its numbers are not in test_numbers)"
    )
    cap_note: str | None = Field(
        default=None,
        description="When its cap changed within the window, on goal or not: from what and"
        " when, as the count is then partly at the previous cap (a count over the new cap"
        " after a cut is the minute before it)",
    )


def country_goals(
    *,
    countries: Iterable[Country],
    pairs: Iterable[Pair],
    specs: Iterable[SessionSpec],
    statuses: Mapping[str, SessionStatus],
    outlooks: Mapping[str, Outlook],
    granted: Mapping[str, Granted],
    routes: Mapping[str, Route],
    now: datetime,
    window: timedelta = GOAL_WINDOW,
    failing_line: FailingLine = FailingLine(),
) -> list[CountryGoal]:
    """One entry per country that has pairs, ordered by country code; `routes` by pair."""
    caps: dict[str, int] = {}
    cap_notes: dict[str, str] = {}
    # Cut within the window: its count still holds sends at the higher cap, so it may stand
    # over the new one while grants are held back. Not judged on it.
    cut: set[str] = set()
    for country in countries:
        caps[country.code] = country.cap
        cap_notes[country.code] = _cap_note(country, now, window)
        if _cut_within(country, now, window):
            cut.add(country.code)
    by_country: dict[str, list[Pair]] = {}
    by_key: dict[str, Pair] = {}
    probing_pairs: set[str] = set()
    for pair in pairs:
        if pair.state is PairState.probing:
            probing_pairs.add(pair.key)
        by_country.setdefault(pair.country, []).append(pair)
        by_key[pair.key] = pair
    wanted: dict[str, int] = {}
    running: dict[str, int] = {}
    running_probes: dict[str, int] = {}  # of those, sessions of pairs the policy probes
    # Since when the country has had a session running: before a window has passed, its
    # count covers less than the window and falls short of the goal for that alone.
    running_since: dict[str, datetime] = {}
    # Its sessions started within the window (when others ran before): the count still
    # holds the time before they ran, a restart's time down or a new session's.
    restarted: dict[str, list[tuple[str, datetime]]] = {}
    # Its pairs that changed state within the window while their sessions ran through it
    # (resumed from probing): the count still covers their time before, one send a probe.
    resumed: dict[str, dict[str, Pair]] = {}
    # Sessions wanted running on pairs that run sessions but have no test number: held
    # stopped until one is added (`Pair.runs_sessions`), not counted as wanted.
    numberless: dict[str, int] = {}
    for spec in specs:
        owner = by_key.get(spec.pair)
        if owner is None or not spec.should_run(owner):
            if (
                owner is not None
                and spec.desired is DesiredState.running
                and owner.state.runs_sessions
                and not owner.phone_numbers
            ):
                numberless[owner.country] = numberless.get(owner.country, 0) + 1
            continue
        code = owner.country
        wanted[code] = wanted.get(code, 0) + 1
        status = statuses.get(spec.name)
        if status is not None and status.state is SessionState.running:
            running[code] = running.get(code, 0) + 1
            if spec.pair in probing_pairs:
                running_probes[code] = running_probes.get(code, 0) + 1
            if (started := status.started_at) is not None:
                running_since[code] = min(started, running_since.get(code, started))
                if now - started < window:
                    restarted.setdefault(code, []).append((spec.name, started))
                changed = owner.state_changed_at
                if (
                    owner.state is PairState.enabled
                    and changed is not None
                    and started < changed
                    and now - changed < window
                ):
                    resumed.setdefault(code, {})[owner.key] = owner
    minutes = window / timedelta(minutes=1)
    goals = []
    for code in sorted(by_country):
        outlook = outlooks.get(code)
        seen = granted.get(code, Granted())
        cap = caps.get(code, outlook.cap if outlook else 0)
        achieved = round(seen.grants / minutes, 2)
        paused = sorted(
            (p for p in by_country[code] if p.state is PairState.paused), key=lambda p: p.key
        )
        # Its grants of the last minutes say what was, less those given up unsent (each
        # took a slot, no SMS left); with no session running now, no more come: it is not
        # on goal, and the reason says why at once.
        # Within one send of the window's full count is on goal too: at a low cap, 95 %
        # is less than one send, and the limiter's spacing lets a window hold one fewer.
        sends = seen.grants - seen.given_up
        sent = sends / minutes
        near = sent >= GOAL_SHARE * cap or sends >= cap * minutes - 1
        # Halted (its cap 0): nothing is asked of it, and a goal of none is no goal met.
        on_goal = near and running.get(code, 0) > 0 and code not in cut and cap > 0
        capacity = outlook.capacity_per_minute if outlook else 0.0
        goal = CountryGoal(
            country=code,
            goal_per_minute=cap,
            achieved_per_minute=achieved,
            window_seconds=int(window.total_seconds()),
            on_goal=on_goal,
            reason=None,
            reason_kind=None,
            sessions_wanted=wanted.get(code, 0),
            sessions_running=running.get(code, 0),
            pairs_paused=[pair.key for pair in paused],
            in_flight_limit=outlook.in_flight_limit if outlook else 0,
            test_numbers=outlook.phones if outlook else 0,
            cycle_seconds=outlook.cycle_seconds if outlook else 0.0,
            capacity_per_minute=round(min(capacity, 1e6), 1),
            refused=seen.refused,
            given_up=seen.given_up,
            awaiting_code=seen.awaiting,
            cap_note=cap_notes.get(code) or None,
        )
        if cap == 0:
            # Nothing is granted: no cut's minute holds grants back, none may be in flight.
            halted = {"reason": halted_said(code), "reason_kind": ReasonKind.halted}
            goal = goal.model_copy(
                update={**halted, "cap_note": None, "in_flight_limit": 0, "capacity_per_minute": 0}
            )
        elif not on_goal:
            running_for = now - running_since.get(code, now - window)
            probing = [p.key for p in by_country[code] if p.state is PairState.probing]
            kind, reason = _reason(
                goal,
                seen,
                running_for if running_for < window else None,
                _paused_note(paused),
                sorted(probing),
                running_probes.get(code, 0),
                _failing_note(by_country[code], routes, seen, failing_line),
                _doubted_note(by_country[code], routes, failing_line),
                _resumed_note(resumed.get(code, {}).values(), now, window)
                or _restarted_note(restarted.get(code, []), now, window),
                _busy_pairs(by_country[code], routes),
                numberless.get(code, 0),
                runs_programs=any(pair.programs for pair in by_country[code]),
                cap_note=cap_notes.get(code, ""),
            )
            goal = goal.model_copy(update={"reason": reason, "reason_kind": kind})
        goals.append(goal)
    return goals


def _cap_note(country: Country, now: datetime, window: timedelta) -> str:
    """`its cap changed from 5 to 10 40 s ago: …`, while the count's window holds time at
    the previous cap, or the programs' way to the new one ("" otherwise). After a cut, the
    sends of the limiter's minute before it count against the lower cap: nothing may be
    granted until they age out, a gap the window holds a minute longer; after a raise, a
    program waiting for its turn asks again once its heartbeat shows the new cap."""
    changed, previous = country.cap_changed_at, country.previous_cap
    if changed is None or previous is None:
        return ""
    lowered = country.cap < previous
    age = now - changed
    if age >= window + LIMITER_WINDOW:
        return ""
    ago = max(0, int(age.total_seconds()))
    span = human_span(window)
    change = f"its cap changed from {previous} to {country.cap} {ago} s ago"
    if age >= window:
        gap = (
            "the minute after the cut, when the sends before it counted against the lower"
            " cap and may have held grants back"
            if lowered
            else "the time its waiting programs took to come back at the new pace"
        )
        return f"{change}: the last {span} still hold {gap}"
    cut = (
        ", and the sends of the minute before the cut count against the lower cap: those"
        " over it hold grants back until they age out, up to a minute after it"
        if lowered
        else ""
    )
    return (
        f"{change}, less than the {span} the count is made over: the count is partly at"
        f" the previous cap{cut}"
    )


def _cut_within(country: Country, now: datetime, window: timedelta) -> bool:
    """Its cap was lowered less than `window` ago."""
    changed, previous = country.cap_changed_at, country.previous_cap
    return (
        changed is not None
        and previous is not None
        and country.cap < previous
        and now - changed < window
    )


def _restarted_note(sessions: list[tuple[str, datetime]], now: datetime, window: timedelta) -> str:
    """`program1_TJ_megafon started 40 s ago: the last 2 min still hold the time before it
    ran` (a restart's time down, or a new session's before it):
    its sessions started within the window beside others that ran through it ("" when
    none; when all did, the country is starting up)."""
    if not sessions:
        return ""
    said = ", ".join(
        f"{name} started {max(0, int((now - started).total_seconds()))} s ago"
        for name, started in sorted(sessions)
    )
    it = "it" if len(sessions) == 1 else "they"
    return f"{said}: the last {human_span(window)} still hold the time before {it} ran"


def _resumed_note(pairs: Iterable[Pair], now: datetime, window: timedelta) -> str:
    """`UZ_uzmobile resumed 47 s ago after probing: the last 2 min still count its probes`:
    its pairs whose sessions ran on through a change to enabled within the window (from
    probing, the only state whose sessions run on), each with when and who ("" when none)."""
    span = human_span(window)
    notes = []
    for pair in sorted(pairs, key=lambda pair: pair.key):
        assert pair.state_changed_at is not None
        ago = max(0, int((now - pair.state_changed_at).total_seconds()))
        actor = pair.state_actor
        how = (
            "resumed"
            if actor is None or actor == POLICY_ACTOR
            else f"enabled by {named_actor(actor)}"
        )
        notes.append(f"{pair.key} {how} {ago} s ago after probing")
    if not notes:
        return ""
    its = "its probes" if len(notes) == 1 else "their probes"
    return f"{', '.join(notes)}: the last {span} still count {its}"


def _all_busy(awaiting: int, numbers: int) -> bool:
    """Whether test numbers are all awaiting a code: all of them, or all but one of three
    or more (a number freed this moment is leased again at the next ask)."""
    return numbers > 0 and awaiting >= numbers - (1 if numbers > 2 else 0)


@dataclass(frozen=True)
class _Busy:
    """A pair that runs sessions whose test numbers all await a code."""

    pair: str
    awaiting: int
    numbers: int
    stale: int


def _busy_pairs(pairs: list[Pair], routes: Mapping[str, Route]) -> list[_Busy]:
    """Its pairs that run sessions whose test numbers all await a code (`_all_busy`):
    the limiter serves a country's pairs equally, and such a pair's share goes unsent
    while its numbers wait, whatever numbers its other pairs have free. A paused pair's
    SMS still in flight are not among them (its sessions drain on purpose), nor a probed
    pair's (one probe at a time on purpose: `probing` says so)."""
    return [
        _Busy(pair.key, route.awaiting, len(pair.phone_numbers), route.stale)
        for pair in sorted(pairs, key=lambda pair: pair.key)
        if pair.state is PairState.enabled
        and (route := routes.get(pair.key)) is not None
        and _all_busy(route.awaiting, len(pair.phone_numbers))
    ]


def _paused_note(pairs: list[Pair]) -> str:
    """`2 paused (IN_docomo by the policy, IN_vi by alice)`: each paused pair and who
    paused it, so a shortfall is taken to whoever did ("" when none is)."""
    if not pairs:
        return ""

    def named(pair: Pair) -> str:
        actor = pair.state_actor
        if actor is None:
            return pair.key
        return f"{pair.key} by {named_actor(actor)}"

    return f"{len(pairs)} paused ({', '.join(map(named, pairs))})"


def _judged(
    pairs: list[Pair], routes: Mapping[str, Route], judge: Callable[[Route], str | None]
) -> list[tuple[Pair, Route, str]]:
    """Its running pairs of which `judge` says something of their route, with it."""
    return [
        (pair, route, said)
        for pair in sorted(pairs, key=lambda pair: pair.key)
        if pair.state.runs_sessions
        and (route := routes.get(pair.key)) is not None
        and (said := judge(route)) is not None
    ]


def _doubted_note(pairs: list[Pair], routes: Mapping[str, Route], line: FailingLine) -> str:
    """Its running pairs whose route may be failing, each with its figures ("" when
    none may be)."""
    return "; ".join(
        f"{pair.key}, {said}" for pair, _, said in _judged(pairs, routes, line.doubted)
    )


def _failing_note(
    pairs: list[Pair], routes: Mapping[str, Route], seen: Granted, line: FailingLine
) -> str:
    """Its running pairs whose route fails, each with its figures and the test numbers
    its SMS hold, when they hold at least half of those awaiting a code ("" otherwise:
    a healthy pair's busy numbers are the country's shortfall, not theirs)."""
    failing = _judged(pairs, routes, line.said)
    if not failing or 2 * sum(route.awaiting for _, route, _ in failing) < seen.awaiting:
        return ""
    return "; ".join(
        f"{pair.key}, {said}"
        + (
            f", its SMS awaiting a code holding {route.awaiting} of its"
            f" {len(pair.phone_numbers)} test numbers"
            if route.awaiting
            else ""
        )
        for pair, route, said in failing
    )


def _reason(
    goal: CountryGoal,
    seen: Granted,
    starting_for: timedelta | None,
    paused_note: str,
    probing: list[str],
    probing_sessions: int,
    failing_note: str,
    doubted_note: str,
    resumed_note: str = "",
    busy_pairs: list[_Busy] | None = None,
    numberless: int = 0,
    *,
    runs_programs: bool = True,
    cap_note: str = "",
) -> tuple[ReasonKind, str]:
    """The first thing that explains why the country is under its goal: its kind, and
    in words with the country's figures. `starting_for`: how long its sessions have run,
    when less than the window; `paused_note`: its paused pairs (`_paused_note`);
    `probing`: its pairs the policy probes at a low rate after a pause, whose sessions
    are `probing_sessions` of those running; `failing_note`: its failing pairs that hold
    most of its busy numbers (`_failing_note`); `doubted_note`: its pairs whose route may
    be failing, not confidently yet (`_doubted_note`); `resumed_note`: its pairs resumed
    from probing within the window, whose probes the count still covers (`_resumed_note`),
    or its sessions started within the window beside others (`_restarted_note`),
    taken as a start; `busy_pairs`: its pairs whose test numbers all await a code
    (`_busy_pairs`), named when the country's numbers are not all busy; `numberless`: its
    sessions wanted running that are held stopped, their pairs having no test number;
    `runs_programs`: whether any of its pairs has a program, so a session to start;
    `cap_note`: its cap's change within the window (`_cap_note`), taken as a start."""
    paused = f"; {paused_note}" if paused_note else ""
    no_numbers = (
        "no test numbers: its pairs whose sessions people want running have none, so those"
        f" sessions are held stopped and nothing is sent; add test numbers to them{paused}"
    )
    if goal.sessions_running == 0:
        if goal.sessions_wanted == 0:
            if numberless:  # held stopped until a number is added
                return ReasonKind.no_numbers, no_numbers
            if paused_note:  # their sessions' own wish may still be to run
                return (
                    ReasonKind.paused,
                    f"its sessions stop with their pairs: {paused_note}",
                )
            if not runs_programs:
                return (
                    ReasonKind.no_session,
                    "none of its pairs runs a program, so it has no session: nothing is sent"
                    " until a pair of it is given a program and its session is started",
                )
            return (
                ReasonKind.no_session,
                "no session is wanted running: nothing is sent until one of its sessions is"
                " started",
            )
        wanted = goal.sessions_wanted
        none_running = (
            "its session is not running"
            if wanted == 1
            else f"none of its {wanted} sessions is running"
        )
        return ReasonKind.sessions_down, f"{none_running}{paused}"
    if (
        seen.given_up
        and seen.grants * 60 / goal.window_seconds >= GOAL_SHARE * goal.goal_per_minute
    ):
        # Granted the cap, the country sent less: the slots given up are the shortfall.
        were = "was" if seen.given_up == 1 else "were"
        return ReasonKind.given_up, (
            f"{seen.given_up} of its {seen.grants} grants {were} given up unsent: their"
            " programs could not send within the cap's margin after asking (their machine, or"
            f" the control plane, answers too slowly){paused}"
        )
    if probing and goal.sessions_running == probing_sessions:
        # Every send it makes is a probe's, held to one per probe interval on purpose.
        return _probing(probing, paused)
    if failing_note:
        # Undelivered SMS hold their numbers and stretch the cycle: more numbers or
        # programs would fail the same way. So "add test numbers" below is said only when
        # failing pairs hold fewer than half of the busy numbers.
        return ReasonKind.failing, f"the route fails: {failing_note}{paused}"
    # Its sessions started less than the window ago: the count is not full yet, and the
    # cycle a capacity is reckoned on may not be measured yet.
    young = "" if starting_for is None else f"{max(0, int(starting_for.total_seconds()))} s"
    if goal.test_numbers == 0:
        # Its pairs' numbers removed as its sessions ran (they stop at the supervisor's next
        # look) or not counted yet: no pace to reckon with.
        return ReasonKind.no_numbers, no_numbers
    if goal.capacity_per_minute < GOAL_SHARE * goal.goal_per_minute:
        # Said first even when starting: too few numbers or sessions show at once.
        settling = f" (its sessions have run for {young}: the pace is still measured)"
        pace = (
            f"{goal.in_flight_limit} attempts at once, at {goal.cycle_seconds:g} s per SMS, "
            f"send at most {goal.capacity_per_minute:g}/min{settling if young else ''}"
        )
        if goal.in_flight_limit >= goal.test_numbers:
            return ReasonKind.numbers_busy, (
                f"{_doubted_first(doubted_note)}too few test numbers for the cap at this pace: "
                f"{goal.test_numbers} numbers, {pace}; {_more_numbers(seen, doubted_note)}{paused}"
            )
        if probing:
            # A probed pair sends one at a time on purpose: its share of the pace comes back
            # when it resumes, so adding programs or pairs is not what it needs.
            kind, said = _probing(probing, "")
            return kind, f"{said}; meanwhile its sessions: {pace}{paused}"
        return (
            ReasonKind.in_flight_limit,
            f"sessions busy at their in-flight limit: {pace}; add programs or pairs{paused}",
        )
    if young:
        # What follows may only be the first minutes' (a first burst takes every number).
        # Named before a cap's change, which the goal's `cap_note` says beside it.
        return ReasonKind.starting, (
            f"starting up: its sessions have run for {young}, less than the "
            f"{goal.window_seconds} s the count is made over{paused}"
        )
    if cap_note:
        # As a start: the count covers time at the previous cap (and, after a cut, the
        # limiter's minute of the sends before it).
        return ReasonKind.cap_changed, f"{cap_note}{paused}"
    busy_stale = sum(busy.stale for busy in busy_pairs or [])
    late_codes = seen.stale if _all_busy(seen.awaiting, goal.test_numbers) else busy_stale
    if resumed_note and not late_codes:
        # As a start: its sessions ran on, but at a probe's pace for part of the window.
        # Not when codes are late: numbers held by them keep it under, started or not.
        return ReasonKind.starting, f"{resumed_note}{paused}"
    if _all_busy(seen.awaiting, goal.test_numbers):
        if not seen.stale:
            # Every code awaited was asked for under a minute ago: the numbers wait as any
            # SMS in flight does, and its sessions' pace says they suffice. A route that
            # has just stopped delivering looks the same for its first minute; more numbers
            # would only wait too. Nothing to add before some code is late. A route whose
            # first SMS given up on already weigh on its figures may be failing: said.
            doubt = f"; {doubted_note}: it may be failing" if doubted_note else ""
            return ReasonKind.awaiting_codes, (
                f"test numbers busy: {seen.awaiting} of {goal.test_numbers} await a code,"
                f" sent under a minute ago: none is late yet{doubt}{paused}"
            )
        # Undelivered SMS hold their numbers until the gateway gives up on them.
        late = f", {seen.stale} for over a minute" if seen.stale else ""
        return ReasonKind.numbers_busy, (
            f"{_doubted_first(doubted_note)}test numbers busy: {seen.awaiting} of"
            f" {goal.test_numbers} await a code{late}; {_more_numbers(seen, doubted_note)}{paused}"
        )
    if busy_pairs:
        # The country's other pairs have numbers free, but a pair whose numbers all wait
        # cannot send its share: said with the pair's figures, then the country's.
        held = ", ".join(
            f"{busy.pair}'s {busy.awaiting} of {busy.numbers} await a code"
            + (f", {busy.stale} for over a minute" if busy.stale else "")
            for busy in busy_pairs
        )
        country = f" ({seen.awaiting} of the country's {goal.test_numbers})"
        if not busy_stale:
            doubt = f"; {doubted_note}: it may be failing" if doubted_note else ""
            return ReasonKind.awaiting_codes, (
                f"test numbers busy: {held}{country}, sent under a minute ago: none is late"
                f" yet{doubt}{paused}"
            )
        return ReasonKind.numbers_busy, (
            f"{_doubted_first(doubted_note)}test numbers busy: {held}{country};"
            f" {_more_numbers(Granted(stale=busy_stale), doubted_note)}{paused}"
        )
    if goal.sessions_running < goal.sessions_wanted:
        down = goal.sessions_wanted - goal.sessions_running
        return (
            ReasonKind.sessions_down,
            f"{down} of its {goal.sessions_wanted} sessions not running{paused}",
        )
    if seen.grants and seen.refused > REFUSAL_SHARE * seen.grants:
        return (
            ReasonKind.refused,
            f"providers refused {seen.refused} of {seen.grants} sends{paused}",
        )
    if probing:
        return _probing(probing, paused)
    if paused:
        return ReasonKind.paused, paused.removeprefix("; ")
    return ReasonKind.asked_fewer, (
        "its sessions asked for fewer sends than the cap allows (starting up, or waiting)"
    )


def _doubted_first(doubted_note: str) -> str:
    """The routes under the warning line, not confidently yet (`doubted_note`), said before
    a shortage of numbers: if they fail, more numbers would only wait the same way, so
    the route is what to look at first."""
    return f"the route may be failing: {doubted_note}; " if doubted_note else ""


def _more_numbers(seen: Granted, doubted_note: str = "") -> str:
    """The advice when the numbers are all busy: more of them, unless some code awaited
    is late. Then the route may have just broken, before its figures can show it (an
    undelivered SMS holds its number until the gateway gives up on it), and more numbers
    would only wait the same way; so too when a route is already under the warning line,
    not confidently yet (`doubted_note`, named before: `_doubted_first`), late codes or
    not."""
    if seen.stale:
        return "codes are late: add test numbers only if the route delivers"
    if doubted_note:  # none late this moment (those given up on just handed out again)
        return "add test numbers only if the route delivers"
    return "add test numbers"


def _probing(probing: list[str], paused: str) -> tuple[ReasonKind, str]:
    which = f"{probing[0]} is" if len(probing) == 1 else f"{', '.join(probing)} are"
    each = "" if len(probing) == 1 else "each "
    return ReasonKind.probing, (
        f"{which} probed after a pause by the policy: {each}at most one send per probe interval"
        f" until the success rate is back{paused}"
    )
