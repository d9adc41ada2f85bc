"""A probed pair's newest probes are the latest it sent: a probe given up on completes two
minutes after it went out, after probes sent later, and must not count among the newest
once those show the route healed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.pairs.models import Pair, PairState
from smsfleet.pairs.service import ensure_countries
from smsfleet.policy.models import POLICY_ACTOR, PairStanding, PolicyAction, StandingQuery
from smsfleet.stores import open_config_store
from tests.support.fakes import FakeClock
from tests.support.services import policy_service

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
PROBING_SINCE = NOW - timedelta(minutes=10)
SECOND = timedelta(seconds=1)
DELIVERED = Outcome.delivered


def _probe(number: int, sent_ago: timedelta, took: timedelta, outcome: Outcome) -> Attempt:
    return Attempt(
        id=f"{number:032x}",
        session="program1_UZ_uzmobile",
        pair="UZ_uzmobile",
        country="UZ",
        operator="uzmobile",
        program="program1",
        phone="+998901234567",
        leased_at=NOW - sent_ago,
        completed_at=NOW - sent_ago + took,
        outcome=outcome,
    )


def _standing(metrics_engine: Engine, tmp_path: Path, attempts: list[Attempt]) -> PairStanding:
    """UZ_uzmobile's standing, probed since PROBING_SINCE, with these attempts."""
    store = open_config_store(f"sqlite:///{tmp_path / 'config.db'}")
    try:
        ensure_countries(countries=store.countries, default_cap=10)
        store.pairs.add(
            Pair(
                key="UZ_uzmobile",
                country="UZ",
                operator="UzMobile",
                slug="uzmobile",
                state=PairState.probing,
                state_actor=POLICY_ACTOR,
                state_changed_at=PROBING_SINCE,
                phone_numbers=["+998901234567"],
                created_at=PROBING_SINCE,
                updated_at=PROBING_SINCE,
            )
        )
        AttemptStore(metrics_engine).add_many(attempts)
        policy = policy_service(metrics_engine, store, FakeClock(NOW))
        (standing,) = policy.standing(StandingQuery(pair="UZ_uzmobile"))
    finally:
        store.close()
    return standing


def test_a_probe_given_up_on_after_later_ones_does_not_hold_a_healed_route_back(
    metrics_engine: Engine, tmp_path: Path
) -> None:
    # The first probe went out before the route healed and was given up on 2 min
    # later; the ten sent after it were delivered within seconds, before that.
    given_up = _probe(0, timedelta(minutes=9), timedelta(minutes=2), Outcome.not_delivered)
    healed = [
        _probe(n, timedelta(minutes=8, seconds=30) - n * 20 * SECOND, 5 * SECOND, DELIVERED)
        for n in range(1, 11)
    ]
    standing = _standing(metrics_engine, tmp_path, [given_up, *healed])
    assert standing.action is PolicyAction.resumed, standing.reason
    assert "while probing, 10 of the newest 10 probes delivered (100 %)" in standing.reason


def test_an_sms_sent_before_probing_began_is_not_a_probe(
    metrics_engine: Engine, tmp_path: Path
) -> None:
    """The pause's last SMS, given up on two minutes after it went out (as long as the
    cool-down before probing), completes after probing began: it is the failing route's,
    not a probe's."""
    sent_before = _probe(0, timedelta(minutes=11), timedelta(minutes=2), Outcome.not_delivered)
    probes = [
        _probe(n, timedelta(minutes=9) - n * 30 * SECOND, 5 * SECOND, DELIVERED)
        for n in range(1, 5)
    ]
    standing = _standing(metrics_engine, tmp_path, [sent_before, *probes])
    assert standing.action is None, standing.reason
    assert "4 of the 10 probes a decision needs have completed, 4 delivered" in standing.reason
