"""A real fleet for a few seconds, then every figure the control plane keeps against the
simulator's ground truth: the stored attempts, the minute and hour rollups, the seed's
`sms_metrics`, the API summary and the Prometheus counters must all equal it.

The control plane, the simulator and the programs are real (see tests/support/fleet.py).
Once the sessions are stopped and every report is in, the control plane is stopped and
the rollups of the last, still open, minute are folded with the store's own `rollup`
(the job folds only whole minutes; the earlier ones it folded itself).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from smsfleet.attempts.models import is_broken_off
from smsfleet.core.sql import create_sql_engine
from smsfleet.metrics.rollups import Rollups
from smsfleet.metrics.tables import metrics_hour_table, metrics_minute_table, sms_metrics_table
from tests.support.fleet import (
    PAIR,
    REPORTED_AS,
    STOP_TIMEOUT,
    Rig,
    rig,
    seed,
    sessions_running,
    stop_sessions,
)
from tests.support.waiting import START_TIMEOUT, eventually

__all__ = ["rig"]  # the fixture

RUN_SECONDS = 8.0
OUTCOMES = ("delivered", "not_delivered", "send_failed", "error")
COUNTED = (*OUTCOMES, "broken_off", "broken_off_sent", "granted")


def _expected_outcomes(rig: Rig) -> Counter[str]:
    """Outcomes by the simulator's truth; an attempt stopped before the gateway knew
    counts as broken off (`broken_off`), as its program reported it, and as sent too
    (`broken_off_sent`) when its SMS had reached the gateway. Every attempt was granted
    (`granted`)."""
    attempts = {a["id"]: a for a in rig.attempts()}
    truth = {r["trigger_id"]: r for r in rig.truth()}
    assert None not in truth
    completed = {i: a for i, a in attempts.items() if a["outcome"] is not None}
    assert set(completed) == set(truth), "the attempts are not the SMS the simulator saw"
    expected: Counter[str] = Counter(granted=len(attempts))
    for trigger_id, record in truth.items():
        attempt = completed[trigger_id]
        if is_broken_off(attempt["outcome"], attempt["error_code"]):
            expected["broken_off"] += 1
            if attempt["sent_at"] is not None:
                expected["broken_off_sent"] += 1
            continue
        outcome = REPORTED_AS.get(record["outcome"], "send_failed")
        assert attempt["outcome"] == outcome, (record, attempt)
        expected[outcome] += 1
    return expected


def _prometheus(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("pair") != PAIR:
                continue
            if sample.name == "smsfleet_sms_sent_total":
                found["sent"] += int(sample.value)
            elif sample.name == "smsfleet_sms_delivered_total":
                found["delivered"] += int(sample.value)
            elif sample.name == "smsfleet_sms_broken_off_total":
                found["broken_off"] += int(sample.value)
            elif sample.name == "smsfleet_sms_failed_total":
                found[sample.labels["reason"]] += int(sample.value)
    return found


def test_every_figure_equals_the_ground_truth(rig: Rig) -> None:
    began = datetime.now(UTC) - timedelta(minutes=1)
    with rig.admin() as client:
        seed(client)
        eventually(lambda: sessions_running(client), START_TIMEOUT, "both sessions running")
        time.sleep(RUN_SECONDS)
        stop_sessions(client, timeout=STOP_TIMEOUT)
        eventually(
            lambda: all(a["outcome"] is not None for a in rig.attempts()),
            10,
            "every attempt reported",
        )
        expected = _expected_outcomes(rig)
        sent = expected["delivered"] + expected["not_delivered"] + expected["broken_off_sent"]
        failed = expected["send_failed"] + expected["error"]
        assert expected["granted"] >= 10, f"the fleet hardly ran: {expected}"

        ended = datetime.now(UTC) + timedelta(minutes=1)
        summary = client.get(
            "/api/v1/metrics/summary",
            params={"start": began.isoformat(), "end": ended.isoformat(), "group_by": "pair"},
        )
        assert summary.status_code == 200, summary.text
        (group,) = summary.json()["groups"]
        assert group["key"] == PAIR
        assert {name: group[name] for name in OUTCOMES if name != "error"} == {
            name: expected[name] for name in OUTCOMES if name != "error"
        }
        assert (group["sent"], group["failed"], group["errors"], group["broken_off"]) == (
            sent,
            failed,
            expected["error"],
            expected["broken_off"],
        )
        assert group["granted"] == expected["granted"]
        assert group["completed"] == sum(expected[name] for name in OUTCOMES)

        exposition = client.get("/metrics")
        assert exposition.status_code == 200
        assert _prometheus(exposition.text) == +Counter(
            sent=sent,
            delivered=expected["delivered"],
            send_failed=expected["send_failed"],
            error=expected["error"],
            broken_off=expected["broken_off"],
        )
    rig.control_plane.stop()

    engine = create_sql_engine(f"sqlite:///{rig.data_dir / 'metrics.db'}")
    try:
        Rollups(engine).rollup(start=began, end=ended)
        with engine.connect() as connection:
            for table in (metrics_minute_table, metrics_hour_table):
                rolled = connection.execute(
                    sa.select(*(sa.func.sum(table.c[name]) for name in COUNTED)).where(
                        table.c.pair == PAIR
                    )
                ).one()
                assert dict(zip(COUNTED, rolled, strict=True)) == {
                    name: expected[name] for name in COUNTED
                }, table.name
            table = sms_metrics_table
            rows = connection.execute(
                sa.select(table.c.sms_sent, table.c.failures, table.c.success_rate).where(
                    table.c.country == "UZ", table.c.operator == "uzmobile"
                )
            ).all()
    finally:
        engine.dispose()
    assert rows, "no sms_metrics row for the pair"
    assert sum(row.sms_sent for row in rows) == sent
    assert sum(row.failures for row in rows) == failed
    # A minute of SMS all broken off after sending judged nothing: no rate.
    assert all(row.success_rate is None or 0.0 <= row.success_rate <= 1.0 for row in rows)
