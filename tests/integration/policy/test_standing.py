"""A pair's standing says what the policy's next look does, and when that look is.

The service reads its own clock and is told when its loop looks next (here by hand): an
action not yet carried out is the next look's, every moment in its reason counts from that
look, so reads between two looks say the same; a state already in place reads as such.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.records import RecordStore
from smsfleet.core.sql import create_sql_engine
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.models import DecisionQuery, PolicyAction, StandingQuery
from smsfleet.policy.service import PolicyService
from tests.support.api import Api
from tests.support.fakes import FakeClock
from tests.support.interleaved import Interleaved
from tests.support.services import policy_service

PHONE = "+998901234567"
PAUSE_WORDS = (
    "5 of 30 delivered (17 %) in the last 30 min: below the 50 % pause line with 95 % confidence"
)


class Schedule:
    """When the loop looks next, as the test sets it; None: no loop looks."""

    def __init__(self) -> None:
        self.due: datetime | None = None

    def next_look(self) -> datetime | None:
        return self.due


@pytest.fixture
def metrics(api: Api) -> Iterator[Engine]:
    engine = create_sql_engine(api.settings.resolved_metrics_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock(api: Api) -> FakeClock:
    assert isinstance(api.clock, FakeClock)
    return api.clock


@pytest.fixture
def schedule() -> Schedule:
    return Schedule()


@pytest.fixture
def policy(api: Api, metrics: Engine, clock: FakeClock, schedule: Schedule) -> PolicyService:
    return policy_service(metrics, api.store, clock, next_look=schedule.next_look)


@pytest.fixture
def failing(api: Api, metrics: Engine, clock: FakeClock) -> str:
    """A pair that delivered 5 of its 30 sends: the policy's next look pauses it."""
    body = {"country": "UZ", "operator": "Uzmobile", "phone_numbers": [PHONE]}
    response = api.client.post("/api/v1/pairs", json=body, headers=api.headers())
    assert response.status_code == 201, response.text
    pair: str = response.json()["key"]
    clock.advance(300)
    now = clock.now()
    send(metrics, pair, [Outcome.delivered] * 5 + [Outcome.not_delivered] * 25, now)
    return pair


def send(metrics: Engine, pair: str, outcomes: list[Outcome], now: datetime) -> None:
    """`outcomes`, the first completed at `now`, each next 10 s before."""
    AttemptStore(metrics).add_many(
        [
            Attempt(
                id=f"{now.timestamp():.0f}{number:022x}",
                session=f"program1_{pair}",
                pair=pair,
                country="UZ",
                operator="Uzmobile",
                program="program1",
                phone=PHONE,
                leased_at=now - timedelta(seconds=10 * number + 5),
                completed_at=now - timedelta(seconds=10 * number),
                outcome=outcome,
            )
            for number, outcome in enumerate(outcomes)
        ]
    )


def test_a_pause_coming_names_the_next_look_and_reads_alike_until_then(
    policy: PolicyService, clock: FakeClock, schedule: Schedule, failing: str
) -> None:
    schedule.due = clock.now() + timedelta(seconds=25)  # 12:05:25
    [first] = policy.standing(StandingQuery(pair=failing))
    clock.advance(10)
    [second] = policy.standing(StandingQuery(pair=failing))
    assert first == second
    assert (first.action, first.state, first.next_look_at) == (
        PolicyAction.paused,
        PairState.enabled,
        schedule.due,
    )
    assert first.reason == (
        f"at its next look (12:05:25 UTC): {PAUSE_WORDS}; probed from 12:07:25 UTC,"
        " after a cool-down of 2 min"
    )


def test_a_pause_taken_reads_as_in_place(
    api: Api, policy: PolicyService, clock: FakeClock, schedule: Schedule, failing: str
) -> None:
    [decision] = policy.evaluate().decisions  # at 12:05:00
    assert decision.reason == (
        f"{failing} paused: {PAUSE_WORDS}; probed from 12:07:00 UTC, after a cool-down of 2 min"
    )
    pair = api.store.pairs.get(failing)
    assert pair is not None and pair.state is PairState.paused
    assert pair.state_reason is not None and "next look" not in pair.state_reason
    schedule.due = clock.now() + timedelta(seconds=30)
    clock.advance(5)
    [standing] = policy.standing(StandingQuery(pair=failing))
    assert (standing.action, standing.next_look_at) == (None, schedule.due)
    assert standing.reason == "in its cool-down of 2 min: probed from 12:07:00 UTC"


def test_a_cool_down_over_by_the_next_look_is_that_looks_to_end(
    policy: PolicyService, clock: FakeClock, schedule: Schedule, failing: str
) -> None:
    policy.evaluate()  # paused at 12:05:00, its cool-down over at 12:07:00
    clock.advance(115)
    schedule.due = clock.now() + timedelta(seconds=30)  # 12:07:25
    [standing] = policy.standing(StandingQuery(pair=failing))
    assert standing.action is PolicyAction.probing
    assert standing.reason.startswith("at its next look (12:07:25 UTC): cool-down of 2 min over:")


def test_a_look_due_is_now(
    policy: PolicyService, clock: FakeClock, schedule: Schedule, failing: str
) -> None:
    """A round under way (or late) is the next look: it is now, not in the past."""
    schedule.due = clock.now() - timedelta(seconds=1)
    [standing] = policy.standing(StandingQuery(pair=failing))
    assert standing.next_look_at == clock.now()
    assert standing.reason.startswith(f"at its next look (12:05:00 UTC): {PAUSE_WORDS};")


def test_without_a_loop_no_moment_is_named_that_would_move(
    policy: PolicyService, clock: FakeClock, failing: str
) -> None:
    [first] = policy.standing(StandingQuery(pair=failing))
    clock.advance(10)
    [second] = policy.standing(StandingQuery(pair=failing))
    assert first == second
    assert first.next_look_at is None
    assert first.reason == (f"at its next look: {PAUSE_WORDS}; probed after a cool-down of 2 min")


def test_an_evaluation_says_when_it_looks_again(
    api: Api, policy: PolicyService, clock: FakeClock, schedule: Schedule, failing: str
) -> None:
    body = {"country": "UZ", "operator": "Ucell", "phone_numbers": ["+998901234500"]}
    healthy = api.client.post("/api/v1/pairs", json=body, headers=api.headers()).json()["key"]
    # By hand between two rounds: the loop's next.
    schedule.due = clock.now() + timedelta(seconds=20)
    result = policy.evaluate()
    assert [d.pair for d in result.decisions] == [failing]
    assert [(s.pair, s.next_look_at) for s in result.unchanged] == [(healthy, schedule.due)]
    # The loop's own round, due now: its next is one interval on.
    schedule.due = clock.now()
    again = policy.evaluate().unchanged
    assert {s.next_look_at for s in again} == {clock.now() + timedelta(seconds=30)}


def test_a_pair_paused_again_on_its_probes_shows_the_probes_figures(
    metrics: Engine, policy: PolicyService, clock: FakeClock, schedule: Schedule, failing: str
) -> None:
    """The figures beside a policy's pause are those its reason states, not the window's,
    which mixes the sends before the pause with the probes after it."""
    policy.evaluate()  # paused at 12:05:00 on 5 of 30
    [first] = policy.standing(StandingQuery(pair=failing))
    assert (first.delivered, first.samples) == (5, 30)
    assert first.window == "what paused it at 12:05:00 UTC: last 30 min, at most 50 attempts"
    clock.advance(120)
    [probing] = policy.evaluate().decisions  # its cool-down over at 12:07:00
    assert probing.action is PolicyAction.probing
    # Taken on no figure: it records none, stored and served.
    [stored] = policy.decisions(DecisionQuery(pair=failing, action=PolicyAction.probing))
    assert stored == probing
    assert (stored.samples, stored.delivered, stored.success_ratio, stored.window) == (
        None,
        None,
        None,
        None,
    )
    clock.advance(300)
    send(metrics, failing, [Outcome.delivered] + [Outcome.not_delivered] * 9, clock.now())
    clock.advance(1)
    [again] = policy.evaluate().decisions  # at 12:12:01, on its 10 probes
    assert again.action is PolicyAction.paused
    assert "1 of 10 probes delivered (10 %)" in again.reason
    clock.advance(5)
    schedule.due = clock.now() + timedelta(seconds=25)
    [standing] = policy.standing(StandingQuery(pair=failing))
    assert standing.state is PairState.paused and standing.action is None
    assert standing.reason == "in its cool-down of 4 min: probed from 12:16:01 UTC"
    # Not the window's 6 of 40, sends and probes together.
    assert (standing.delivered, standing.samples, standing.success_ratio) == (1, 10, 0.1)
    assert (standing.lower_bound, standing.upper_bound) == (again.lower_bound, again.upper_bound)
    assert standing.window == (
        "what paused it at 12:12:01 UTC: its probes since it was probed, at most 50"
    )


class _ListedEarlier(Interleaved[Pair]):
    """The pairs as a reader listed them a moment ago, before a look changed them; each
    read by its key as it is now."""

    def __init__(self, store: RecordStore[Pair], listed: list[Pair]) -> None:
        super().__init__(store)
        self._listed = listed

    def list(self) -> list[Pair]:
        return list(self._listed)


def test_a_pair_paused_again_while_it_was_listed_reads_as_paused(
    api: Api,
    metrics: Engine,
    policy: PolicyService,
    clock: FakeClock,
    schedule: Schedule,
    failing: str,
) -> None:
    """A read listing the pairs just before a look paused a probing pair again, and its
    pauses just after: the pair is read again, not judged as probing with the new pause's
    cool-down (which would forecast twice that cool-down)."""
    policy.evaluate()  # paused at 12:05:00 for 2 min
    clock.advance(120)
    policy.evaluate()  # probed from 12:07:00
    clock.advance(300)
    send(metrics, failing, [Outcome.delivered] + [Outcome.not_delivered] * 9, clock.now())
    clock.advance(1)
    listed = api.store.pairs.list()  # probing, as the read listed it
    [again] = policy.evaluate().decisions  # paused again at 12:12:01 for 4 min
    assert again.action is PolicyAction.paused
    store = replace(api.store, pairs=_ListedEarlier(api.store.pairs, listed))
    reader = policy_service(metrics, store, clock, next_look=schedule.next_look)
    schedule.due = clock.now() + timedelta(seconds=25)
    [standing] = reader.standing(StandingQuery(pair=failing))
    assert standing.state is PairState.paused and standing.action is None
    assert standing.reason == "in its cool-down of 4 min: probed from 12:16:01 UTC"
