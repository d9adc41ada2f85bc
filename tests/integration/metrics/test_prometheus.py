"""Prometheus text on a registry of its own; outcomes recorded through the dispatcher."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from smsfleet.attempts.models import Outcome
from smsfleet.core.settings import Settings
from smsfleet.core.sql import open_metrics_engine
from smsfleet.dispatch.models import ReportRequest, SendAction
from smsfleet.dispatch.service import build_dispatcher
from smsfleet.dispatch.store import HeartbeatStore
from smsfleet.pairs.models import PairState
from smsfleet.policy.models import POLICY_ACTOR
from smsfleet.sessions.models import DesiredState, SessionSpec, SessionState, SessionStatus
from tests.integration.metrics.test_metrics_service import T0, hand_dataset
from tests.support.deploy import RULES, binary
from tests.support.metrics_fleet import Fleet

Labels = frozenset[tuple[str, str]]


def samples(fleet: Fleet) -> dict[tuple[str, Labels], float]:
    body, content_type = asyncio.run(fleet.metrics.exposition.answer(None))
    assert content_type.startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def route(pair: str, program: str, **extra: str) -> Labels:
    return frozenset({"country": pair[:2], "pair": pair, "program": program, **extra}.items())


def add_session(fleet: Fleet, pair: str, program: str, state: SessionState, restarts: int) -> None:
    name = f"{program}_{pair}"
    now = fleet.clock.now()
    fleet.config.session_specs.add(
        SessionSpec(
            name=name, program=program, pair=pair, desired=DesiredState.running, created_at=now
        )
    )
    fleet.config.session_status.add(
        SessionStatus(
            name=name,
            state=state,
            restarts=restarts,
            requested_restarts=restarts + 1,
            updated_at=now,
        )
    )


def test_exposition_has_the_expected_samples_and_forgets_deleted_pairs(fleet: Fleet) -> None:
    hand_dataset(fleet)
    add_session(fleet, "UZ_uzmobile", "program1", SessionState.running, 2)
    add_session(fleet, "TJ_megafon", "program2", SessionState.backoff, 5)
    found = samples(fleet)

    assert found[("smsfleet_sms_sent_total", route("UZ_uzmobile", "program1"))] == 2
    assert found[("smsfleet_sms_sent_total", route("UZ_uzmobile", "program2"))] == 1
    assert found[("smsfleet_sms_delivered_total", route("UZ_uzmobile", "program2"))] == 0
    assert found[("smsfleet_sms_delivered_total", route("TJ_megafon", "program2"))] == 1
    failed = "smsfleet_sms_failed_total"
    assert found[(failed, route("UZ_beeline", "program1", reason="send_failed"))] == 1
    assert found[(failed, route("TJ_megafon", "program2", reason="error"))] == 1
    latency = route("UZ_uzmobile", "program1")
    assert found[("smsfleet_sms_delivery_seconds_count", latency)] == 2
    assert found[("smsfleet_sms_delivery_seconds_sum", latency)] == 1.9
    assert found[("smsfleet_sms_delivery_seconds_bucket", latency | {("le", "0.5")})] == 1
    assert found[("smsfleet_sms_delivery_seconds_bucket", latency | {("le", "2.0")})] == 2

    session = frozenset(
        {
            "session": "program1_UZ_uzmobile",
            "pair": "UZ_uzmobile",
            "program": "program1",
            "country": "UZ",
        }.items()
    )
    assert found[("smsfleet_session_up", session)] == 1
    assert found[("smsfleet_session_restarts_total", session)] == 2
    assert found[("smsfleet_session_requested_restarts_total", session)] == 3
    assert found[("smsfleet_session_desired_running", session)] == 1
    megafon_session = frozenset(
        {
            "session": "program2_TJ_megafon",
            "pair": "TJ_megafon",
            "program": "program2",
            "country": "TJ",
        }.items()
    )
    assert found[("smsfleet_session_up", megafon_session)] == 0
    pair = frozenset({"country": "UZ", "pair": "UZ_uzmobile"}.items())
    assert found[("smsfleet_pair_success_ratio", pair)] == 2 / 3
    # 4 granted in UZ since the collector started at 12:00, 3 reported and 1 still open
    # (the clock is at 12:04:30, so over 4.5 minutes): what the cap counts, when granted.
    assert found[("smsfleet_country_send_rate", frozenset({("country", "UZ")}))] == 4 / 4.5
    assert found[("smsfleet_country_send_cap", frozenset({("country", "UZ")}))] == 10
    assert all("phone" not in dict(labels) for _, labels in found)

    fleet.config.pairs.delete("TJ_megafon")
    after = samples(fleet)
    assert not [key for key in after if ("pair", "TJ_megafon") in key[1]]
    assert ("smsfleet_country_send_rate", frozenset({("country", "TJ")})) not in after
    assert after[("smsfleet_sms_sent_total", route("UZ_uzmobile", "program1"))] == 2


def test_the_send_rate_is_over_the_time_since_the_start_when_shorter(fleet: Fleet) -> None:
    """A grant every 6 s in TJ (its cap, 10 a minute) from the collector's start on."""
    start, granted = fleet.clock.now(), 0
    rate = ("smsfleet_country_send_rate", frozenset({("country", "TJ")}))

    def rate_after(elapsed: timedelta) -> float:
        nonlocal granted
        fleet.clock.current = start + elapsed
        leases = []
        while (leased := start + timedelta(seconds=3 + 6 * granted)) <= fleet.clock.now():
            # Reported 30 s after its lease, delivered.
            done = leased + timedelta(seconds=30)
            leases.append(fleet.attempt("TJ_megafon", "program2", Outcome.delivered, done))
            granted += 1
        fleet.metrics.service.ingest(leases)
        return samples(fleet)[rate]

    # A full minute at least: the first seconds' grants alone may read above the cap.
    assert rate_after(timedelta(seconds=30)) == 5
    assert rate_after(timedelta(minutes=2)) == 10  # 20 grants over 2 minutes, not 5
    assert rate_after(timedelta(minutes=7)) == 10  # 50 over the last 5 minutes


def set_state(fleet: Fleet, key: str, state: PairState, actor: str) -> None:
    pair = fleet.config.pairs.get(key)
    assert pair is not None
    reason = f"{state.value} by the policy: 12% delivered" if actor == POLICY_ACTOR else None
    update = {"state": state, "state_actor": actor, "state_reason": reason}
    fleet.config.pairs.replace(pair.model_copy(update=update))


def session_down_alert() -> str:
    """The expression of the shipped `SmsfleetSessionDown` alert."""
    rules = yaml.safe_load(RULES.read_text())
    found = [
        rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "SmsfleetSessionDown"
    ]
    assert len(found) == 1
    return str(found[0])


def test_only_sessions_that_should_run_are_down_to_the_shipped_alert(
    fleet: Fleet, tmp_path: Path
) -> None:
    """A session wanted running whose pair the policy paused, or a person disabled, is
    stopped on purpose: its desired-running gauge is 0 and the shipped alert stays quiet.
    A probing pair's sessions run, so one of them not running is down."""
    add_session(fleet, "UZ_uzmobile", "program1", SessionState.stopped, 0)
    add_session(fleet, "TJ_megafon", "program2", SessionState.stopped, 0)
    add_session(fleet, "UZ_beeline", "program1", SessionState.backoff, 1)
    set_state(fleet, "UZ_uzmobile", PairState.paused, POLICY_ACTOR)
    set_state(fleet, "TJ_megafon", PairState.disabled, "alice")
    set_state(fleet, "UZ_beeline", PairState.probing, POLICY_ACTOR)
    found = samples(fleet)
    gauges = ("smsfleet_session_up", "smsfleet_session_desired_running")
    wanted = {
        dict(labels)["session"]: value
        for (name, labels), value in found.items()
        if name == "smsfleet_session_desired_running"
    }
    assert wanted == {
        "program1_UZ_uzmobile": 0,
        "program2_TJ_megafon": 0,
        "program1_UZ_beeline": 1,
    }

    # What Prometheus would scrape for 10 minutes, through the shipped alert's expression.
    def series(name: str, labels: Labels) -> str:
        inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels))
        return f"{name}{{{inner}}}"

    down = frozenset(
        {
            "session": "program1_UZ_beeline",
            "pair": "UZ_beeline",
            "program": "program1",
            "country": "UZ",
        }.items()
    )
    test = {
        "rule_files": [str(RULES)],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series(name, labels), "values": f"{value:g}x10"}
                    for (name, labels), value in sorted(found.items())
                    if name in gauges
                ],
                "promql_expr_test": [
                    {
                        "expr": session_down_alert(),
                        "eval_time": "5m",
                        "exp_samples": [
                            {"labels": series("smsfleet_session_up", down), "value": 0}
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "session_down.test.yml"
    path.write_text(yaml.safe_dump(test))
    result = subprocess.run(
        [binary("promtool"), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dispatcher_reports_reach_the_bus_and_the_counters(
    fleet: Fleet, metrics_url: str, tmp_path: Path
) -> None:
    add_session(fleet, "UZ_uzmobile", "program1", SessionState.running, 0)
    settings = Settings(data_dir=tmp_path, metrics_url=metrics_url)
    engine = open_metrics_engine(metrics_url)
    dispatcher = build_dispatcher(
        settings=settings,
        engine=engine,
        config_store=fleet.config,
        clock=fleet.clock,
        heartbeats=HeartbeatStore(engine),
        on_report=fleet.metrics.service.record,
    )
    try:
        session = "program1_UZ_uzmobile"
        lease = dispatcher.lease(session=session)
        assert isinstance(lease, SendAction)
        sent_at = fleet.clock.now()
        fleet.clock.advance(3)
        report = ReportRequest(
            trigger_id=lease.trigger_id,
            session=session,
            outcome=Outcome.delivered,
            sent_at=sent_at,
            delivered_at=fleet.clock.now(),
        )
        dispatcher.report(session=session, report=report)
        dispatcher.report(session=session, report=report)  # a duplicate publishes nothing
        assert [(s.id, s.outcome, s.latency_ms) for s in fleet.published] == [
            (lease.trigger_id, "delivered", 3000)
        ]

        fleet.clock.advance(6)  # the country's cap spaces sends 6 s apart
        unreported = dispatcher.lease(session=session)
        assert isinstance(unreported, SendAction)
        fleet.clock.advance(dispatcher.policy.lease_ttl.total_seconds() + 60)
        failing = dispatcher.lease(session=session)
        assert isinstance(failing, SendAction)
        expired = fleet.published[-1]
        assert (expired.id, expired.outcome, expired.error_code, expired.broken_off) == (
            unreported.trigger_id,
            "error",
            "lease_expired",
            True,
        )
        failure = ReportRequest(
            trigger_id=failing.trigger_id,
            session=session,
            outcome=Outcome.error,
            error_code="gateway_unreachable",
        )
        dispatcher.report(session=session, report=failure)
        assert (fleet.published[-1].error_code, fleet.published[-1].broken_off) == (
            "gateway_unreachable",
            False,
        )
    finally:
        dispatcher.close()
        engine.dispose()
    found = samples(fleet)
    uzmobile = route("UZ_uzmobile", "program1")
    assert found[("smsfleet_sms_delivered_total", uzmobile)] == 1
    # The program's own error is a failure of the route; the lease it never reported is not.
    failed = route("UZ_uzmobile", "program1", reason="error")
    assert found[("smsfleet_sms_failed_total", failed)] == 1
    assert found[("smsfleet_sms_broken_off_total", uzmobile)] == 1
    summary = fleet.metrics.service.summary(
        start=T0, end=fleet.clock.now() + timedelta(seconds=1), group_by="pair", key="UZ_uzmobile"
    )
    totals = summary.totals
    assert (totals.delivered, totals.errors, totals.broken_off, totals.completed) == (1, 1, 1, 2)
    assert totals.success_rate == 0.5
    assert totals.errors_by_code == {"gateway_unreachable": 1, "lease_expired": 1}


def test_an_attempt_broken_off_after_its_sms_was_sent_counts_as_sent(fleet: Fleet) -> None:
    """`smsfleet_sms_sent` counts what `sent` counts: an attempt broken off (a pause's
    `interrupted`) whose SMS had reached the gateway, not one broken off before."""
    pair, program = "UZ_uzmobile", "program1"
    sent = fleet.attempt(pair, program, Outcome.error, T0, error_code="interrupted")
    unsent = fleet.attempt(pair, program, Outcome.error, T0, error_code="lease_lost")
    assert sent.sent_at is not None
    fleet.metrics.service.ingest(
        [
            fleet.attempt(pair, program, Outcome.not_delivered, T0),
            sent,
            unsent.model_copy(update={"sent_at": None}),
        ]
    )
    found = samples(fleet)
    assert found[("smsfleet_sms_sent_total", route(pair, program))] == 2
    assert found[("smsfleet_sms_broken_off_total", route(pair, program))] == 2
    # What a success ratio takes off the sent: the attempts that judge the route are 1.
    assert found[("smsfleet_sms_broken_off_sent_total", route(pair, program))] == 1
    assert found[("smsfleet_sms_delivered_total", route(pair, program))] == 0
    assert not any(name == "smsfleet_sms_failed_total" for name, _ in found)
    fleet.clock.current = T0 + timedelta(minutes=1)
    totals = fleet.metrics.service.summary(start=T0, end=fleet.clock.now()).totals
    assert (totals.sent, totals.completed, totals.broken_off) == (2, 1, 2)
