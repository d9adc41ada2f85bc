"""The worker routes over HTTP, on the real app with a SQLite config and metrics store,
with the attempts' ledger in SQL (the SQL-only profile) and in Redis (the Redis profile,
its limiter in Redis too)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from smsfleet.api import create_app
from smsfleet.attempts import RedisLedger
from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.core.nonblocking import may_block
from smsfleet.core.security import worker_token
from smsfleet.core.settings import LEASE_TTL_SECONDS, Settings
from smsfleet.core.sql import create_sql_engine
from smsfleet.dispatch.goals import CountryGoal, ReasonKind
from smsfleet.dispatch.models import (
    EndedRequest,
    HeartbeatRequest,
    LeaseRequest,
    ReportRequest,
    SendAction,
)
from smsfleet.dispatch.service import PAUSED_ASK_AGAIN_SECONDS, Dispatcher
from smsfleet.dispatch.store import HeartbeatStore
from smsfleet.pairs.models import Pair, PairState
from smsfleet.policy.models import POLICY_ACTOR
from smsfleet.sessions.models import DesiredState, SessionSpec, SessionState, SessionStatus
from smsfleet.stores import ConfigStore, open_config_store
from smsfleet.wiring import build_services
from smsfleet.worker import COUNTRY_CAP_HEADER
from tests.support.fakes import FakeClock
from tests.support.ledgers import settle
from tests.support.statements import revision_lookups, sql_statements
from tests.support.tokens import ANY_CREATION, issued_token
from tests.support.waiting import eventually

SESSION = "program1_UZ_uzmobile"
PHONES = ["+998901234567", "+998907654321", "+998935550011"]
TRIGGER = "0" * 32
NOON = "2026-01-05T12:00:00Z"  # the fake clock's start
OTHER_SECRETS_TOKEN = worker_token(secret="x" * 40, session=SESSION, created_at=ANY_CREATION)


@dataclass
class Worker:
    client: TestClient
    store: ConfigStore
    clock: FakeClock
    settings: Settings
    dispatcher: Dispatcher
    # The token issued for each session this worker added (its program's, also once the
    # spec is removed); another's is issued for its spec in the store, if any.
    tokens: dict[str, str] = dataclasses.field(default_factory=dict)

    def settle(self) -> None:
        settle(self.dispatcher.ledger)

    def stored(self, trigger_id: str) -> Attempt | None:
        """The attempt as stored in SQL, once the ledger has settled."""
        self.settle()
        return self.dispatcher.attempts.get(trigger_id)

    def headers(self, session: str = SESSION) -> dict[str, str]:
        token = self.tokens.get(session)
        if token is None:
            spec = self.store.session_specs.get(session)
            # A session never made: a token of any creation time verifies, and finds none.
            created_at = ANY_CREATION if spec is None else spec.created_at
            secret = self.settings.jwt_secret
            token = worker_token(secret=secret, session=session, created_at=created_at)
        return {"Authorization": f"Bearer {token}"}

    def lease(self, session: str = SESSION) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/worker/lease", json={"session": session}, headers=self.headers(session)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def report(self, trigger_id: str, session: str = SESSION, **fields: Any) -> Any:
        body = {"trigger_id": trigger_id, "session": session, "outcome": "delivered", **fields}
        return self.client.post("/api/v1/worker/report", json=body, headers=self.headers(session))

    def add_pair(self, key: str = "UZ_uzmobile", **fields: Any) -> Pair:
        country, slug = key.split("_", 1)
        values: dict[str, Any] = {
            "key": key,
            "country": country,
            "operator": slug.title(),
            "slug": slug,
            "phone_numbers": PHONES,
            "programs": ["program1", "program2"],
            "created_at": self.clock.now(),
            "updated_at": self.clock.now(),
            **fields,
        }
        pair = Pair(**values)
        self.store.pairs.add(pair)
        return pair

    def add_session(self, program: str = "program1", pair: str = "UZ_uzmobile") -> str:
        name = f"{program}_{pair}"
        spec = SessionSpec(
            name=name,
            program=program,
            pair=pair,
            desired=DesiredState.running,
            created_at=self.clock.now(),
        )
        self.store.session_specs.add(spec)
        self.tokens[name] = issued_token(self.store, secret=self.settings.jwt_secret, session=name)
        return name

    def update_pair(self, key: str = "UZ_uzmobile", **fields: Any) -> None:
        pair = self.store.pairs.get(key)
        assert pair is not None
        self.store.pairs.replace(pair.model_copy(update=fields))


def _settings(data_dir: Path, redis_url: str | None = None) -> Settings:
    # No supervisor: these tests write the session specs themselves. Every lease looks at
    # the config (the look's age is real time, not the fake clock's), so on the Redis
    # profile a lease is made in the thread pool unless a test says otherwise (`_steady`).
    return Settings(
        data_dir=data_dir,
        web_dir=data_dir / "no-web",
        supervise=False,
        redis_url=redis_url,
        config_max_age_seconds=0,
    )


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stores migrated and the countries loaded once; each test starts from a copy."""
    data_dir = tmp_path_factory.mktemp("worker-template")
    settings = _settings(data_dir)
    store = open_config_store(settings.resolved_config_url)
    try:
        with build_services(settings, store=store, clock=FakeClock()).running():
            pass
    finally:
        store.close()
    return data_dir


@pytest.fixture(params=["sql", "redis"])
def worker(request: pytest.FixtureRequest, template_dir: Path, tmp_path: Path) -> Iterator[Worker]:
    data_dir = shutil.copytree(template_dir, tmp_path / "data")
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    settings = _settings(data_dir, redis_url)
    store = open_config_store(settings.resolved_config_url)
    clock = FakeClock()
    app = create_app(settings, store=store, clock=clock)
    try:
        with TestClient(app) as client:
            dispatcher = app.state.services.dispatcher
            assert isinstance(dispatcher.ledger, RedisLedger) == (request.param == "redis")
            yield Worker(client, store, clock, settings, dispatcher)
    finally:
        store.close()


@pytest.fixture
def ready(worker: Worker) -> Worker:
    """One enabled pair with three numbers and two programs, and a running session."""
    worker.add_pair()
    worker.add_session()
    return worker


def test_a_send_says_how_long_its_request_waited_before_its_grant(ready: Worker) -> None:
    """A control plane busy at a start holds requests before their grants: the answer
    says for how long, from the request's arrival to the time the limiter counts the grant
    at, and the program takes it off the grant's age (tests/unit/worker)."""
    arrived = ready.clock.now()
    ready.clock.advance(1.2345)
    action = ready.dispatcher.lease(session=SESSION, arrived=arrived)
    assert isinstance(action, SendAction), action
    assert action.waited == 1.234  # rounded down: never more than it waited
    assert ready.report(action.trigger_id).status_code == 200
    ready.clock.advance(62)
    # Said nothing of its arrival (this process's own callers): nothing to take off.
    again = ready.dispatcher.lease(session=SESSION)
    assert isinstance(again, SendAction) and again.waited == 0.0


def test_lease_report_and_duplicate_report(ready: Worker) -> None:
    lease = ready.lease()
    assert lease["action"] == "send"
    assert lease["phone"] == PHONES[0]
    assert lease["pair"] == "UZ_uzmobile"
    assert lease["program"] == "program1"
    assert len(lease["trigger_id"]) == 32
    assert lease["trigger_id"][:8] in lease["message"]
    assert lease["expires_at"].startswith("2026-01-05T12:07:00")  # the lease's 420 s
    assert lease["send_within"] == 0.5  # the rest of the window's 1.5 s is the send's way
    assert lease["waited"] == 0.0  # the clock stood still while it was decided

    ready.clock.advance(3)
    sent = ready.clock.now()
    delivered = sent + timedelta(seconds=1.25)
    fields = {
        "sent_at": sent.isoformat(),
        "delivered_at": delivered.isoformat(),
        "provider": "provider1",
    }
    first = ready.report(lease["trigger_id"], **fields)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "recorded"}
    attempt = ready.stored(lease["trigger_id"])
    assert attempt is not None
    assert attempt.outcome is Outcome.delivered
    assert attempt.latency_ms == 1250
    assert attempt.country == "UZ"
    assert attempt.operator == "uzmobile"
    assert attempt.session == SESSION
    assert attempt.completed_at == ready.clock.now()

    ready.clock.advance(1)
    again = ready.report(lease["trigger_id"], outcome="error", error_code="boom")
    assert again.json() == {"status": "duplicate"}
    assert ready.stored(lease["trigger_id"]) == attempt


def test_a_report_outside_its_lease_or_with_control_characters_is_refused(
    ready: Worker,
) -> None:
    """Times no send could have (a lease lasts 7 minutes; the clocks may differ by 5) would
    skew the pair's latency for good; an error code or provider name is shown on pages."""
    lease = ready.lease()
    now = ready.clock.now()
    for fields in (
        {"sent_at": "0001-01-01T00:00:00Z"},
        {"sent_at": now.isoformat(), "delivered_at": "9999-12-31T23:59:59Z"},
        {"sent_at": (now - timedelta(minutes=13)).isoformat()},
        {"outcome": "error", "error_code": "=1+1\u202eder\u001b[31mX"},
        {"provider": "provider\u202e1"},
    ):
        refused = ready.report(lease["trigger_id"], **fields)
        assert refused.status_code == 422, (fields, refused.text)
        assert refused.json()["error"]["code"] == "validation_error"
    # Still open: a report within its lease is recorded, and a delivered SMS has no error.
    sent = now - timedelta(minutes=4)  # its program's clock 4 minutes behind
    recorded = ready.report(
        lease["trigger_id"],
        sent_at=sent.isoformat(),
        delivered_at=(sent + timedelta(seconds=2)).isoformat(),
        error_code="E_LEFT_OVER",
    )
    assert recorded.json() == {"status": "recorded"}, recorded.text
    attempt = ready.stored(lease["trigger_id"])
    assert attempt is not None
    assert (attempt.latency_ms, attempt.error_code) == (2000, None)


def test_a_report_of_times_before_its_own_lease_is_refused_and_leaves_it_open(
    ready: Worker,
) -> None:
    """As the security review saw it: leased at 06:17:51, a report of a send at 06:06:01
    (within a lease's 7 minutes and the clocks' 5 of now) and a delivery 5 minutes ahead
    would record a latency of 16 minutes. The times are held to the attempt's own lease;
    refused, the attempt stays open for an honest report."""
    leased_at = ready.clock.now()
    lease = ready.lease()
    ready.clock.advance(5 * 60)
    now = ready.clock.now()
    early = leased_at - timedelta(minutes=5, seconds=1)
    for fields, field in (
        ({"sent_at": early, "delivered_at": now + timedelta(minutes=4)}, "sent_at"),
        ({"sent_at": early}, "sent_at"),
        ({"delivered_at": early}, "delivered_at"),  # no send time: the delivery's
        ({"sent_at": now, "delivered_at": now + timedelta(minutes=6)}, "delivered_at"),
        ({"sent_at": now, "delivered_at": now - timedelta(seconds=1)}, "delivered_at"),
    ):
        body = {name: at.isoformat() for name, at in fields.items()}
        refused = ready.report(lease["trigger_id"], **body)
        assert refused.status_code == 422, (fields, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "validation_error"
        assert [problem["field"] for problem in error["details"]] == [field], error
        stored = ready.stored(lease["trigger_id"])
        assert stored is not None and stored.outcome is None, stored

    # At the lease's start, as the clocks' difference allows: recorded.
    sent = leased_at - timedelta(minutes=5)
    recorded = ready.report(
        lease["trigger_id"],
        sent_at=sent.isoformat(),
        delivered_at=(now + timedelta(minutes=5)).isoformat(),
    )
    assert recorded.json() == {"status": "recorded"}, recorded.text
    attempt = ready.stored(lease["trigger_id"])
    assert attempt is not None
    assert (attempt.outcome, attempt.sent_at) == (Outcome.delivered, sent)
    assert attempt.latency_ms == 15 * 60 * 1000  # the lease so far and the clocks' 5 each way


def test_a_report_may_not_claim_the_codes_the_control_plane_closes_attempts_with(
    ready: Worker,
) -> None:
    """An error told as a lease lost or expired drops out of the success rates: only the
    control plane closes an attempt so, however spaced (MySQL compares without trailing
    spaces). `interrupted` is the worker harness's own."""
    lease = ready.lease()
    for code in ("lease_lost", "lease_expired", "lease_expired ", " lease_lost"):
        refused = ready.report(lease["trigger_id"], outcome="error", error_code=code)
        assert refused.status_code == 422, (code, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "validation_error"
        assert [problem["field"] for problem in error["details"]] == ["error_code"], error
        stored = ready.stored(lease["trigger_id"])
        assert stored is not None and stored.outcome is None, stored

    recorded = ready.report(lease["trigger_id"], outcome="error", error_code="interrupted ")
    assert recorded.json() == {"status": "recorded"}, recorded.text
    attempt = ready.stored(lease["trigger_id"])
    assert attempt is not None
    assert (attempt.outcome, attempt.error_code) == (Outcome.error, "interrupted")


def test_a_lease_looks_at_the_config_revisions_once_and_not_while_the_look_is_young(
    ready: Worker,
) -> None:
    """Its session, pair and country (and the counts of sessions) come from the config
    store's snapshots after one look at what changed, not one for each; and none while
    this process looked less than `config_max_age` ago, unless it changed the config
    itself meanwhile."""
    dispatcher = ready.dispatcher
    dispatcher.policy = replace(dispatcher.policy, config_max_age=timedelta(minutes=1))
    with revision_lookups(this_thread_only=True) as lookups:
        counted = []
        for _ in range(3):
            lookups.clear()
            ready.clock.advance(10)
            assert dispatcher.lease(session=SESSION).action == "send"
            counted.append(len(lookups))
        assert counted == [1, 0, 0]  # the fixture's writes came last before the first

        ready.update_pair(state=PairState.paused)  # through this process's store
        lookups.clear()
        assert dispatcher.lease(session=SESSION).action == "stop"
        assert len(lookups) == 1


def test_worker_requests_are_timed_into_prometheus_not_the_usage_log(ready: Worker) -> None:
    usage = ready.client.app.state.services.usage.log  # type: ignore[attr-defined]
    while usage.flush():
        pass
    lease = ready.lease()
    assert ready.report(lease["trigger_id"]).status_code == 200
    assert ready.report(lease["trigger_id"]).status_code == 200  # a duplicate, answered
    assert (
        ready.client.post(
            "/api/v1/worker/heartbeat", json={"session": SESSION}, headers={"Authorization": "x"}
        ).status_code
        == 401
    )

    assert usage.flush() == 0  # the fleet's own protocol is not API use
    exposition = ready.client.get("/metrics").text
    counted = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in exposition.splitlines()
        if line.startswith("smsfleet_worker_request_seconds_count")
    }
    assert counted == {
        'smsfleet_worker_request_seconds_count{route="lease",status="200"}': 1.0,
        'smsfleet_worker_request_seconds_count{route="report",status="200"}': 2.0,
        'smsfleet_worker_request_seconds_count{route="heartbeat",status="401"}': 1.0,
    }


def _exposed(worker: Worker, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of `name` that /metrics shows now, with their labels."""
    exposition = worker.client.get("/metrics").text
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    ]


def _grants(worker: Worker) -> dict[str, float]:
    """`smsfleet_dispatch_grants_total` per country."""
    return {
        labels["country"]: value
        for labels, value in _exposed(worker, "smsfleet_dispatch_grants_total")
    }


def test_grants_are_counted_on_metrics_when_granted(ready: Worker) -> None:
    assert _grants(ready) == {"UZ": 0}  # from 0, so increase() counts the first grant
    first = ready.lease()
    assert first["action"] == "send"
    assert _grants(ready) == {"UZ": 1}
    assert ready.lease()["action"] == "wait"
    assert _grants(ready) == {"UZ": 1}
    # Counted at the grant, not again when the outcome comes.
    ready.clock.advance(6)
    assert ready.report(first["trigger_id"]).json() == {"status": "recorded"}
    assert _grants(ready) == {"UZ": 1}
    assert ready.lease()["action"] == "send"
    assert _grants(ready) == {"UZ": 2}


def test_wait_until_the_next_slot_and_phone_rotation(ready: Worker) -> None:
    phones = []
    for _ in range(4):
        lease = ready.lease()
        assert lease["action"] == "send", lease
        phones.append(lease["phone"])
        ready.clock.advance(2)
        assert ready.report(lease["trigger_id"]).status_code == 200
        # The next slot is 6.15 s after this one (a grant holds its place 61.5 s) and
        # opens 0.5 s before its time.
        assert ready.lease() == {
            "action": "wait",
            "retry_after": 3.65,
            "max_in_flight": 3,
        }
        ready.clock.advance(4.15)
    assert phones == [*PHONES, PHONES[0]]


def test_attempts_in_flight_one_per_test_number(ready: Worker) -> None:
    """Unreported attempts hold their numbers: the next send goes to a free one."""
    leases = []
    for _ in range(3):
        lease = ready.lease()
        assert lease["action"] == "send", lease
        # Three numbers, one session, 10/min and no cycle measured yet (30 s assumed).
        assert lease["max_in_flight"] == 3
        leases.append(lease)
        ready.clock.advance(6)
    assert [lease["phone"] for lease in leases] == PHONES
    # Every number awaits a code: no grant is taken that could not be used.
    waiting = ready.lease()
    assert waiting["action"] == "wait"
    assert ready.dispatcher.ledger.open_in_pair(
        "UZ_uzmobile", leased_since=ready.clock.now() - timedelta(minutes=5)
    ) == [(lease["trigger_id"], SESSION, lease["phone"]) for lease in leases]
    assert ready.report(leases[1]["trigger_id"]).status_code == 200
    freed = ready.lease()
    assert (freed["action"], freed["phone"]) == ("send", PHONES[1])


def test_a_probed_pair_carries_one_attempt_at_a_time(ready: Worker) -> None:
    """Its sends and its waits between probes say the same allowance, so its program is
    not told 3, then 1, then 3 again with every probe."""
    ready.update_pair(state=PairState.probing)
    answers = []
    for _ in range(3):
        lease = ready.lease()
        answers.append((lease["action"], lease["max_in_flight"]))
        if lease["action"] == "send":
            assert ready.report(lease["trigger_id"]).status_code == 200
        ready.clock.advance(20)
    assert answers == [("send", 1), ("wait", 1), ("send", 1)]


def test_a_probed_pairs_capacity_is_its_probes_pace(ready: Worker) -> None:
    """Two sessions may each carry a probe, but the pair sends one per probe interval
    (30 s): its country's goal reckons 2 a minute, not what two attempts at once of a
    30 s cycle would send (4)."""
    ready.add_session("program2")
    ready.update_pair(state=PairState.probing)
    ready.clock.advance(6)  # the session counts are taken afresh
    [goal] = [goal for goal in ready.dispatcher.goals() if goal.country == "UZ"]
    assert (goal.in_flight_limit, goal.cycle_seconds, goal.capacity_per_minute) == (1, 30, 2)


def test_a_pairs_sessions_share_its_test_numbers(ready: Worker) -> None:
    """One session that asks again first must not hold every number of the pair."""
    other = ready.add_session("program2")
    ready.clock.advance(6)  # the session counts are taken afresh
    mine = []
    for _ in range(2):
        mine.append(ready.lease())
        ready.clock.advance(6)
    assert [lease["action"] for lease in mine] == ["send", "send"]
    assert mine[0]["max_in_flight"] == 2  # three numbers, two sessions
    held = ready.lease()
    assert (held["action"], held["max_in_flight"]) == ("wait", 2)
    ready.clock.advance(6)
    theirs = ready.lease(other)
    assert theirs["action"] == "send"
    assert theirs["phone"] not in {lease["phone"] for lease in mine}


def test_a_country_under_its_goal_says_why(ready: Worker) -> None:
    ready.store.session_status.add(
        SessionStatus(name=SESSION, state=SessionState.running, updated_at=ready.clock.now())
    )
    leases = []
    for _ in range(3):
        leases.append(ready.lease())
        assert leases[-1]["action"] == "send"
        ready.clock.advance(6)
    # One its program could not send in time: it took its slot, and is counted apart.
    given_up = {"outcome": "error", "error_code": "grant_stale"}
    assert ready.report(leases[0]["trigger_id"], **given_up).status_code == 200
    ready.settle()
    [goal] = [goal for goal in ready.dispatcher.goals() if goal.country == "UZ"]
    assert (goal.goal_per_minute, goal.achieved_per_minute, goal.on_goal) == (10, 1.5, False)
    assert goal.given_up == 1
    assert (goal.sessions_wanted, goal.sessions_running, goal.test_numbers) == (1, 1, 3)
    # Nothing completed yet: the cycle assumed is 30 s, so three numbers send 6 a minute.
    assert goal.reason == (
        "too few test numbers for the cap at this pace: 3 numbers, 3 attempts at once, "
        "at 30 s per SMS, send at most 6/min; add test numbers"
    )
    assert goal.reason_kind is ReasonKind.numbers_busy
    # Prometheus has the reason by kind, in words without the figures.
    assert _exposed(ready, "smsfleet_country_goal_short") == [
        ({"country": "UZ", "reason_kind": "numbers_busy", "reason": goal.reason_kind.words}, 1.0)
    ]


def test_a_route_that_just_stopped_delivering_is_not_told_to_add_numbers(
    ready: Worker,
) -> None:
    """A session at its cap, each code back in 8 s, until the route stops delivering: for
    its first minute every number awaits a code none of which is late yet, as SMS in flight
    do. More numbers would only wait too: none are advised until codes are late."""
    started = ready.clock.now() - timedelta(minutes=10)
    ready.store.session_status.add(
        SessionStatus(
            name=SESSION, state=SessionState.running, updated_at=started, started_at=started
        )
    )
    in_flight: list[tuple[str, int]] = []
    said: dict[int, CountryGoal] = {}
    for second in range(0, 300 + 80, 2):
        delivering = second < 300
        for trigger_id, leased in list(in_flight):
            if delivering and second - leased >= 8:
                assert ready.report(trigger_id).status_code == 200
                in_flight.remove((trigger_id, leased))
        lease = ready.lease()
        if lease["action"] == "send":
            in_flight.append((lease["trigger_id"], second))
        if second >= 300:
            ready.settle()
            [said[second - 300]] = [g for g in ready.dispatcher.goals() if g.country == "UZ"]
        ready.clock.advance(2)
    assert said[0].on_goal
    short = {after: goal for after, goal in said.items() if not goal.on_goal}
    first_minute = [goal for after, goal in short.items() if after < 50]
    assert first_minute, [(after, goal.reason) for after, goal in said.items()]
    for goal in first_minute:
        assert goal.reason == (
            "test numbers busy: 3 of 3 await a code, sent under a minute ago: none is late yet"
        )
        assert goal.reason_kind is ReasonKind.awaiting_codes
    # Once codes are late, the advice is the one for a route that may have broken, from
    # the first late code on: never plain "add test numbers".
    late = said[max(said)]
    assert late.reason_kind is ReasonKind.numbers_busy
    for goal in short.values():
        assert goal.reason is not None
        assert not goal.reason.endswith("; add test numbers"), goal.reason
    assert late.reason is not None and late.reason.endswith(
        "codes are late: add test numbers only if the route delivers"
    )


def test_after_a_resume_the_pace_is_measured_on_what_the_pair_sent_since(
    ready: Worker,
) -> None:
    """An outage's SMS, each holding its number until the gateway gave up, say nothing of
    a resumed route's pace: its sessions are sized, and its country's capacity told, on
    what it sent since its state changed."""
    ready.store.session_status.add(
        SessionStatus(name=SESSION, state=SessionState.running, updated_at=ready.clock.now())
    )
    held = []
    for _ in range(3):
        held.append(ready.lease()["trigger_id"])
        ready.clock.advance(6)
    ready.clock.advance(120)
    for trigger_id in held:
        assert ready.report(trigger_id, outcome="not_delivered").status_code == 200
    ready.clock.advance(20)  # the pace is measured again
    ready.settle()
    [during] = [goal for goal in ready.dispatcher.goals() if goal.country == "UZ"]
    assert during.cycle_seconds > 120
    pair = ready.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    ready.store.pairs.replace(pair.model_copy(update={"state_changed_at": ready.clock.now()}))
    ready.clock.advance(20)
    ready.settle()
    [resumed] = [goal for goal in ready.dispatcher.goals() if goal.country == "UZ"]
    assert resumed.cycle_seconds == 30.0  # assumed until measured afresh
    assert resumed.capacity_per_minute == 6.0  # three numbers at 30 s each


def test_a_country_whose_sms_go_undelivered_is_told_its_route_fails(ready: Worker) -> None:
    """An undelivered SMS is reported when the gateway gives up, minutes after its lease:
    the pair's figures over the policy's window say its route fails, once they hold as
    many completed attempts as the policy and the alerts need (20)."""
    ready.store.session_status.add(
        SessionStatus(name=SESSION, state=SessionState.running, updated_at=ready.clock.now())
    )

    def undelivered(count: int) -> None:
        leased = []
        for _ in range(count):
            leased.append(ready.lease()["trigger_id"])
            ready.clock.advance(6)
        ready.clock.advance(110)  # the first lease is now older than the goal's window
        for trigger_id in leased:
            assert ready.report(trigger_id, outcome="not_delivered").status_code == 200
        ready.settle()

    def goal() -> CountryGoal:
        [found] = [goal for goal in ready.dispatcher.goals() if goal.country == "UZ"]
        return found

    undelivered(3)
    # 0 of 3 is under the line with 95 % confidence, but too few to pause or alert on.
    assert goal().reason_kind is not ReasonKind.failing
    for _ in range(6):  # 21 in all, within the 30-min window
        undelivered(3)
    # The pair at fault is named with its figures, on evidence (the Wilson bound).
    assert goal().reason_kind is ReasonKind.failing
    assert goal().reason == (
        "the route fails: UZ_uzmobile, 0 of 21 delivered (0 %) in the last 30 min: below the"
        " 80 % warning line with 95 % confidence"
    )


def test_a_lease_closes_the_attempts_its_program_no_longer_carries(ready: Worker) -> None:
    first = ready.lease()
    ready.clock.advance(6)
    second = ready.lease()
    ready.clock.advance(6)
    # The answer to `first` never reached the program: it says it carries `second` only.
    response = ready.client.post(
        "/api/v1/worker/lease",
        json={"session": SESSION, "in_flight": [second["trigger_id"]]},
        headers=ready.headers(),
    )
    assert response.json()["action"] == "send"
    lost = ready.stored(first["trigger_id"])
    assert lost is not None
    assert (lost.outcome, lost.error_code) == (Outcome.error, "lease_lost")
    kept = ready.stored(second["trigger_id"])
    assert kept is not None and kept.outcome is None
    # Its number is free again, and a late report of it changes nothing.
    busy = ready.dispatcher.ledger.open_in_pair(
        "UZ_uzmobile", leased_since=ready.clock.now() - timedelta(minutes=5)
    )
    assert first["phone"] not in {phone for _, _, phone in busy}
    assert ready.report(first["trigger_id"]).json() == {"status": "duplicate"}


def test_rotation_is_per_pair_across_programs(ready: Worker) -> None:
    second = ready.add_session("program2")
    assert ready.lease()["phone"] == PHONES[0]
    ready.clock.advance(6)
    assert ready.lease(second)["phone"] == PHONES[1]


def test_a_report_on_the_redis_profile_is_made_on_the_event_loop(ready: Worker) -> None:
    """No trip to the thread pool for it while the config it checks the token against is
    in memory (a lease still takes one): where the dispatcher tells its listeners of the
    outcome says where the report was made."""
    _steady(ready.dispatcher)
    threads: list[str] = []
    tell = ready.dispatcher.on_report
    assert tell is not None

    def noting(attempt: Attempt) -> None:
        threads.append(threading.current_thread().name)
        tell(attempt)

    ready.dispatcher.on_report = noting
    lease = ready.lease()
    assert ready.report(lease["trigger_id"]).json() == {"status": "recorded"}
    in_pool = [name.startswith("AnyIO worker thread") for name in threads]
    on_redis = isinstance(ready.dispatcher.ledger, RedisLedger)
    assert in_pool == [not on_redis]


def _steady(dispatcher: Dispatcher) -> None:
    """Config looks young for a minute; the counts of sessions and the pairs' cycles are
    measured again only after an hour."""
    policy = dispatcher.policy
    dispatcher.policy = replace(
        policy,
        config_max_age=timedelta(minutes=1),
        sessions_refresh=timedelta(hours=1),
        in_flight=replace(policy.in_flight, refresh=timedelta(hours=1)),
    )


@pytest.fixture
def sql_on_the_loop() -> Iterator[list[str]]:
    """Every SQL statement run by a thread whose event loop is running: blocking I/O on
    the loop, which must stay empty."""

    def on_a_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    with sql_statements(on_a_loop) as seen:
        yield seen


def test_a_lease_on_the_redis_profile_is_made_on_the_event_loop_from_memory(
    ready: Worker, sql_on_the_loop: list[str]
) -> None:
    """Once all it reads is in memory (a young look at the config, the counts of sessions
    and the pair's cycle), a lease takes no trip to the thread pool; one that must read
    the config first (this process just wrote it) takes one. The dispatcher's `lease` is
    what the route calls in the pool. No SQL runs on the loop meanwhile."""
    dispatcher = ready.dispatcher
    _steady(dispatcher)
    in_pool: list[bool] = []
    lease_in_thread = dispatcher.lease

    def noting(**asked: Any) -> Any:
        in_pool.append(threading.current_thread().name.startswith("AnyIO worker thread"))
        return lease_in_thread(**asked)

    dispatcher.lease = noting  # type: ignore[method-assign]
    first = ready.lease()  # after the fixture's writes: the config is read again
    assert ready.report(first["trigger_id"]).json() == {"status": "recorded"}
    ready.clock.advance(10)
    second = ready.lease()
    assert second["action"] == "send"
    assert second["trigger_id"] != first["trigger_id"]
    assert ready.report(second["trigger_id"]).json() == {"status": "recorded"}
    assert ready.stored(second["trigger_id"]) is not None
    ready.update_pair(state=PairState.paused)
    assert ready.lease()["action"] == "stop"

    on_redis = isinstance(dispatcher.ledger, RedisLedger)
    assert in_pool == ([True, True] if on_redis else [True, True, True])
    assert sql_on_the_loop == []


class _Waiting:
    """An on-demand source with a send always waiting, and none to claim."""

    def waiting(self) -> bool:
        return True

    def claim(
        self, *, pair: str, program: str, attempt_id: str, busy: frozenset[str] = frozenset()
    ) -> None:
        return None

    def kept(self, pair: str) -> dict[str, frozenset[str]]:
        return {}

    def settle(self, attempt: Attempt) -> None:
        pass

    def left(self, attempt_id: str, *, sent_at: datetime) -> None:
        pass


def _pause(ready: Worker) -> None:
    ready.update_pair(state=PairState.paused)
    ready.dispatcher.lease(session=SESSION)  # in this thread: the config looked at again


def _probe(ready: Worker) -> None:
    ready.update_pair(state=PairState.probing)
    ready.dispatcher.lease(session=SESSION)


def _counts_due(ready: Worker) -> None:
    policy = ready.dispatcher.policy
    ready.dispatcher.policy = replace(policy, sessions_refresh=timedelta(seconds=5))
    ready.clock.advance(10)


def _cycle_due(ready: Worker) -> None:
    policy = ready.dispatcher.policy
    in_flight = replace(policy.in_flight, refresh=timedelta(seconds=5))
    ready.dispatcher.policy = replace(policy, in_flight=in_flight)
    ready.clock.advance(10)


def _on_demand(ready: Worker) -> None:
    ready.dispatcher.on_demand = _Waiting()


@pytest.mark.parametrize("worker", ["redis"], indirect=True)
@pytest.mark.parametrize(
    "blocker",
    [_pause, _probe, _counts_due, _cycle_due, _on_demand],
    ids=[
        "a stop withdraws",
        "a probe reads its last lease",
        "the counts are due",
        "the cycle is due",
        "an on-demand send may wait",
    ],
)
def test_a_lease_that_would_block_is_left_to_the_thread(
    ready: Worker, blocker: Callable[[Worker], None]
) -> None:
    """With the config in memory, each step that would do I/O gives the lease up on the
    loop (None), before anything of it is done, so the thread makes it whole."""
    dispatcher = ready.dispatcher
    _steady(dispatcher)
    dispatcher.lease(session=SESSION)  # in this thread: all it reads is in memory after
    blocker(ready)
    assert asyncio.run(dispatcher.lease_on_loop(session=SESSION)) is None


@pytest.mark.parametrize("worker", ["redis"], indirect=True)
def test_a_listener_with_io_to_do_on_the_loop_is_told_from_a_thread(ready: Worker) -> None:
    """A report made on the loop answers at once; a listener that would block (an
    on-demand send's settling, which reads SQL) is told from a thread, not dropped."""
    told: list[bool] = []
    tell = ready.dispatcher.on_report
    assert tell is not None

    def with_io(attempt: Attempt) -> None:
        may_block()
        told.append(threading.current_thread() is threading.main_thread())
        tell(attempt)

    ready.dispatcher.on_report = with_io
    lease = ready.lease()
    assert ready.report(lease["trigger_id"]).json() == {"status": "recorded"}
    for _ in range(200):
        if told:
            break
        time.sleep(0.01)
    assert told == [False]


def test_unknown_and_foreign_triggers(ready: Worker) -> None:
    other = ready.add_session("program2")
    lease = ready.lease()
    unknown = ready.report(TRIGGER)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    foreign = ready.report(lease["trigger_id"], session=other)
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "forbidden"
    # Neither touched the attempt.
    attempt = ready.stored(lease["trigger_id"])
    assert attempt is not None
    assert attempt.outcome is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": f"Bearer {OTHER_SECRETS_TOKEN}"},
        {b"Authorization": b"Bearer \xe9\xe9"},  # not ASCII: refused, not a 500
    ],
    ids=["missing", "garbage", "basic", "other-secret", "not-ascii"],
)
def test_a_bad_token_is_refused(
    ready: Worker, headers: Mapping[str, str] | Mapping[bytes, bytes]
) -> None:
    for path, body in [
        ("lease", {"session": SESSION}),
        ("heartbeat", {"session": SESSION}),
        ("ended", {"session": SESSION}),
        ("report", {"session": SESSION, "trigger_id": TRIGGER, "outcome": "delivered"}),
    ]:
        response = ready.client.post(f"/api/v1/worker/{path}", json=body, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == "unauthorized"


def test_another_sessions_token_is_refused(ready: Worker) -> None:
    other = ready.add_session("program2")
    for path in ("lease", "ended"):
        response = ready.client.post(
            f"/api/v1/worker/{path}", json={"session": SESSION}, headers=ready.headers(other)
        )
        assert response.status_code == 401, path


def test_a_runner_says_its_program_ended(ready: Worker) -> None:
    response = ready.client.post(
        "/api/v1/worker/ended", json={"session": SESSION}, headers=ready.headers()
    )
    assert response.status_code == 204
    assert response.content == b""


def test_stop_reasons(worker: Worker) -> None:
    assert worker.lease()["reason"] == "unknown session 'program1_UZ_uzmobile'"

    worker.add_session()
    assert "does not exist" in worker.lease()["reason"]

    worker.add_pair(phone_numbers=[])
    # Nothing to send to: its sessions are held stopped until a number is added.
    assert worker.lease() == {
        "action": "stop",
        "reason": "pair UZ_uzmobile has no test phone number",
    }

    worker.update_pair(phone_numbers=PHONES, programs=["program2"])
    assert worker.lease()["reason"] == "program program1 is not assigned to UZ_uzmobile"

    worker.update_pair(programs=["program1"], state=PairState.paused, state_reason="low rate")
    assert worker.lease() == {"action": "stop", "reason": "pair UZ_uzmobile is paused: low rate"}

    worker.update_pair(state=PairState.disabled, state_reason=None)
    assert worker.lease()["reason"] == "pair UZ_uzmobile is disabled"

    worker.update_pair(state=PairState.enabled)
    spec = worker.store.session_specs.get(SESSION)
    assert spec is not None
    worker.store.session_specs.replace(spec.model_copy(update={"desired": DesiredState.stopped}))
    assert worker.lease()["reason"] == "the session's desired state is stopped"

    worker.store.session_specs.replace(spec)
    assert worker.lease()["action"] == "send"


def test_a_lease_answered_stop_is_told_to_every_process(ready: Worker) -> None:
    """Its program ends as told: the supervisor, in whichever process leads, reads when,
    and takes that end for no crash."""
    engine = create_sql_engine(ready.settings.resolved_metrics_url)
    elsewhere = HeartbeatStore(engine)
    try:
        assert ready.lease()["action"] == "send"
        eventually(lambda: SESSION in elsewhere.all(), 5, "the lease's beat written")
        assert elsewhere.stop_told_at(SESSION) is None
        ready.clock.advance(2)
        _pause_the_pair(ready)
        assert ready.lease()["action"] == "stop"
        told = eventually(lambda: elsewhere.stop_told_at(SESSION), 5, "the stop written")
        assert told == ready.clock.now()
        ready.clock.advance(1)
        assert ready.lease()["action"] == "stop"
        eventually(lambda: elsewhere.stop_told_at(SESSION) == ready.clock.now(), 5, "later")
    finally:
        elsewhere.close()
        engine.dispose()


def test_a_policy_pause_holds_a_program_with_attempts_in_flight_and_lets_it_go_on(
    ready: Worker,
) -> None:
    """Nothing new is sent while the attempts in flight finish; asked again meanwhile, the
    program goes on at once if the pair resumes, and is told `stop` once it carries none."""

    def lease(in_flight: list[str]) -> dict[str, Any]:
        body = {"session": SESSION, "in_flight": in_flight}
        response = ready.client.post("/api/v1/worker/lease", json=body, headers=ready.headers())
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    first = ready.lease()
    assert first["action"] == "send"
    carried = [first["trigger_id"]]
    paused = {"state": PairState.paused, "state_reason": "low rate", "state_actor": POLICY_ACTOR}
    ready.update_pair(**paused)
    assert lease(carried) == {
        "action": "wait",
        "retry_after": PAUSED_ASK_AGAIN_SECONDS,
        "max_in_flight": 0,
        "reason": "pair UZ_uzmobile is paused: low rate",
    }
    ready.update_pair(state=PairState.enabled, state_actor=None)
    ready.clock.advance(60)  # past the country's pace
    assert lease(carried)["action"] == "send"
    ready.update_pair(**paused)
    # Carrying none, or paused by a person: told to stop, as ever.
    assert lease([])["action"] == "stop"
    ready.update_pair(state_actor="admin")
    assert lease(carried)["action"] == "stop"


def _pause_the_pair(worker: Worker) -> None:
    worker.update_pair(state=PairState.paused, state_reason="low rate")


def _stop_the_session(worker: Worker) -> None:
    spec = worker.store.session_specs.get(SESSION)
    assert spec is not None
    worker.store.session_specs.replace(spec.model_copy(update={"desired": DesiredState.stopped}))


@pytest.mark.parametrize(
    "stop", [_pause_the_pair, _stop_the_session], ids=["pair-paused", "session-stopped"]
)
def test_attempts_in_flight_at_a_stop_still_report_and_nothing_is_granted_after(
    ready: Worker, stop: Callable[[Worker], None]
) -> None:
    leases = []
    for _ in range(2):
        lease = ready.lease()
        assert lease["action"] == "send", lease
        leases.append(lease)
        ready.clock.advance(6)
    stop(ready)
    assert ready.lease()["action"] == "stop"

    ready.clock.advance(3)
    for lease in leases:
        assert ready.report(lease["trigger_id"]).json() == {"status": "recorded"}
        stored = ready.stored(lease["trigger_id"])
        assert stored is not None
        assert (stored.outcome, stored.completed_at) == (Outcome.delivered, ready.clock.now())
    # Slots and test numbers are free again, and still the session is told to stop.
    ready.clock.advance(60)
    assert ready.lease()["action"] == "stop"
    ready.settle()
    granted = ready.dispatcher.attempts.recent(limit=10, session=SESSION)
    assert sorted(attempt.id for attempt in granted) == sorted(
        lease["trigger_id"] for lease in leases
    )


@pytest.mark.parametrize(
    ("change", "told"),
    [
        ({"state": PairState.paused}, {"action": "stop"}),
        # Its sessions are held stopped, as a paused pair's are.
        (
            {"phone_numbers": []},
            {"action": "stop", "reason": "pair UZ_ucell has no test phone number"},
        ),
    ],
    ids=["paused", "no-test-number"],
)
def test_a_pair_that_stops_running_leaves_the_country_to_the_others(
    worker: Worker, change: dict[str, Any], told: dict[str, str]
) -> None:
    """Paused, or left without test numbers: its program is told to stop, and its share
    of the country's cap goes to the others."""
    worker.add_pair("UZ_beeline")
    worker.add_pair("UZ_ucell")
    beeline = worker.add_session(pair="UZ_beeline")
    ucell = worker.add_session(pair="UZ_ucell")
    assert worker.lease(beeline)["action"] == "send"
    worker.clock.advance(1)
    assert worker.lease(ucell)["action"] == "wait"
    worker.update_pair("UZ_ucell", **change)
    reply = worker.lease(ucell)
    if "reason" in told:  # the reason said in full where one is promised
        assert reply == told
    else:
        assert reply["action"] == told["action"]
    # ucell was owed the next slot; stopped, it no longer holds it.
    worker.clock.advance(5)
    assert worker.lease(beeline)["action"] == "send"


def test_the_country_cap_comes_from_the_country_record(ready: Worker) -> None:
    country = ready.store.countries.get("UZ")
    assert country is not None
    ready.store.countries.replace(country.model_copy(update={"cap": 30}))
    assert ready.lease()["action"] == "send"
    ready.clock.advance(1)
    # 30 a minute, a grant holding its place 61.5 s: slots 2.05 s apart, open 0.5 s early.
    assert ready.lease() == {
        "action": "wait",
        "retry_after": 0.55,
        "max_in_flight": 3,
    }


def test_a_halted_country_sends_nothing_and_its_attempts_in_flight_finish(ready: Worker) -> None:
    country = ready.store.countries.get("UZ")
    assert country is not None
    carried = ready.lease()["trigger_id"]
    ready.store.countries.replace(country.model_copy(update={"cap": 0}))
    ready.clock.advance(61)
    assert ready.lease() == {
        "action": "wait",
        "retry_after": 60.0,
        "max_in_flight": 0,
        "reason": "country UZ is halted (its cap is 0): nothing is sent until an admin raises it",
    }
    assert ready.report(carried).json() == {"status": "recorded"}
    ready.store.countries.replace(country.model_copy(update={"cap": 10}))
    assert ready.lease()["action"] == "send"


def test_high_priority_pairs_get_twice_the_share(worker: Worker) -> None:
    worker.add_pair("UZ_beeline", is_high_priority=True)
    worker.add_pair("UZ_ucell")
    sessions = [worker.add_session(pair="UZ_beeline"), worker.add_session(pair="UZ_ucell")]
    sent = {name: 0 for name in sessions}
    for _ in range(60):  # three minutes, every session asking each 3 s
        for name in sessions:
            lease = worker.dispatcher.lease(session=name)
            if lease.action == "send":
                sent[name] += 1
                # Reported at once: its test number is free for the next.
                assert worker.report(lease.trigger_id, session=name).status_code == 200
        worker.clock.advance(3)
    # Ten per 61.5 s (a grant holds its place 1.5 s past the minute) over 180 s.
    assert sent[sessions[0]] + sent[sessions[1]] == 28
    assert sent[sessions[0]] in (18, 19)


def test_heartbeats(ready: Worker) -> None:
    response = ready.client.post(
        "/api/v1/worker/heartbeat", json={"session": SESSION}, headers=ready.headers()
    )
    assert response.status_code == 204
    assert response.content == b""
    assert ready.dispatcher.heartbeats() == {SESSION: ready.clock.now()}
    ready.clock.advance(30)
    ready.lease()  # a lease is a sign of life too
    assert ready.dispatcher.heartbeats() == {SESSION: ready.clock.now()}


def _beat(worker: Worker, session: str = SESSION, **fields: Any) -> Any:
    return worker.client.post(
        "/api/v1/worker/heartbeat",
        json={"session": session, **fields},
        headers=worker.headers(session),
    )


def test_a_heartbeat_tells_when_an_sms_left_and_its_attempt_given_up_counts_it_sent(
    ready: Worker,
) -> None:
    """A program killed for good after its send never reports it: what its beat told
    stays with the attempt given up, so it is counted as sent."""
    told = ready.lease()["trigger_id"]
    ready.clock.advance(2)
    sent_at = ready.clock.now()
    # Named without the spaces around it, as a report's provider is.
    notice = {"trigger_id": told, "sent_at": sent_at.isoformat(), "provider": " gw-a "}
    assert _beat(ready, sent=[notice]).status_code == 204
    ready.clock.advance(LEASE_TTL_SECONDS + 1)
    ready.lease()  # its session's next lease closes what it left unreported
    given_up = ready.stored(told)
    assert given_up is not None
    assert (given_up.error_code, given_up.sent_at, given_up.provider) == (
        "lease_expired",
        sent_at,
        "gw-a",
    )


def test_a_blank_provider_names_none(ready: Worker) -> None:
    told = ready.lease()["trigger_id"]
    notice = {"trigger_id": told, "sent_at": ready.clock.now().isoformat(), "provider": " "}
    assert _beat(ready, sent=[notice]).status_code == 204
    assert ready.report(told, outcome="not_delivered").status_code == 200
    ready.clock.advance(60)
    reported = ready.lease()["trigger_id"]
    assert ready.report(reported, provider="  ").status_code == 200
    stored = [ready.stored(told), ready.stored(reported)]
    assert [(a.sent_at is not None, a.provider) for a in stored if a] == [
        (True, None),
        (False, None),
    ]


def test_a_heartbeat_marks_none_of_another_sessions_attempts(ready: Worker) -> None:
    other = ready.add_session("program2")
    theirs = ready.lease(other)["trigger_id"]
    notice = {"trigger_id": theirs, "sent_at": ready.clock.now().isoformat()}
    assert _beat(ready, sent=[notice]).status_code == 204
    assert ready.report(theirs, session=other, outcome="error", error_code="x").status_code == 200
    stored = ready.stored(theirs)
    assert stored is not None and stored.sent_at is None


def test_a_sent_time_outside_any_lease_is_refused_and_the_beat_still_counts(
    ready: Worker,
) -> None:
    trigger_id = ready.lease()["trigger_id"]
    ready.clock.advance(30)
    long_ago = ready.clock.now() - timedelta(hours=1)
    notice = {"trigger_id": trigger_id, "sent_at": long_ago.isoformat()}
    response = _beat(ready, sent=[notice])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"] == [
        {"field": "sent.0.sent_at", "message": "outside the attempt's lease"}
    ]
    assert ready.dispatcher.heartbeats() == {SESSION: ready.clock.now()}
    assert ready.report(trigger_id, outcome="error", error_code="x").status_code == 200
    stored = ready.stored(trigger_id)
    assert stored is not None and stored.sent_at is None


def test_a_heartbeat_answers_the_country_cap(ready: Worker) -> None:
    """So a program waiting for its turn at a lower cap asks again once it is raised."""

    def beat() -> str | None:
        answer = ready.client.post(
            "/api/v1/worker/heartbeat", json={"session": SESSION}, headers=ready.headers()
        )
        assert answer.status_code == 204, answer.text
        return answer.headers.get(COUNTRY_CAP_HEADER)

    assert beat() == "10"
    country = ready.store.countries.get("UZ")
    assert country is not None
    ready.store.countries.replace(country.model_copy(update={"cap": 12}))
    assert beat() == "12"


def test_unreported_leases_expire_at_the_next_send(ready: Worker) -> None:
    first = ready.lease()["trigger_id"]
    ready.clock.advance(LEASE_TTL_SECONDS + 1)
    second = ready.lease()["trigger_id"]
    expired = ready.stored(first)
    assert expired is not None
    assert expired.outcome is Outcome.error
    assert expired.error_code == "lease_expired"
    assert ready.report(first).json() == {"status": "duplicate"}
    assert ready.report(second).json() == {"status": "recorded"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("lease", {}),
        ("lease", {"session": "program1 UZ_uzmobile; rm -rf /"}),
        ("lease", {"session": ["program1_UZ_uzmobile"]}),
        ("lease", []),
        ("heartbeat", {"session": "x" * 10_000}),
        ("ended", {"session": "../../etc/passwd"}),
    ],
)
def test_a_bad_body_whose_token_cannot_be_checked_is_a_401(
    ready: Worker, path: str, body: Any
) -> None:
    """The token is checked first, against the session the body names: a body with no
    session, or another one, tells its sender no more than a wrong token would."""
    response = ready.client.post(f"/api/v1/worker/{path}", json=body, headers=ready.headers())
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.json()["error"].get("details") is None  # nothing of the body's fields


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("lease", {"session": SESSION, "extra": 1}),
        ("lease", {"session": SESSION, "in_flight": "many"}),
        ("heartbeat", {"session": SESSION, "extra": 1}),
        ("heartbeat", {"session": SESSION, "sent": [{"trigger_id": "../x", "sent_at": NOON}]}),
        ("heartbeat", {"session": SESSION, "sent": [{"trigger_id": TRIGGER, "sent_at": "now"}]}),
        ("heartbeat", {"session": SESSION, "sent": [{"trigger_id": TRIGGER}]}),
        (
            "heartbeat",
            {"session": SESSION, "sent": [{"trigger_id": TRIGGER, "sent_at": NOON, "x": 1}]},
        ),
        (
            "heartbeat",
            {
                "session": SESSION,
                "sent": [{"trigger_id": TRIGGER, "sent_at": NOON, "provider": "a\nb"}],
            },
        ),
        (
            "heartbeat",
            {"session": SESSION, "sent": [{"trigger_id": TRIGGER, "sent_at": NOON}] * 65},
        ),
        ("ended", {"session": SESSION, "exit_code": 3}),
        ("report", {"session": SESSION, "trigger_id": TRIGGER, "outcome": "maybe"}),
        ("report", {"session": SESSION, "trigger_id": "../../etc", "outcome": "delivered"}),
        ("report", {"session": SESSION, "outcome": "delivered"}),
        (
            "report",
            {
                "session": SESSION,
                "trigger_id": TRIGGER,
                "outcome": "delivered",
                "sent_at": "2026-01-05T12:00:05Z",
                "delivered_at": "2026-01-05T12:00:01Z",
            },
        ),
        (
            "report",
            {"session": SESSION, "trigger_id": TRIGGER, "outcome": "error", "sent_at": "soon"},
        ),
    ],
)
def test_bad_input_is_a_json_422(ready: Worker, path: str, body: Any) -> None:
    response = ready.client.post(f"/api/v1/worker/{path}", json=body, headers=ready.headers())
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("lease", LeaseRequest),
        ("report", ReportRequest),
        ("heartbeat", HeartbeatRequest),
        ("ended", EndedRequest),
    ],
)
def test_the_schema_documents_the_worker_routes_body_and_token(
    ready: Worker, path: str, body: type[BaseModel]
) -> None:
    """The routes read their body and token themselves; the schema still tells both."""
    schema = ready.client.get("/openapi.json").json()
    operation = schema["paths"][f"/api/v1/worker/{path}"]["post"]
    assert operation["requestBody"]["required"] is True
    reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    documented = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert set(documented["properties"]) == set(body.model_fields)
    assert set(documented["required"]) == {
        name for name, field in body.model_fields.items() if field.is_required()
    }
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    # Every model the bodies name (the outcome's values, …) is in the schema too.
    for found in _refs(schema):
        assert found.rsplit("/", 1)[1] in schema["components"]["schemas"], found


def test_malformed_json_is_a_json_400(ready: Worker) -> None:
    response = ready.client.post(
        "/api/v1/worker/lease",
        content=b'{"session": ',
        headers={**ready.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_attempts_table_has_the_time_window_indexes(ready: Worker) -> None:
    engine = sa.create_engine(ready.settings.resolved_metrics_url)
    try:
        indexes = {
            tuple(index["column_names"]) for index in sa.inspect(engine).get_indexes("attempts")
        }
    finally:
        engine.dispose()
    for column in ("pair", "program", "country", "session"):
        assert (column, "leased_at") in indexes


def _running(worker: Worker, *sessions: str) -> None:
    started = worker.clock.now() - timedelta(minutes=10)
    for name in sessions:
        worker.store.session_status.add(
            SessionStatus(
                name=name, state=SessionState.running, updated_at=started, started_at=started
            )
        )


def _uz(worker: Worker) -> CountryGoal:
    worker.settle()
    [found] = [goal for goal in worker.dispatcher.goals() if goal.country == "UZ"]
    return found


BEELINE = ["+998911110001", "+998911110002", "+998911110003", "+998911110004"]


def test_a_pair_whose_route_stopped_delivering_is_named_for_its_busy_numbers(
    ready: Worker,
) -> None:
    """UZ_uzmobile and UZ_beeline share UZ's 10 a minute, each code back in 8 s, until
    UZ_uzmobile's route stops delivering: its numbers all await codes, given up on after
    120 s, while UZ_beeline's are mostly free. The country's numbers are not all busy,
    but UZ_uzmobile's hold it back, and the reason says so rather than that its sessions
    asked for fewer sends."""
    ready.add_pair("UZ_beeline", phone_numbers=BEELINE)
    # UZ_beeline's program takes one send at a time: 7.5 a minute, less than the cap alone.
    beeline = ready.add_session("program2", pair="UZ_beeline")
    policy = ready.dispatcher.policy
    ready.dispatcher.policy = replace(
        policy, in_flight=replace(policy.in_flight, program_limits={"program2": 1})
    )
    _running(ready, SESSION, beeline)
    in_flight: list[tuple[str, str, int]] = []
    said: dict[int, CountryGoal] = {}
    for second in range(0, 600 + 110, 2):
        for trigger_id, session, leased in list(in_flight):
            delivering = session == beeline or leased < 600
            if delivering and second - leased >= 8:
                assert ready.report(trigger_id, session=session).status_code == 200
            elif not delivering and second - leased >= 120:
                answer = ready.report(trigger_id, session=session, outcome="not_delivered")
                assert answer.status_code == 200
            else:
                continue
            in_flight.remove((trigger_id, session, leased))
        for session in (SESSION, beeline):
            lease = ready.lease(session)
            if lease["action"] == "send":
                in_flight.append((lease["trigger_id"], session, second))
        if second >= 600 and second % 10 == 0:
            said[second - 600] = _uz(ready)
        ready.clock.advance(2)
    assert said[0].on_goal
    short = {after: goal for after, goal in said.items() if not goal.on_goal}
    assert short, [(after, goal.reason) for after, goal in said.items()]
    for after, goal in short.items():
        assert goal.awaiting_code <= goal.test_numbers == 7
        assert goal.reason_kind in (ReasonKind.awaiting_codes, ReasonKind.numbers_busy), (
            after,
            goal.reason,
        )
        assert goal.reason is not None
        assert goal.reason.startswith("test numbers busy: "), (after, goal.reason)
        if goal.awaiting_code < 6:  # the country's are not all busy: the pair is named
            assert "UZ_uzmobile's 3 of 3 await a code" in goal.reason, (after, goal.reason)
    last = said[max(said)]
    assert (last.reason_kind, last.reason) == (
        ReasonKind.numbers_busy,
        f"test numbers busy: UZ_uzmobile's 3 of 3 await a code, 3 for over a minute"
        f" ({last.awaiting_code} of the country's 7); codes are late: add test numbers only"
        " if the route delivers",
    )


def test_a_paused_pairs_sms_in_flight_are_not_counted_against_the_others_numbers(
    ready: Worker,
) -> None:
    """The policy pauses UZ_uzmobile with its three SMS in flight: its sessions drain, and
    those SMS finish on its own numbers. The country's test numbers are UZ_beeline's now,
    and only UZ_beeline's numbers awaiting a code are counted against them."""
    ready.add_pair("UZ_beeline", phone_numbers=BEELINE[:2])
    beeline = ready.add_session(pair="UZ_beeline")
    _running(ready, SESSION, beeline)
    for _ in range(3):
        assert ready.lease()["action"] == "send"
        ready.clock.advance(6)
    assert ready.lease(beeline)["action"] == "send"
    before = _uz(ready)
    assert (before.awaiting_code, before.test_numbers) == (4, 5)
    ready.update_pair(state=PairState.paused, state_actor="policy")
    paused = _uz(ready)
    assert (paused.awaiting_code, paused.test_numbers) == (1, 2)
    assert paused.pairs_paused == ["UZ_uzmobile"]


def test_leases_and_reports_do_not_queue_behind_the_other_routes_threads(ready: Worker) -> None:
    """Every thread the other routes share is taken (a burst of heavy reads): the
    programs' leases and reports have threads of their own and are answered."""
    portal = ready.client.portal
    assert portal is not None
    shared = portal.call(anyio.to_thread.current_default_thread_limiter)
    holders = [object() for _ in range(int(shared.total_tokens))]
    for holder in holders:
        portal.call(shared.acquire_on_behalf_of, holder)
    answered: list[int] = []

    def lease_and_report() -> None:
        action = ready.lease()
        answered.append(ready.report(action["trigger_id"]).status_code)

    try:
        asking = threading.Thread(target=lease_and_report, daemon=True)
        asking.start()
        asking.join(timeout=10)
        assert answered == [200], "the lease or the report waited for the shared threads"
    finally:
        for holder in holders:
            portal.call(shared.release_on_behalf_of, holder)
