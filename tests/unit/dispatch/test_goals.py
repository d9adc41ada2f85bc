"""Each country's goal, what it is granted now, and the reason named when it falls short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsfleet.dispatch.goals import CountryGoal, Granted, ReasonKind, Route, country_goals
from smsfleet.dispatch.inflight import Outlook
from smsfleet.dispatch.limiter import LIMITER_WINDOW
from smsfleet.pairs.models import Country, Pair, PairState
from smsfleet.policy.stats import WindowStats
from smsfleet.sessions.models import DesiredState, SessionSpec, SessionState, SessionStatus

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
WINDOW = timedelta(minutes=2)


def _pair(
    key: str,
    *,
    state: PairState = PairState.enabled,
    phones: int = 4,
    actor: str | None = None,
    changed_at: datetime | None = None,
) -> Pair:
    country, slug = key.split("_", 1)
    return Pair(
        key=key,
        country=country,
        operator=slug,
        slug=slug,
        phone_numbers=[f"+99899123450{n}" for n in range(phones)],
        programs=["program1"],
        state=state,
        state_actor=actor,
        state_changed_at=changed_at,
        created_at=NOW,
        updated_at=NOW,
    )


def _spec(pair: str) -> SessionSpec:
    return SessionSpec(
        name=f"program1_{pair}",
        program="program1",
        pair=pair,
        desired=DesiredState.running,
        created_at=NOW,
    )


def _status(pair: str, state: SessionState) -> SessionStatus:
    return SessionStatus(name=f"program1_{pair}", state=state, updated_at=NOW)


def _goal(
    *,
    pairs: list[Pair],
    running: dict[str, SessionState],
    grants: int,
    refused: int = 0,
    given_up: int = 0,
    outlook: Outlook | None = None,
    cap: int = 10,
    cap_changed: tuple[int, datetime] | None = None,
) -> CountryGoal:
    country = pairs[0].country
    previous_cap, changed_at = cap_changed if cap_changed else (None, None)
    [goal] = country_goals(
        countries=[
            Country(
                code=country,
                name=country,
                cap=cap,
                previous_cap=previous_cap,
                cap_changed_at=changed_at,
            )
        ],
        pairs=pairs,
        specs=[_spec(pair.key) for pair in pairs],
        statuses={f"program1_{key}": _status(key, state) for key, state in running.items()},
        outlooks={country: outlook} if outlook else {},
        granted={country: Granted(grants=grants, refused=refused, given_up=given_up)},
        routes={},
        now=NOW,
        window=WINDOW,
    )
    return goal


def _outlook(in_flight: int, cycle: float, phones: int, country: str = "UZ") -> Outlook:
    return Outlook(
        country=country,
        cap=10,
        sessions=1,
        in_flight_limit=in_flight,
        cycle_seconds=cycle,
        phones=phones,
    )


def test_a_country_at_its_cap_is_on_goal() -> None:
    goal = _goal(
        pairs=[_pair("UZ_uzmobile")],
        running={"UZ_uzmobile": SessionState.running},
        grants=20,
        outlook=_outlook(4, 12.0, 4),
    )
    assert (goal.achieved_per_minute, goal.goal_per_minute, goal.on_goal) == (10.0, 10, True)
    assert goal.reason is None
    assert goal.reason_kind is None


def test_a_halted_country_says_so_whatever_its_count() -> None:
    """Its cap 0: a goal of none is no goal met, and no other reason is looked for, the
    sends of the minutes before the halt still counted or none."""
    running = {"UZ_uzmobile": SessionState.running}
    for grants, cap_changed in ((0, None), (12, (10, NOW - timedelta(seconds=30)))):
        goal = _goal(
            pairs=[_pair("UZ_uzmobile")],
            running=running,
            grants=grants,
            outlook=_outlook(4, 12.0, 4),
            cap=0,
            cap_changed=cap_changed,
        )
        assert (goal.goal_per_minute, goal.on_goal) == (0, False)
        assert goal.reason_kind is ReasonKind.halted
        assert goal.reason == (
            "country UZ is halted (its cap is 0): nothing is sent until an admin raises it"
        )
        # No cut's minute holds grants back: nothing is granted, none may be in flight.
        assert (goal.cap_note, goal.in_flight_limit, goal.capacity_per_minute) == (None, 0, 0)


def test_a_low_cap_one_send_short_of_its_window_is_on_goal() -> None:
    """At 5 a minute, 9 sends in 2 minutes (4.5/min, under 95 %) is the limiter's spacing
    leaving one out, not a shortfall; two short is one."""
    running = {"UZ_uzmobile": SessionState.running}
    enough = _outlook(4, 12.0, 4)
    one_short = _goal(
        pairs=[_pair("UZ_uzmobile")], running=running, grants=9, outlook=enough, cap=5
    )
    assert (one_short.achieved_per_minute, one_short.on_goal, one_short.reason) == (
        4.5,
        True,
        None,
    )
    two_short = _goal(
        pairs=[_pair("UZ_uzmobile")], running=running, grants=8, outlook=enough, cap=5
    )
    assert two_short.on_goal is False


def test_grants_given_up_unsent_are_no_sms_and_are_named_as_the_shortfall() -> None:
    """Granted its cap, a country whose programs gave grants up (too late to send within
    the cap's margin) sent less: it is under its goal by those, and says which."""

    def granted_the_cap(given_up: int, grants: int = 20) -> CountryGoal:
        return _goal(
            pairs=[_pair("UZ_uzmobile")],
            running={"UZ_uzmobile": SessionState.running},
            grants=grants,
            given_up=given_up,
            outlook=_outlook(4, 12.0, 4),
        )

    goal = granted_the_cap(3)
    assert (goal.achieved_per_minute, goal.given_up, goal.on_goal) == (10.0, 3, False)
    assert goal.reason_kind is ReasonKind.given_up
    assert goal.reason == (
        "3 of its 20 grants were given up unsent: their programs could not send within the"
        " cap's margin after asking (their machine, or the control plane, answers too slowly)"
    )
    # One given up in a full window still leaves it on goal.
    one = granted_the_cap(1)
    assert (one.achieved_per_minute, one.on_goal, one.reason) == (10.0, True, None)
    # Granted 95 % of the cap, one given up is said as one.
    short = granted_the_cap(1, grants=19)
    assert (short.reason_kind, short.reason.split(":")[0] if short.reason else None) == (
        ReasonKind.given_up,
        "1 of its 19 grants was given up unsent",
    )


def test_a_country_stopped_a_moment_ago_is_not_on_goal_though_its_window_was() -> None:
    goal = _goal(
        pairs=[_pair("UZ_uzmobile")],
        running={"UZ_uzmobile": SessionState.stopped},
        grants=20,
        outlook=_outlook(4, 12.0, 4),
    )
    assert (goal.achieved_per_minute, goal.on_goal) == (10.0, False)
    assert goal.reason_kind is ReasonKind.sessions_down


def test_no_running_session_and_the_paused_pairs_are_named() -> None:
    goal = _goal(
        pairs=[
            _pair("IN_docomo", state=PairState.paused, actor="policy"),
            _pair("IN_vi"),
            _pair("IN_jio"),
        ],
        running={"IN_vi": SessionState.backoff, "IN_jio": SessionState.fatal},
        grants=0,
    )
    assert not goal.on_goal
    # The paused pair's session is stopped on purpose: not one of those wanted running.
    assert goal.reason == "none of its 2 sessions is running; 1 paused (IN_docomo by the policy)"
    assert goal.reason_kind is ReasonKind.sessions_down
    alone = _goal(pairs=[_pair("UZ_uzmobile")], running={}, grants=0)
    assert (alone.reason_kind, alone.reason) == (
        ReasonKind.sessions_down,
        "its session is not running",
    )


def test_a_country_whose_pairs_are_all_paused_is_under_its_goal_for_the_pause() -> None:
    goal = _goal(
        pairs=[
            _pair("IN_docomo", state=PairState.paused, actor="policy"),
            _pair("IN_vi", state=PairState.paused, actor="alice"),
        ],
        running={"IN_docomo": SessionState.stopped, "IN_vi": SessionState.stopped},
        grants=0,
    )
    assert (goal.sessions_wanted, goal.sessions_running) == (0, 0)
    # Whoever paused each is named: a person's pause is not the policy's to explain.
    assert goal.reason == (
        "its sessions stop with their pairs: 2 paused (IN_docomo by the policy, IN_vi by alice)"
    )
    assert goal.reason_kind is ReasonKind.paused


def test_every_test_number_awaiting_a_code_is_named_with_the_figures() -> None:
    goal = _goal(
        pairs=[_pair("TJ_megafon", phones=2)],
        running={"TJ_megafon": SessionState.running},
        grants=7,
        outlook=_outlook(2, 30.0, 2, country="TJ"),
    )
    assert goal.achieved_per_minute == 3.5
    assert goal.capacity_per_minute == 4.0
    assert goal.reason == (
        "too few test numbers for the cap at this pace: 2 numbers, 2 attempts at once, "
        "at 30 s per SMS, send at most 4/min; add test numbers"
    )
    assert goal.reason_kind is ReasonKind.numbers_busy


def test_a_country_whose_running_pairs_have_no_test_number_is_told_so() -> None:
    """Not "0 numbers, 0 attempts at once, at 0 s per SMS": it sends nothing at all."""
    goal = _goal(
        pairs=[_pair("KZ_beeline", phones=0)],
        running={"KZ_beeline": SessionState.running},
        grants=0,
        outlook=_outlook(0, 0.0, 0, country="KZ"),
    )
    assert goal.reason == (
        "no test numbers: its pairs whose sessions people want running have none, so those"
        " sessions are held stopped and nothing is sent; add test numbers to them"
    )
    assert goal.reason_kind is ReasonKind.no_numbers


def test_a_country_whose_sessions_are_held_stopped_for_want_of_a_test_number_is_told_so() -> None:
    """Its sessions wanted running on a pair with no number are held stopped, not wanted
    running on a pair that runs them: not "its session is not running", as if it were down,
    nor "no session is wanted running"; and a paused pair of it is said too."""
    goal = _goal(
        pairs=[
            _pair("KZ_beeline", phones=0),
            _pair("KZ_kcell", state=PairState.paused, actor="olga"),
        ],
        running={"KZ_beeline": SessionState.stopped, "KZ_kcell": SessionState.stopped},
        grants=0,
    )
    assert (goal.sessions_wanted, goal.sessions_running) == (0, 0)
    assert goal.reason == (
        "no test numbers: its pairs whose sessions people want running have none, so those"
        " sessions are held stopped and nothing is sent; add test numbers to them; 1 paused"
        " (KZ_kcell by olga)"
    )
    assert goal.reason_kind is ReasonKind.no_numbers


def test_sessions_at_their_in_flight_limit_are_named() -> None:
    goal = _goal(
        pairs=[_pair("UZ_uzmobile", phones=20)],
        running={"UZ_uzmobile": SessionState.running},
        grants=8,
        outlook=_outlook(3, 30.0, 20),
    )
    assert goal.reason is not None
    assert goal.reason.startswith("sessions busy at their in-flight limit: 3 attempts at once")
    assert goal.reason_kind is ReasonKind.in_flight_limit


def test_provider_refusals_are_named_when_capacity_suffices() -> None:
    goal = _goal(
        pairs=[_pair("UZ_uzmobile")],
        running={"UZ_uzmobile": SessionState.running},
        grants=12,
        refused=6,
        outlook=_outlook(4, 6.0, 4),
    )
    assert goal.reason == "providers refused 6 of 12 sends"
    assert goal.reason_kind is ReasonKind.refused


def test_test_numbers_held_by_undelivered_sms_are_named() -> None:
    """Capacity on paper, but the numbers await codes the gateway has not given up on."""
    pairs = [_pair("FI_elisa", phones=6)]
    [goal] = country_goals(
        countries=[Country(code="FI", name="Finland", cap=10)],
        pairs=pairs,
        specs=[_spec("FI_elisa")],
        statuses={"program1_FI_elisa": _status("FI_elisa", SessionState.running)},
        outlooks={"FI": _outlook(5, 13.0, 6, country="FI")},
        granted={"FI": Granted(grants=17, awaiting=5, stale=3)},
        routes={},
        now=NOW,
        window=WINDOW,
    )
    assert goal.awaiting_code == 5
    # Codes awaited are late: more numbers would help only a route that delivers.
    assert goal.reason == (
        "test numbers busy: 5 of 6 await a code, 3 for over a minute; codes are late:"
        " add test numbers only if the route delivers"
    )
    assert goal.reason_kind is ReasonKind.numbers_busy


def test_numbers_awaiting_codes_none_late_yet_are_not_told_to_grow() -> None:
    """A route that has just stopped delivering holds every number for its first minute
    with no code late yet, as SMS in flight do; its pace says the numbers suffice, and
    more of them would only wait too. Once codes are late, numbers are advised if the
    route delivers."""
    pairs = [_pair("UZ_uzmobile", phones=3)]
    outlook = _outlook(3, 8.0, 3)
    waiting = _under(pairs, Granted(grants=17, awaiting=3), {}, outlook)
    assert waiting.reason == (
        "test numbers busy: 3 of 3 await a code, sent under a minute ago: none is late yet"
    )
    assert waiting.reason_kind is ReasonKind.awaiting_codes
    one_late = _under(pairs, Granted(grants=15, awaiting=3, stale=1), {}, outlook)
    assert (one_late.reason_kind, one_late.reason) == (
        ReasonKind.numbers_busy,
        "test numbers busy: 3 of 3 await a code, 1 for over a minute; codes are late: add"
        " test numbers only if the route delivers",
    )


def test_numbers_awaiting_codes_on_a_route_that_may_be_failing_say_so() -> None:
    """Minutes into an outage, the first SMS given up on free their numbers and the next
    ones are young again: none is late, but the route's figures have started to fall,
    not yet confidently. The reason names the route and its figures."""
    pairs = [_pair("UZ_uzmobile", phones=3)]
    outlook = _outlook(3, 8.0, 3)
    busy = Granted(grants=17, awaiting=3)
    falling = _under(pairs, busy, {"UZ_uzmobile": _route(14, 20, 3)}, outlook)
    assert (falling.reason_kind, falling.reason) == (
        ReasonKind.awaiting_codes,
        "test numbers busy: 3 of 3 await a code, sent under a minute ago: none is late yet;"
        " UZ_uzmobile, 14 of 20 delivered (70 %) in the last 30 min: it may be failing",
    )
    healthy = _under(pairs, busy, {"UZ_uzmobile": _route(19, 20, 3)}, outlook)
    assert healthy.reason == (
        "test numbers busy: 3 of 3 await a code, sent under a minute ago: none is late yet"
    )


def test_late_codes_on_a_route_under_the_warning_line_name_it_first() -> None:
    """Early in an outage (16 completed, fewer than the 20 a confident word needs), codes
    are late and the route's figures are under the warning line: the route is named with
    them before the numbers, whichever check finds the numbers short, and numbers are
    advised only after it, if the route delivers."""
    pairs = [_pair("UZ_uzmobile", phones=3)]
    late = Granted(grants=15, awaiting=3, stale=2)
    falling = {"UZ_uzmobile": _route(8, 16, 3)}
    doubt = "the route may be failing: UZ_uzmobile, 8 of 16 delivered (50 %) in the last 30 min; "
    advice = "codes are late: add test numbers only if the route delivers"
    all_busy = _under(pairs, late, falling, _outlook(3, 8.0, 3))
    assert (all_busy.reason_kind, all_busy.reason) == (
        ReasonKind.numbers_busy,
        f"{doubt}test numbers busy: 3 of 3 await a code, 2 for over a minute; {advice}",
    )
    too_few = _under(pairs, late, falling, _outlook(3, 120.0, 3))
    assert (too_few.reason_kind, too_few.reason) == (
        ReasonKind.numbers_busy,
        f"{doubt}too few test numbers for the cap at this pace: 3 numbers, 3 attempts at"
        f" once, at 120 s per SMS, send at most 1.5/min; {advice}",
    )
    # None late this moment (those given up on were just handed out again): named too.
    none_late = _under(pairs, Granted(grants=15, awaiting=2), falling, _outlook(3, 120.0, 3))
    assert none_late.reason == (
        f"{doubt}too few test numbers for the cap at this pace: 3 numbers, 3 attempts at"
        " once, at 120 s per SMS, send at most 1.5/min; add test numbers only if the route"
        " delivers"
    )


def test_the_rest_of_the_reasons_have_their_kinds() -> None:
    enough = _outlook(4, 6.0, 4)
    pairs = [_pair("UZ_uzmobile"), _pair("UZ_beeline")]

    def sessionless(pairs: list[Pair]) -> list[CountryGoal]:
        return country_goals(
            countries=[Country(code="UZ", name="Uzbekistan", cap=10)],
            pairs=pairs,
            specs=[],
            statuses={},
            outlooks={},
            granted={},
            routes={},
            now=NOW,
            window=WINDOW,
        )

    none_wanted = sessionless(pairs)
    assert [(g.reason_kind, g.reason) for g in none_wanted] == [
        (
            ReasonKind.no_session,
            "no session is wanted running: nothing is sent until one of its sessions is started",
        )
    ]
    # A pair saved with no program has no session to start: that is said instead.
    programless = sessionless([pair.model_copy(update={"programs": []}) for pair in pairs])
    assert [(g.reason_kind, g.reason) for g in programless] == [
        (
            ReasonKind.no_session,
            "none of its pairs runs a program, so it has no session: nothing is sent until a"
            " pair of it is given a program and its session is started",
        )
    ]
    one_down = _goal(
        pairs=pairs,
        running={"UZ_uzmobile": SessionState.running, "UZ_beeline": SessionState.backoff},
        grants=10,
        outlook=enough,
    )
    assert (one_down.reason_kind, one_down.reason) == (
        ReasonKind.sessions_down,
        "1 of its 2 sessions not running",
    )
    paused = _goal(
        pairs=[_pair("UZ_uzmobile"), _pair("UZ_beeline", state=PairState.paused, actor="bob")],
        running={"UZ_uzmobile": SessionState.running, "UZ_beeline": SessionState.running},
        grants=10,
        outlook=enough,
    )
    assert (paused.reason_kind, paused.reason) == (
        ReasonKind.paused,
        "1 paused (UZ_beeline by bob)",
    )
    # A pair the policy probes after a pause sends one SMS per probe interval: that is
    # why, not "its sessions asked for fewer".
    probing = _goal(
        pairs=[_pair("UZ_uzmobile", state=PairState.probing, actor="policy")],
        running={"UZ_uzmobile": SessionState.running},
        grants=2,
        outlook=enough,
    )
    assert (probing.reason_kind, probing.reason) == (
        ReasonKind.probing,
        "UZ_uzmobile is probed after a pause by the policy: at most one send per probe"
        " interval until the success rate is back",
    )
    # Beside a pair of the country's own, the probed pair's slot in the pace is one at a
    # time: the pace falls short, and adding programs or pairs is not the remedy.
    beside = _goal(
        pairs=[
            _pair("UZ_uzmobile", state=PairState.probing, actor="policy"),
            _pair("UZ_beeline"),
        ],
        running={"UZ_uzmobile": SessionState.running, "UZ_beeline": SessionState.running},
        grants=12,
        outlook=_outlook(4, 28.2, 8),
    )
    assert (beside.reason_kind, beside.reason) == (
        ReasonKind.probing,
        "UZ_uzmobile is probed after a pause by the policy: at most one send per probe"
        " interval until the success rate is back; meanwhile its sessions: 4 attempts"
        " at once, at 28.2 s per SMS, send at most 8.5/min",
    )
    idle = _goal(
        pairs=[_pair("UZ_uzmobile")],
        running={"UZ_uzmobile": SessionState.running},
        grants=10,
        outlook=enough,
    )
    assert idle.reason_kind is ReasonKind.asked_fewer


def test_every_kind_has_its_words() -> None:
    words = [kind.words for kind in ReasonKind]
    assert all(words) and len(set(words)) == len(words)


def test_a_country_whose_sessions_started_within_the_window_is_starting_up() -> None:
    """Its count covers less than the window: short of the goal for that alone, whatever
    else the first minutes look like (every number taken by the first burst of sends)."""
    pair = _pair("AZ_azercell", phones=4)
    young = _status("AZ_azercell", SessionState.running).model_copy(
        update={"started_at": NOW - timedelta(seconds=45)}
    )
    window_old = young.model_copy(update={"started_at": NOW - WINDOW})

    def goal(status: SessionStatus, outlook: Outlook | None = None) -> CountryGoal:
        [found] = country_goals(
            countries=[Country(code="AZ", name="Azerbaijan", cap=10)],
            pairs=[pair],
            specs=[_spec("AZ_azercell")],
            statuses={"program1_AZ_azercell": status},
            outlooks={"AZ": outlook or _outlook(4, 6.0, 4, country="AZ")},
            granted={"AZ": Granted(grants=8, awaiting=4)},
            routes={},
            now=NOW,
            window=WINDOW,
        )
        return found

    starting = goal(young)
    assert not starting.on_goal and starting.reason_kind is ReasonKind.starting
    assert starting.reason is not None and "45 s" in starting.reason
    # Past the window, its numbers await codes asked for under a minute ago: not late.
    assert goal(window_old).reason_kind is ReasonKind.awaiting_codes
    # Too few numbers show at once, said with the pace still being measured.
    few = _outlook(2, 30.0, 2, country="AZ")
    assert goal(young, few).reason == (
        "too few test numbers for the cap at this pace: 2 numbers, 2 attempts at once, "
        "at 30 s per SMS, send at most 4/min (its sessions have run for 45 s: the pace is "
        "still measured); add test numbers"
    )
    settled = goal(window_old, few).reason
    assert settled is not None and "still measured" not in settled


def _changed(grants: int, cap: int, previous: int, ago: timedelta) -> CountryGoal:
    """A country of one running pair with numbers enough, its cap changed `ago` from
    `previous` to `cap`, granted `grants` in the window."""
    return _goal(
        pairs=[_pair("UZ_uzmobile")],
        running={"UZ_uzmobile": SessionState.running},
        grants=grants,
        outlook=_outlook(4, 12.0, 4),
        cap=cap,
        cap_changed=(previous, NOW - ago),
    )


def test_a_cap_changed_within_the_window_is_named_not_a_want_of_asks() -> None:
    # Raised from 5 to 10 a minute ago: the window holds a minute at 5 a minute.
    raised = _changed(14, 10, 5, timedelta(seconds=60))
    assert (raised.on_goal, raised.reason_kind, raised.reason) == (
        False,
        ReasonKind.cap_changed,
        "its cap changed from 5 to 10 60 s ago, less than the 2 min the count is made over:"
        " the count is partly at the previous cap",
    )
    # Cut from 10 to 5: the sends before the cut hold the limiter for a minute.
    cut = _changed(8, 5, 10, timedelta(seconds=100))
    assert cut.reason_kind is ReasonKind.cap_changed
    assert cut.reason is not None
    assert cut.reason.endswith(
        "and the sends of the minute before the cut count against the lower cap: those over"
        " it hold grants back until they age out, up to a minute after it"
    )
    # A window after a raise, the count still holds the programs' way back to the new
    # pace (the turns told at the old one, up to the limiter's minute); then it is the new
    # cap's alone.
    coming_back = _changed(14, 10, 5, WINDOW)
    assert (coming_back.reason_kind, coming_back.reason) == (
        ReasonKind.cap_changed,
        "its cap changed from 5 to 10 120 s ago: the last 2 min still hold the time its"
        " waiting programs took to come back at the new pace",
    )
    settled = _changed(14, 10, 5, WINDOW + LIMITER_WINDOW)
    assert settled.reason_kind is ReasonKind.asked_fewer
    assert settled.cap_note is None


def test_sessions_started_within_the_window_are_named_before_a_cap_changed_in_it() -> None:
    """Both hold the count back; the start is the reason, the change its goal's note."""
    pair = _pair("AZ_azercell")
    [goal] = country_goals(
        countries=[
            Country(
                code="AZ",
                name="Azerbaijan",
                cap=10,
                previous_cap=60,
                cap_changed_at=NOW - timedelta(seconds=25),
            )
        ],
        pairs=[pair],
        specs=[_spec(pair.key)],
        statuses={
            f"program1_{pair.key}": _status(pair.key, SessionState.running).model_copy(
                update={"started_at": NOW - timedelta(seconds=75)}
            )
        },
        outlooks={"AZ": _outlook(4, 12.0, 4, country="AZ")},
        granted={"AZ": Granted(grants=10)},
        routes={},
        now=NOW,
        window=WINDOW,
    )
    assert goal.reason_kind is ReasonKind.starting
    assert goal.reason is not None and goal.reason.startswith(
        "starting up: its sessions have run for 75 s"
    )
    assert goal.cap_note is not None and goal.cap_note.startswith(
        "its cap changed from 60 to 10 25 s ago"
    )


def test_a_country_whose_cap_was_cut_within_the_window_is_not_judged_on_its_count() -> None:
    """After a cut the window still holds the sends at the higher cap: the count stands
    over the new cap while grants are held back. Not on goal, the reason says why; a
    window on, the gap the cut made still counts for the limiter's minute."""

    def cut(grants: int, ago: timedelta) -> CountryGoal:
        return _changed(grants, 5, 10, ago)

    at_once = cut(19, timedelta(seconds=20))
    assert (at_once.on_goal, at_once.reason_kind, at_once.achieved_per_minute) == (
        False,
        ReasonKind.cap_changed,
        9.5,
    )
    assert (
        at_once.reason
        == at_once.cap_note
        == (
            "its cap changed from 10 to 5 20 s ago, less than the 2 min the count is made over:"
            " the count is partly at the previous cap, and the sends of the minute before the"
            " cut count against the lower cap: those over it hold grants back until they age"
            " out, up to a minute after it"
        )
    )
    later = cut(7, WINDOW + timedelta(seconds=10))
    assert (later.on_goal, later.reason_kind, later.reason) == (
        False,
        ReasonKind.cap_changed,
        "its cap changed from 10 to 5 130 s ago: the last 2 min still hold the minute after"
        " the cut, when the sends before it counted against the lower cap and may have held"
        " grants back",
    )
    # At the new cap again, judged on its count: on goal, the change still noted.
    full = cut(10, WINDOW + timedelta(seconds=10))
    assert (full.on_goal, full.reason, full.cap_note) == (True, None, later.reason)
    assert cut(7, WINDOW + LIMITER_WINDOW).reason_kind is ReasonKind.asked_fewer


def test_a_pair_resumed_from_probing_within_the_window_is_taken_as_a_start() -> None:
    """Its sessions ran on through the resume, so they are no start; but the count still
    covers its probes, one send per probe interval: not "asked for fewer"."""
    started = NOW - timedelta(minutes=20)  # for the probing, after the pause
    resumed_at = NOW - timedelta(seconds=47)

    def goal(pairs: list[Pair], started_at: datetime = started) -> CountryGoal:
        [found] = country_goals(
            countries=[Country(code="UZ", name="Uzbekistan", cap=10)],
            pairs=pairs,
            specs=[_spec(pair.key) for pair in pairs],
            statuses={
                f"program1_{pair.key}": _status(pair.key, SessionState.running).model_copy(
                    update={"started_at": started_at}
                )
                for pair in pairs
            },
            outlooks={"UZ": _outlook(8, 6.0, 8)},
            granted={"UZ": Granted(grants=11)},
            routes={},
            now=NOW,
            window=WINDOW,
        )
        return found

    by_policy = _pair("UZ_uzmobile", actor="policy", changed_at=resumed_at)
    resumed = goal([by_policy])
    assert resumed.achieved_per_minute == 5.5
    assert (resumed.reason_kind, resumed.reason) == (
        ReasonKind.starting,
        "UZ_uzmobile resumed 47 s ago after probing: the last 2 min still count its probes",
    )
    by_alice = _pair("UZ_beeline", actor="alice", changed_at=NOW - timedelta(seconds=90))
    assert goal([by_alice, by_policy]).reason == (
        "UZ_beeline enabled by alice 90 s ago after probing, UZ_uzmobile resumed 47 s ago"
        " after probing: the last 2 min still count their probes"
    )
    # Resumed a window ago: the count is its own again.
    settled = by_policy.model_copy(update={"state_changed_at": NOW - WINDOW})
    assert goal([settled]).reason_kind is ReasonKind.asked_fewer
    # Its sessions started after the change (enabled from a pause): a start, said as one.
    restarted = goal([by_policy], started_at=NOW - timedelta(seconds=30))
    assert restarted.reason is not None and restarted.reason.startswith(
        "starting up: its sessions have run for 30 s"
    )


def _under(
    pairs: list[Pair], granted: Granted, routes: dict[str, Route], outlook: Outlook
) -> CountryGoal:
    """UZ's goal with every pair's session running."""
    [found] = country_goals(
        countries=[Country(code="UZ", name="Uzbekistan", cap=10)],
        pairs=pairs,
        specs=[_spec(pair.key) for pair in pairs],
        statuses={
            f"program1_{pair.key}": _status(pair.key, SessionState.running) for pair in pairs
        },
        outlooks={"UZ": outlook},
        granted={"UZ": granted},
        routes=routes,
        now=NOW,
        window=WINDOW,
    )
    return found


def _route(delivered: int, samples: int, awaiting: int) -> Route:
    return Route(stats=WindowStats(samples=samples, delivered=delivered), awaiting=awaiting)


def test_a_failing_route_is_named_with_its_figures_before_the_numbers_its_sms_hold() -> None:
    """Undelivered SMS hold their test numbers until the gateway gives up (and stretch the
    cycle the capacity is reckoned from): "add test numbers" would fail the same way. The
    pair at fault is named with its own figures, whatever the numbers busy this moment."""
    pairs = [_pair("UZ_uzmobile", phones=6)]
    reason = (
        "the route fails: UZ_uzmobile, 30 of the newest 50 delivered (60 %) in the last 30 min:"
        " below the 80 % warning line with 95 % confidence, its SMS awaiting a code holding"
        " {held} of its 6 test numbers"
    )
    # Long cycles (timeouts) and every number held, or a moment when few are: the route.
    for outlook, held in (
        (_outlook(6, 115.0, 6), 6),
        (_outlook(6, 13.0, 6), 6),
        (_outlook(6, 13.0, 6), 1),
    ):
        found = _under(
            pairs,
            Granted(grants=6, awaiting=held),
            {"UZ_uzmobile": _route(30, 50, held)},
            outlook,
        )
        assert (found.reason_kind, found.reason) == (
            ReasonKind.failing,
            reason.format(held=held),
        )


def test_a_route_that_just_broke_is_named_on_its_newest_attempts() -> None:
    """Read as the policy and the alerts read it: its window of 50 still says nothing,
    its newest 20 say it fails, so its busy numbers are the route's, not a shortfall."""
    pairs = [_pair("UZ_uzmobile", phones=6)]
    broke = Route(stats=WindowStats(50, 38), awaiting=6, newest=WindowStats(20, 8))
    found = _under(
        pairs, Granted(grants=9, awaiting=6, stale=1), {"UZ_uzmobile": broke}, _outlook(6, 13.0, 6)
    )
    assert found.reason_kind is ReasonKind.failing
    assert found.reason == (
        "the route fails: UZ_uzmobile, 8 of the newest 20 delivered (40 %) in the last 30 min:"
        " below the 80 % warning line with 95 % confidence, its SMS awaiting a code holding"
        " 6 of its 6 test numbers"
    )
    whole_only = Route(stats=WindowStats(50, 38), awaiting=6)
    unsaid = _under(
        pairs,
        Granted(grants=9, awaiting=6, stale=1),
        {"UZ_uzmobile": whole_only},
        _outlook(6, 13.0, 6),
    )
    assert unsaid.reason_kind is ReasonKind.numbers_busy


def test_a_route_is_failing_on_evidence_not_on_a_count() -> None:
    """A route at 92 % with a few undelivered, or one too thin to tell, is not failing:
    its busy numbers are the reason, as for any route. Nor is one under the line with
    fewer completed attempts than the policy and the alerts need (20), however sure its
    interval: neither pauses nor alerts on it yet."""
    pairs = [_pair("UZ_uzmobile", phones=6)]
    busy = Granted(grants=17, awaiting=5, stale=3)
    # Those under the line are named as routes that may be failing, no more.
    for route, doubt in (
        (_route(46, 50, 5), ""),
        (_route(15, 19, 5), "UZ_uzmobile, 15 of 19 delivered (79 %) in the last 30 min"),
        (_route(2, 4, 5), "UZ_uzmobile, 2 of 4 delivered (50 %) in the last 30 min"),
        (_route(3, 9, 5), "UZ_uzmobile, 3 of 9 delivered (33 %) in the last 30 min"),
    ):
        found = _under(pairs, busy, {"UZ_uzmobile": route}, _outlook(5, 13.0, 6))
        assert (found.reason_kind, found.reason) == (
            ReasonKind.numbers_busy,
            (f"the route may be failing: {doubt}; " if doubt else "")
            + "test numbers busy: 5 of 6 await a code, 3 for over a minute; codes are late:"
            " add test numbers only if the route delivers",
        )


def test_test_numbers_are_added_only_where_a_failing_pair_holds_fewer_than_half() -> None:
    """A healthy pair short of numbers (some held over a minute) beside a failing one that
    holds few: add numbers, if the route delivers (a late code may be a route that has
    just broken). When the failing pair holds most of them, numbers would not help: the
    route is named."""
    pairs = [_pair("UZ_beeline", phones=4), _pair("UZ_uzmobile", phones=4)]
    outlook = _outlook(8, 13.0, 8)

    def goal(failing_holds: int) -> CountryGoal:
        return _under(
            pairs,
            Granted(grants=14, awaiting=7, stale=2),
            {
                "UZ_beeline": _route(48, 50, 7 - failing_holds),
                "UZ_uzmobile": _route(25, 50, failing_holds),
            },
            outlook,
        )

    few = goal(failing_holds=2)
    assert (few.reason_kind, few.reason) == (
        ReasonKind.numbers_busy,
        "the route may be failing: UZ_uzmobile, 25 of the newest 50 delivered (50 %) in the"
        " last 30 min; test numbers busy: 7 of 8 await a code, 2 for over a minute; codes are"
        " late: add test numbers only if the route delivers",
    )
    most = goal(failing_holds=4)
    # Two pairs failing: each named, with its own figures.
    both = _under(
        pairs,
        Granted(grants=14, awaiting=7),
        {"UZ_beeline": _route(30, 50, 3), "UZ_uzmobile": _route(25, 50, 4)},
        outlook,
    )
    assert both.reason is not None and both.reason.startswith(
        "the route fails: UZ_beeline, 30 of the newest 50 delivered (60 %)"
    )
    assert "; UZ_uzmobile, 25 of the newest 50 delivered (50 %)" in both.reason
    assert most.reason_kind is ReasonKind.failing
    assert most.reason == (
        "the route fails: UZ_uzmobile, 25 of the newest 50 delivered (50 %) in the last 30 min:"
        " below the 80 % warning line with 95 % confidence, its SMS awaiting a code holding"
        " 4 of its 4 test numbers"
    )


def test_a_country_that_only_probes_says_so_whatever_its_capacity() -> None:
    """A probe is at most one send per probe interval on purpose; its long cycles (a route that
    failed) are no reason to add test numbers."""
    goal = _goal(
        pairs=[_pair("UZ_uzmobile", state=PairState.probing, actor="policy")],
        running={"UZ_uzmobile": SessionState.running},
        grants=1,
        outlook=_outlook(4, 115.0, 4),
    )
    assert goal.awaiting_code == 0
    assert goal.reason_kind is ReasonKind.probing
    # Beside a pair that sends in full, its capacity speaks first.
    both = _goal(
        pairs=[_pair("UZ_uzmobile", state=PairState.probing, actor="policy"), _pair("UZ_beeline")],
        running={"UZ_uzmobile": SessionState.running, "UZ_beeline": SessionState.running},
        grants=3,
        outlook=_outlook(4, 115.0, 4),
    )
    assert both.reason_kind is ReasonKind.numbers_busy


def test_a_pair_whose_numbers_all_await_codes_is_named_beside_one_with_numbers_free() -> None:
    """UZ_uzmobile's route stopped delivering: its 6 numbers all await codes, most over a
    minute (the gateway gives an SMS up after 120 s), while UZ_beeline's 4 are mostly free.
    The country's 7 of 10 are not all busy, but the pair holds the country back: named,
    not "its sessions asked for fewer sends"."""
    pairs = [_pair("UZ_uzmobile", phones=6), _pair("UZ_beeline", phones=4)]
    outlook = _outlook(9, 30.0, 10)  # its pace says it can send 18 a minute

    def goal(uzmobile_stale: int, uzmobile: int = 6) -> CountryGoal:
        return _under(
            pairs,
            Granted(grants=14, awaiting=uzmobile + 1, stale=uzmobile_stale),
            {
                "UZ_uzmobile": Route(
                    stats=WindowStats(40, 39), awaiting=uzmobile, stale=uzmobile_stale
                ),
                "UZ_beeline": Route(stats=WindowStats(40, 39), awaiting=1),
            },
            outlook,
        )

    late = goal(uzmobile_stale=5)
    assert (late.awaiting_code, late.test_numbers) == (7, 10)
    assert (late.reason_kind, late.reason) == (
        ReasonKind.numbers_busy,
        "test numbers busy: UZ_uzmobile's 6 of 6 await a code, 5 for over a minute (7 of the"
        " country's 10); codes are late: add test numbers only if the route delivers",
    )
    young = goal(uzmobile_stale=0)
    assert (young.reason_kind, young.reason) == (
        ReasonKind.awaiting_codes,
        "test numbers busy: UZ_uzmobile's 6 of 6 await a code (7 of the country's 10), sent"
        " under a minute ago: none is late yet",
    )
    # Two of its numbers free: the pair sends, and the reason is not its numbers.
    free = goal(uzmobile_stale=0, uzmobile=4)
    assert free.reason_kind is ReasonKind.asked_fewer


def test_a_paused_pairs_numbers_awaiting_codes_are_not_a_running_pairs() -> None:
    """A pair the policy paused drains: its SMS in flight finish, holding its own numbers,
    which the country's test numbers no longer count. Its busy numbers are no reason."""
    pairs = [
        _pair("UZ_uzmobile", phones=6, state=PairState.paused, actor="policy"),
        _pair("UZ_beeline", phones=4),
    ]
    found = _under(
        pairs,
        Granted(grants=14, awaiting=1),
        {
            "UZ_uzmobile": Route(stats=WindowStats(40, 10), awaiting=6, stale=6),
            "UZ_beeline": Route(stats=WindowStats(40, 39), awaiting=1),
        },
        _outlook(3, 8.0, 4),
    )
    assert (found.reason_kind, found.reason) == (
        ReasonKind.paused,
        "1 paused (UZ_uzmobile by the policy)",
    )


def test_the_kind_in_words_advises_nothing_its_reasons_may_contradict() -> None:
    """The kind in words is a bounded label (Prometheus, the alert it fires): a reason of
    the kind that doubts its route says to add test numbers only if the route delivers,
    so the label must not say plainly to add some."""
    pairs = [_pair("UZ_uzmobile", phones=6)]
    doubted = _under(
        pairs,
        Granted(grants=17, awaiting=5, stale=3),
        {"UZ_uzmobile": _route(3, 9, 5)},
        _outlook(5, 13.0, 6),
    )
    assert doubted.reason_kind is ReasonKind.numbers_busy
    assert "add test numbers only if the route delivers" in (doubted.reason or "")
    assert "add test numbers" not in doubted.reason_kind.words
    assert "may be failing" in doubted.reason_kind.words


def test_a_session_started_within_the_window_beside_others_is_taken_as_a_start() -> None:
    """One of its sessions restarted 40 s ago (a hang, a crash): the count still holds its
    time down, not sessions asking for fewer; unless codes are late, which hold numbers
    whatever started."""
    started = {
        "UZ_uzmobile": NOW - timedelta(minutes=20),
        "UZ_beeline": NOW - timedelta(seconds=40),
    }
    pairs = [_pair(key) for key in started]

    def goal_with(granted: Granted) -> CountryGoal:
        [goal] = country_goals(
            countries=[Country(code="UZ", name="Uzbekistan", cap=10)],
            pairs=pairs,
            specs=[_spec(key) for key in started],
            statuses={
                f"program1_{key}": _status(key, SessionState.running).model_copy(
                    update={"started_at": at}
                )
                for key, at in started.items()
            },
            outlooks={"UZ": _outlook(8, 6.0, 8)},
            granted={"UZ": granted},
            routes={},
            now=NOW,
            window=WINDOW,
        )
        return goal

    goal = goal_with(Granted(grants=16))
    assert (goal.on_goal, goal.reason_kind, goal.reason) == (
        False,
        ReasonKind.starting,
        "program1_UZ_beeline started 40 s ago: the last 2 min still hold the time before it ran",
    )
    held = goal_with(Granted(grants=16, awaiting=8, stale=5))
    assert held.reason_kind is ReasonKind.numbers_busy
    assert (held.reason or "").startswith("test numbers busy: 8 of 8 await a code, 5 for over")
