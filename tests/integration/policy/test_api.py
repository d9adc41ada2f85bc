"""`/api/v1/policy/*`: evaluate now, the decisions with their figures, the settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.auth.models import Role
from smsfleet.core.clock import human_time
from smsfleet.core.sql import create_sql_engine
from smsfleet.pairs.models import PairState
from smsfleet.policy.models import StandingQuery
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock
from tests.support.live import live_socket
from tests.support.services import policy_service

PHONE = "+998901234567"


@pytest.fixture
def metrics(api: Api) -> Iterator[Engine]:
    engine = create_sql_engine(api.settings.resolved_metrics_url)
    yield engine
    engine.dispose()


def add_pair(api: Api, operator: str, *, high_priority: bool = False) -> str:
    # A test number of its own: a number belongs to one pair.
    number = f"{PHONE[:-2]}{len(api.store.pairs.list()):02d}"
    body = {
        "country": "UZ",
        "operator": operator,
        "phone_numbers": [number],
        "is_high_priority": high_priority,
    }
    response = api.client.post("/api/v1/pairs", json=body, headers=api.headers())
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def feed(api: Api, engine: Engine, pair: str, *, delivered: int, failed: int) -> None:
    """Completed attempts of the last minutes, as the dispatcher stores them."""
    now = api.clock.now()
    outcomes = [Outcome.delivered] * delivered + [Outcome.not_delivered] * failed
    AttemptStore(engine).add_many(
        [
            Attempt(
                id=f"{pair}{number}".encode().hex()[:32].ljust(32, "0"),
                session=f"program1_{pair}",
                pair=pair,
                country=pair[:2],
                operator=pair[3:],
                program="program1",
                phone=PHONE,
                leased_at=now - timedelta(seconds=10 * number + 5),
                completed_at=now - timedelta(seconds=10 * number),
                outcome=outcome,
            )
            for number, outcome in enumerate(outcomes)
        ]
    )


def test_evaluate_pauses_holds_and_the_decisions_carry_their_figures(
    api: Api, metrics: Engine
) -> None:
    normal = add_pair(api, "Uzmobile")
    priority = add_pair(api, "Beeline", high_priority=True)
    healthy = add_pair(api, "Ucell")
    clock = api.clock
    assert isinstance(clock, FakeClock)
    clock.advance(300)  # the pairs have been sending for a while
    feed(api, metrics, normal, delivered=5, failed=25)
    feed(api, metrics, priority, delivered=5, failed=25)
    feed(api, metrics, healthy, delivered=30, failed=0)
    clock.advance(1)  # the decisions come after the attempts

    token = api.token(Role.viewer)
    with live_socket(api.client, token) as socket:
        evaluated = api.client.post("/api/v1/policy/evaluate", headers=api.headers(Role.operator))
        assert evaluated.status_code == 200, evaluated.text
        result = evaluated.json()
        assert result["evaluated"] == 3
        actions = {d["pair"]: d["action"] for d in result["decisions"]}
        assert actions == {normal: "paused", priority: "held"}
        # Each decision, and the alert it opens.
        messages = [socket.receive_json() for _ in range(4)]
    published = [m for m in messages if m["topic"] == "policy"]
    assert {m["data"]["pair"]: m["data"]["action"] for m in published} == actions
    alerted = [m["data"] for m in messages if m["topic"] == "alerts"]
    assert {(a["subject"], a["rule"]) for a in alerted} == {
        (normal, "pair_paused"),
        (priority, "priority_pair_failing"),
    }

    pairs = {p["key"]: p for p in api.client.get("/api/v1/pairs", headers=api.headers()).json()}
    assert (pairs[normal]["state"], pairs[normal]["state_actor"]) == ("paused", "policy")
    probed_from = human_time(clock.now() + timedelta(minutes=2), now=clock.now())
    assert pairs[normal]["state_reason"] == (
        "paused by the policy: 5 of 30 delivered (17 %) in the last 30 min: "
        f"below the 50 % pause line with 95 % confidence; probed from {probed_from}, "
        "after a cool-down of 2 min"
    )
    assert pairs[priority]["state"] == "enabled"
    assert pairs[healthy]["state"] == "enabled"

    listed = api.client.get(
        "/api/v1/policy/decisions", params={"pair": normal}, headers=api.headers(Role.viewer)
    )
    assert listed.status_code == 200
    [paused] = listed.json()
    assert paused["action"] == "paused"
    assert (paused["samples"], paused["delivered"]) == (30, 5)
    assert paused["success_ratio"] == pytest.approx(5 / 30)
    assert 0 < paused["lower_bound"] < paused["success_ratio"] < paused["upper_bound"] < 0.5
    # Paused on the upper bound: the whole interval is under the pause line.
    assert paused["decided_on"] == "upper_bound"
    assert (paused["pause_threshold"], paused["resume_threshold"]) == (0.5, 0.7)
    assert paused["window"] == "last 30 min, at most 50 attempts"
    assert paused["cooldown_seconds"] == 120.0
    evidence = pairs[normal]["state_reason"].removeprefix("paused by the policy: ")
    assert paused["reason"] == f"{normal} paused: {evidence}"
    assert paused["country"] == "UZ"

    def decisions(**params: str) -> list[str]:
        response = api.client.get(
            "/api/v1/policy/decisions", params=params, headers=api.headers(Role.viewer)
        )
        assert response.status_code == 200, response.text
        return [d["action"] for d in response.json()]

    assert sorted(decisions()) == ["held", "paused"]
    assert decisions(action="held") == ["held"]
    assert sorted(decisions(country="uz")) == ["held", "paused"]
    assert decisions(country="KZ") == []
    assert decisions(limit="1") in (["held"], ["paused"])
    later = (api.clock.now() + timedelta(seconds=1)).isoformat()
    assert decisions(since=later) == []
    # Nothing new to decide on a second round (a second on: one sooner answers the first).
    clock.advance(1.5)
    again = api.client.post("/api/v1/policy/evaluate", headers=api.headers(Role.operator))
    assert again.json()["decisions"] == []


def test_standing_says_what_the_next_look_does_or_why_not(api: Api, metrics: Engine) -> None:
    failing = add_pair(api, "Uzmobile")
    healthy = add_pair(api, "Ucell")
    thin = add_pair(api, "Beeline")
    clock = api.clock
    assert isinstance(clock, FakeClock)
    created = clock.now()
    clock.advance(300)
    feed(api, metrics, failing, delivered=5, failed=25)
    feed(api, metrics, healthy, delivered=30, failed=0)
    feed(api, metrics, thin, delivered=2, failed=3)
    clock.advance(1)

    def standing(**params: str) -> dict[str, dict[str, object]]:
        response = api.client.get(
            "/api/v1/policy/standing", params=params, headers=api.headers(Role.viewer)
        )
        assert response.status_code == 200, response.text
        return {s["pair"]: s for s in response.json()}

    healthy_words = "30 of 30 delivered (100 %) in the last 30 min: over the 50 % pause line"
    # A new pair's window starts when it was created.
    thin_words = (
        f"5 completed attempts since it was created at {human_time(created, now=created)}:"
        " a decision needs 20"
    )
    # The loop's first round (30 s after the start) is due on this clock, which ran ahead of
    # it: the next look is now, and the pause waits for it.
    looks_at = human_time(clock.now(), now=clock.now())
    probed_from = human_time(clock.now() + timedelta(minutes=2), now=clock.now())
    before = standing()
    assert {key: (s["action"], s["reason"]) for key, s in before.items()} == {
        failing: (
            "paused",
            f"at its next look ({looks_at}): 5 of 30 delivered (17 %) in the last 30 min:"
            " below the 50 % pause line with 95 %"
            f" confidence; probed from {probed_from}, after a cool-down of 2 min",
        ),
        healthy: (None, healthy_words),
        thin: (None, thin_words),
    }
    assert (before[failing]["samples"], before[failing]["delivered"]) == (30, 5)
    assert before[failing]["state"] == "enabled"
    assert _moment(before[failing]["next_look_at"]) == clock.now()
    # Only read: nothing was carried out.
    assert api.client.get(f"/api/v1/pairs/{failing}", headers=api.headers()).json()["state"] == (
        "enabled"
    )
    assert list(standing(pair=healthy)) == [healthy]
    assert standing(country="uz").keys() == before.keys()
    assert standing(country="KZ") == {}
    # A pair asked for by name that does not exist is not an empty answer.
    unknown = api.client.get(
        "/api/v1/policy/standing", params={"pair": "UZ_nope"}, headers=api.headers()
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "pair 'UZ_nope' does not exist"

    result = api.client.post("/api/v1/policy/evaluate", headers=api.headers(Role.operator)).json()
    assert [d["pair"] for d in result["decisions"]] == [failing]
    # The pairs it left alone, each with why: the answer to "why not this one?".
    assert {s["pair"]: s["reason"] for s in result["unchanged"]} == {
        healthy: healthy_words,
        thin: thin_words,
    }
    # A send in flight at the pause ends after it: the paused pair's figures are still
    # those it was paused on, not "1 of 1 delivered" nor the window's 6 of 31.
    clock.advance(5)
    AttemptStore(metrics).add_many(
        [
            Attempt(
                id="ab" * 16,
                session=f"program1_{failing}",
                pair=failing,
                country="UZ",
                operator=failing[3:],
                program="program1",
                phone=PHONE,
                leased_at=clock.now() - timedelta(seconds=20),
                completed_at=clock.now(),
                outcome=Outcome.delivered,
            )
        ]
    )
    after = standing(pair=failing)[failing]
    assert (after["state"], after["action"]) == ("paused", None)
    assert after["reason"] == f"in its cool-down of 2 min: probed from {probed_from}"
    assert (after["samples"], after["delivered"]) == (30, 5)
    assert str(after["window"]).startswith("what paused it at ")
    assert api.client.get("/api/v1/policy/standing").status_code == 401
    bad = api.client.get(
        "/api/v1/policy/standing", params={"country": "UZB"}, headers=api.headers()
    )
    assert bad.status_code == 422


def _moment(value: object) -> datetime:
    assert isinstance(value, str)
    return datetime.fromisoformat(value)


def test_standing_says_when_the_policy_looks_next(tmp_path: Path) -> None:
    """A pause not yet taken waits for the policy's next look: the standing says when that
    is, counts the probing start from it, and says the same on every read until then."""
    with running_api(tmp_path, policy_evaluation_interval_seconds=3600) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        next_look = clock.start + timedelta(hours=1)  # the loop started with the app
        engine = create_sql_engine(api.settings.resolved_metrics_url)
        try:
            failing = add_pair(api, "Uzmobile")
            clock.advance(300)
            feed(api, engine, failing, delivered=5, failed=25)

            def standing() -> dict[str, object]:
                response = api.client.get(
                    "/api/v1/policy/standing",
                    params={"pair": failing},
                    headers=api.headers(Role.viewer),
                )
                assert response.status_code == 200, response.text
                [found] = response.json()
                assert isinstance(found, dict)
                return found

            first = standing()
            clock.advance(10)
            second = standing()
            assert first == second
            assert _moment(first["next_look_at"]) == next_look
            assert (first["state"], first["action"]) == ("enabled", "paused")
            assert first["reason"] == (
                "at its next look (13:00:00 UTC): 5 of 30 delivered (17 %) in the last 30 min:"
                " below the 50 % pause line with 95 % confidence; probed from 13:02:00 UTC,"
                " after a cool-down of 2 min"
            )
            # Taken now (by hand): the decision says what was done, not what a look will do.
            evaluated = api.client.post(
                "/api/v1/policy/evaluate", headers=api.headers(Role.operator)
            )
            [decision] = evaluated.json()["decisions"]
            assert decision["reason"].startswith(f"{failing} paused: 5 of 30 delivered")
            assert _probed_from(decision["reason"]) == "12:07:10 UTC"
            # Its cool-down is over by the next look, which starts probing it.
            taken = standing()
            assert (taken["state"], taken["action"]) == ("paused", "probing")
            assert str(taken["reason"]).startswith(
                "at its next look (13:00:00 UTC): cool-down of 2 min over:"
            )
            assert _moment(taken["next_look_at"]) == next_look
        finally:
            engine.dispose()


class _Ticking:
    """A clock that moves 300 ms each time it is read: an evaluation's writes come a
    little after its look, as they do on a real clock."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        moment = self.current
        self.current += timedelta(milliseconds=300)
        return moment


def _probed_from(reason: str) -> str:
    return reason.split("probed from ")[1].split(",")[0]


def test_a_pause_is_dated_when_it_was_decided(api: Api, metrics: Engine) -> None:
    """The probing start a pause's decision gives is the one the pair then keeps (the
    standing said a second later when the pause was dated by its write)."""
    failing = add_pair(api, "Uzmobile")
    assert isinstance(api.clock, FakeClock)
    api.clock.advance(300)
    feed(api, metrics, failing, delivered=5, failed=25)
    policy = policy_service(
        metrics, api.store, _Ticking(api.clock.now().replace(microsecond=900_000))
    )
    [decision] = policy.evaluate().decisions
    pair = api.store.pairs.get(failing)
    assert pair is not None and pair.state is PairState.paused
    assert pair.state_changed_at is not None
    assert human_time(pair.state_changed_at) == human_time(decision.at)
    [standing] = policy.standing(StandingQuery(pair=failing))
    assert _probed_from(standing.reason) == _probed_from(decision.reason)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "stopped"}, "action"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"country": "UZB"}, "country"),
        ({"pair": "x" * 41}, "pair"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_filters_are_422_with_the_field(api: Api, params: dict[str, str], field: str) -> None:
    response = api.client.get("/api/v1/policy/decisions", params=params, headers=api.headers())
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert [d["field"] for d in body["details"]] == [field]


def test_roles_and_the_effective_settings(api: Api) -> None:
    viewer = api.headers(Role.viewer)
    assert api.client.post("/api/v1/policy/evaluate", headers=viewer).status_code == 403
    assert api.client.get("/api/v1/policy/decisions").status_code == 401
    settings = api.client.get("/api/v1/policy/settings", headers=viewer)
    assert settings.status_code == 200
    assert settings.json() == {
        "window_minutes": 30.0,
        "window_max_attempts": 50,
        "min_samples": 20,
        "pause_threshold": 0.5,
        "resume_threshold": 0.7,
        "cooldown_seconds": 120.0,
        "cooldown_max_seconds": 1800.0,
        "probe_interval_seconds": 30.0,
        "probe_samples": 10,
        "evaluation_interval_seconds": 30.0,
        "z": 1.96,
        "decision_retention_days": 365,
    }


def test_only_the_policy_sets_a_pair_probing(api: Api) -> None:
    key = add_pair(api, "Uzmobile")
    response = api.client.patch(
        f"/api/v1/pairs/{key}", json={"state": "probing"}, headers=api.headers()
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "state"
    pair = api.client.get(f"/api/v1/pairs/{key}", headers=api.headers()).json()
    assert pair["state"] == "enabled"
