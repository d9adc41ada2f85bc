"""Delivery latency percentiles equal the exact ones of the attempts, within 2 %, read
from raw attempts and from the rollups alike."""

from __future__ import annotations

from datetime import datetime, timedelta

from smsfleet.attempts.models import Outcome
from smsfleet.core.quantiles import quantile
from smsfleet.metrics.buckets import floor_to
from tests.support.latencies import QUANTILES, exact, samples, within
from tests.support.metrics_fleet import Fleet

T0 = datetime.fromisoformat("2026-01-05T12:00:00+00:00")
START = T0 - timedelta(hours=3, minutes=20)
PAIR_KIND = {"UZ_uzmobile": "lognormal", "UZ_beeline": "bimodal", "TJ_megafon": "constant"}
PROGRAM = {"UZ_uzmobile": "program1", "UZ_beeline": "program1", "TJ_megafon": "program2"}


def test_percentiles_are_within_two_percent_from_raw_attempts_and_rollups(fleet: Fleet) -> None:
    made: dict[str, list[tuple[datetime, int]]] = {}
    attempts = []
    for pair, kind in PAIR_KIND.items():
        latencies = [max(1, round(v)) for v in samples(kind, 2_000, scale=2_000.0)]
        made[pair] = [(START + timedelta(seconds=6 * i + 1), v) for i, v in enumerate(latencies)]
        attempts += [
            fleet.attempt(pair, PROGRAM[pair], Outcome.delivered, when, latency_ms=latency)
            for when, latency in made[pair]
        ]
    service = fleet.metrics.service
    service.ingest(attempts)
    end = START + timedelta(hours=3, minutes=30)
    fleet.clock.current = end + timedelta(seconds=30)

    def check() -> None:
        summary = service.summary(start=START, end=end, group_by="pair")
        for group in summary.groups:
            latencies = [latency for _, latency in made[group.key]]
            assert within(group.latency_p50_ms, exact(latencies, 0.5)), group.key
            assert within(group.latency_p95_ms, exact(latencies, 0.95)), group.key
        by_country = service.summary(start=START, end=end, group_by="country")
        for group in by_country.groups:
            latencies = [v for pair in made if pair[:2] == group.key for _, v in made[pair]]
            assert within(group.latency_p95_ms, exact(latencies, 0.95)), group.key
        tallies = service.store.tallies(start=START, end=end, group=("pair",))
        for (_, (pair,)), tally in tallies.items():
            latencies = [latency for _, latency in made[pair]]
            for q in QUANTILES:
                assert within(quantile(tally.bins, q), exact(latencies, q)), (pair, q)
        series = service.timeseries(start=START, end=end, step="1h", group_by="pair")
        for one in series.series:
            for point in one.points:
                latencies = [
                    v for when, v in made[one.key] if floor_to(when, timedelta(hours=1)) == point.t
                ]
                if latencies:
                    assert within(point.latency_p95_ms, exact(latencies, 0.95)), point.t

    check()  # raw attempts only
    fleet.metrics.job.run_once()
    assert service.store.rolled_until() == floor_to(fleet.clock.current, timedelta(minutes=1))
    check()  # whole hours from the hour rollups, the rest from minutes
