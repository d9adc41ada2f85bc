"""Summaries, time series, heatmap, rollups, `sms_metrics` and purge on SQLite and MariaDB."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from smsfleet.attempts.models import Attempt, Completion, Outcome
from smsfleet.attempts.store import attempts_table
from smsfleet.metrics.models import Summary
from smsfleet.metrics.service import JobReport
from smsfleet.metrics.store import SmsMetricRow
from smsfleet.metrics.tables import metrics_hour_country_table
from tests.support.metrics_fleet import Fleet

T0 = datetime.fromisoformat("2026-01-05T12:00:00+00:00")


def at(minutes: int, seconds: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def hand_dataset(fleet: Fleet) -> list[Attempt]:
    """Six completed attempts over four minutes, and one still open."""
    attempts = [
        fleet.attempt("UZ_uzmobile", "program1", Outcome.delivered, at(0, 10), latency_ms=400),
        fleet.attempt("UZ_uzmobile", "program1", Outcome.delivered, at(0, 50), latency_ms=1500),
        fleet.attempt("UZ_uzmobile", "program2", Outcome.not_delivered, at(1, 30)),
        fleet.attempt("UZ_beeline", "program1", Outcome.send_failed, at(2, 5), error_code="E_SEND"),
        fleet.attempt("TJ_megafon", "program2", Outcome.error, at(2, 40), error_code="E_TIMEOUT"),
        fleet.attempt("TJ_megafon", "program2", Outcome.delivered, at(3, 15), latency_ms=3000),
    ]
    fleet.metrics.service.ingest(attempts)
    still_open = fleet.attempt("UZ_beeline", "program1", Outcome.delivered, at(3, 30))
    fleet.metrics.service.attempts.add(
        still_open.model_copy(update={"outcome": None, "completed_at": None})
    )
    fleet.clock.current = at(4, 30)
    return attempts


def test_summary_by_pair_equals_hand_computed_values(fleet: Fleet) -> None:
    hand_dataset(fleet)
    summary = fleet.metrics.service.summary(start=T0, end=at(4), group_by="pair")
    groups = {group.key: group for group in summary.groups}
    assert set(groups) == {"UZ_uzmobile", "UZ_beeline", "TJ_megafon"}

    uzmobile = groups["UZ_uzmobile"]
    assert (uzmobile.country, uzmobile.pair, uzmobile.program) == ("UZ", "UZ_uzmobile", None)
    assert (uzmobile.sent, uzmobile.delivered, uzmobile.not_delivered) == (3, 2, 1)
    assert (uzmobile.failed, uzmobile.errors, uzmobile.completed) == (0, 0, 3)
    assert uzmobile.success_rate == 2 / 3
    # 400 and 1500 ms, by nearest rank, within 2 %: read as 400 and 1519 ms.
    assert (uzmobile.latency_p50_ms, uzmobile.latency_p95_ms) == (400, 1519)
    assert uzmobile.errors_by_code == {}

    beeline = groups["UZ_beeline"]
    assert (beeline.sent, beeline.send_failed, beeline.failed, beeline.completed) == (0, 1, 1, 1)
    assert beeline.success_rate == 0.0
    assert beeline.errors_by_code == {"E_SEND": 1}
    assert beeline.latency_p50_ms is None

    megafon = groups["TJ_megafon"]
    assert (megafon.sent, megafon.delivered, megafon.failed, megafon.errors) == (1, 1, 1, 1)
    assert megafon.success_rate == 0.5
    assert (megafon.latency_p50_ms, megafon.latency_p95_ms) == (2959, 2959)
    assert megafon.errors_by_code == {"E_TIMEOUT": 1}

    totals = summary.totals
    assert (totals.sent, totals.delivered, totals.failed, totals.errors) == (4, 3, 2, 1)
    assert (totals.completed, totals.success_rate) == (6, 0.5)
    assert (totals.latency_p50_ms, totals.latency_p95_ms) == (1519, 2959)
    assert totals.errors_by_code == {"E_SEND": 1, "E_TIMEOUT": 1}
    # Each leased 30 s before its report: the first before the window, the open one in it.
    assert (totals.granted, totals.achieved_per_minute) == (6, 1.5)  # over 4 minutes

    by_country = fleet.metrics.service.summary(start=T0, end=at(4), group_by="country")
    countries = {group.key: group for group in by_country.groups}
    assert {key: (g.completed, g.cap_per_minute) for key, g in countries.items()} == {
        "UZ": (4, 10),
        "TJ": (2, 10),
    }
    by_program = fleet.metrics.service.summary(start=T0, end=at(4), group_by="program")
    assert {g.key: g.completed for g in by_program.groups} == {"program1": 3, "program2": 3}


def test_the_two_minute_window_counts_what_completed_in_its_last_two_minutes(fleet: Fleet) -> None:
    """The dashboard's "sent per minute" window, the same as the dispatcher's goals';
    its grants are those leased in it."""
    hand_dataset(fleet)  # now 4:30: the window holds 2:30 to 4:30
    totals = fleet.metrics.service.summary(window="2m", group_by="pair").totals
    assert (totals.completed, totals.sent, totals.delivered, totals.errors) == (2, 1, 1, 1)
    # Leased at 2:45 (reported at 3:15) and 3:00 (still open).
    assert (totals.granted, totals.achieved_per_minute) == (2, 1.0)


def test_a_minutes_grants_never_exceed_the_cap_though_its_reports_may(fleet: Fleet) -> None:
    """A country granted 10 sends a minute, reported 5 s to 2 min later: reports bunch,
    so some minutes complete more than 10, while each minute's grants, counted by lease
    time, are 10, from raw attempts and from rollups alike."""
    delays = (5, 110, 20, 95, 10, 60, 15, 30, 100, 45)  # seconds from lease to report
    attempts = []
    for minute in range(10):
        for index in range(10):
            leased = at(minute, 6 * index)
            delay = timedelta(seconds=delays[(index + minute) % len(delays)])
            attempts.append(
                fleet.attempt(
                    "UZ_uzmobile",
                    "program1",
                    Outcome.not_delivered,
                    leased + delay,
                    leased_before=delay,
                )
            )
    service = fleet.metrics.service
    service.ingest(attempts)
    fleet.clock.current = at(13)

    def per_minute() -> list[tuple[int, int]]:
        trend = service.timeseries(start=T0, end=at(10), step="1m", group_by="country")
        (series,) = trend.series
        return [(point.granted, point.sent) for point in series.points]

    raw = per_minute()
    assert [granted for granted, _ in raw] == [10] * 10
    assert max(sent for _, sent in raw) > 10  # what the cap does not count
    uz = service.summary(start=T0, end=at(10), group_by="country", key="UZ").groups[0]
    assert (uz.granted, uz.achieved_per_minute, uz.cap_per_minute) == (100, 10.0, 10)
    fleet.metrics.job.run_once()
    assert service.store.rolled_until() == at(12)
    assert per_minute() == raw


def test_summary_is_the_same_from_rollups(fleet: Fleet) -> None:
    hand_dataset(fleet)
    service = fleet.metrics.service
    before = [service.summary(start=T0, end=at(4), group_by=g) for g in ("pair", "program")]
    report = fleet.metrics.job.run_once()
    assert isinstance(report, JobReport)
    assert report.rolled_until == at(4)
    after = [service.summary(start=T0, end=at(4), group_by=g) for g in ("pair", "program")]
    assert after == before


def test_timeseries_and_heatmap_equal_hand_computed_values(fleet: Fleet) -> None:
    hand_dataset(fleet)
    series = fleet.metrics.service.timeseries(
        start=T0, end=at(4), step="1m", group_by="pair", key="UZ_uzmobile"
    )
    assert [s.key for s in series.series] == ["UZ_uzmobile"]
    points = [
        (p.t, p.sent, p.delivered, p.failed, p.granted, p.success_rate, p.latency_p95_ms)
        for p in series.series[0].points
    ]
    # Grants by lease time (30 s before each report; the first leased before T0).
    assert points == [
        (at(0), 2, 2, 0, 1, 1.0, 1519),
        (at(1), 1, 0, 0, 1, 0.0, None),
        (at(2), 0, 0, 0, 0, None, None),
        (at(3), 0, 0, 0, 0, None, None),
    ]
    heatmap = fleet.metrics.service.heatmap(start=T0, end=at(4))
    assert heatmap.hours == [T0]
    cells = {row.country: row.cells[0] for row in heatmap.rows}
    assert {
        c: (cell.completed, cell.delivered, cell.success_rate) for c, cell in cells.items()
    } == {
        "TJ": (2, 1, 0.5),
        "UZ": (4, 2, 0.5),
    }


def test_sms_metrics_has_one_row_per_minute_and_pair_and_reruns_replace_it(fleet: Fleet) -> None:
    hand_dataset(fleet)
    fleet.metrics.job.run_once()
    expected = [
        SmsMetricRow(at(0), "UZ", "uzmobile", 2, 1.0, 0),
        SmsMetricRow(at(1), "UZ", "uzmobile", 1, 0.0, 0),
        SmsMetricRow(at(2), "TJ", "megafon", 0, 0.0, 1),
        SmsMetricRow(at(2), "UZ", "beeline", 0, 0.0, 1),
        SmsMetricRow(at(3), "TJ", "megafon", 1, 1.0, 0),
    ]
    store = fleet.metrics.service.store
    assert store.sms_metrics(start=T0, end=at(10)) == expected
    rollups = fleet.metrics.service.rollups
    rollups.rollup(start=at(2), end=at(3))  # one minute again
    rollups.rollup(start=T0, end=at(4))
    assert store.sms_metrics(start=T0, end=at(10)) == expected


def test_attempts_broken_off_are_counted_apart_from_the_routes_figures(fleet: Fleet) -> None:
    """A stop, a kill or a lost lease says nothing of the route: such attempts took a
    slot of the cap but count in neither its success rate nor its failures, from raw
    attempts or from rollups alike."""
    route = ("UZ_uzmobile", "program1")
    attempts = [
        fleet.attempt(*route, Outcome.delivered, at(0, 10), latency_ms=400),
        fleet.attempt(*route, Outcome.delivered, at(0, 20), latency_ms=400),
        fleet.attempt(*route, Outcome.error, at(0, 30), error_code="E_TIMEOUT"),
        *(
            fleet.attempt(*route, Outcome.error, at(1, 10 * index), error_code=code)
            for index, code in enumerate(("interrupted", "lease_lost", "lease_expired"))
        ),
    ]
    service = fleet.metrics.service
    service.ingest(attempts)
    assert [summary.broken_off for summary in fleet.published] == [False] * 3 + [True] * 3
    fleet.clock.current = at(2, 30)

    def figures() -> tuple[object, ...]:
        totals = service.summary(start=T0, end=at(2), group_by="pair").totals
        (point,) = service.timeseries(start=T0, end=at(2), step="1h").series[0].points
        return (
            (totals.completed, totals.delivered, totals.errors, totals.failed),
            (totals.broken_off, totals.success_rate),
            (totals.granted, totals.achieved_per_minute),
            totals.errors_by_code,
            (point.completed, point.failed, point.success_rate),
        )

    expected = (
        (3, 2, 1, 1),
        (3, 2 / 3),
        # Each leased 30 s before its report: four leased in the two minutes, broken off
        # or not (each took a slot of the cap).
        (4, 2.0),
        {"E_TIMEOUT": 1, "interrupted": 1, "lease_expired": 1, "lease_lost": 1},
        (3, 1, 2 / 3),
    )
    assert figures() == expected
    fleet.metrics.job.run_once()
    assert figures() == expected
    row, broken_off = service.store.sms_metrics(start=T0, end=at(10))
    assert (row.timestamp, row.operator, row.sms_sent, row.failures) == (at(0), "uzmobile", 2, 1)
    assert row.success_rate == pytest.approx(2 / 3, abs=1e-6)
    # The minute holds only attempts broken off after their SMS were sent: sent, nothing
    # completed (no rate) and nothing failed.
    assert (broken_off.timestamp, broken_off.sms_sent, broken_off.failures) == (at(1), 3, 0)
    assert broken_off.success_rate is None


def _broken_off_figures(fleet: Fleet, *, sent: bool) -> list[object]:
    """One delivered, one not delivered and three attempts broken off (a pause's
    `interrupted`, a kill's `lease_lost`, a silence's `lease_expired`), their SMS sent
    (`sent_at` set) or not, in the hour from T0; the figures a summary, a minute trend,
    an hourly trend and a long trend (the week series) give of them, from the raw
    attempts and rolled up, then the rows of `sms_metrics` (written by the rollup)."""
    route = ("UZ_uzmobile", "program1")
    broken_off = [
        fleet.attempt(*route, Outcome.error, at(1, 10 * index), error_code=code)
        for index, code in enumerate(("interrupted", "lease_lost", "lease_expired"))
    ]
    attempts = [
        fleet.attempt(*route, Outcome.delivered, at(0, 10), latency_ms=400),
        fleet.attempt(*route, Outcome.not_delivered, at(0, 20)),
        *(a if sent else a.model_copy(update={"sent_at": None}) for a in broken_off),
    ]
    assert all((a.sent_at is not None) == sent for a in attempts[2:])
    service = fleet.metrics.service
    service.ingest(attempts)
    fleet.clock.current = T0 + timedelta(hours=1, minutes=1)

    def figures() -> tuple[object, ...]:
        end = T0 + timedelta(hours=1)
        totals = service.summary(start=T0, end=end, group_by="pair").totals
        minutes = service.timeseries(start=T0, end=at(2), step="1m").series[0].points
        (hour,) = service.timeseries(start=T0, end=end, step="1h").series[0].points
        # Over a day: the whole hour is read from the week series.
        long = service.timeseries(start=end - timedelta(days=2), end=end, step="1h")
        return (
            (totals.sent, totals.completed, totals.failed, totals.broken_off),
            totals.success_rate,
            [(point.sent, point.completed, point.failed) for point in minutes],
            (hour.sent, hour.completed, hour.failed, hour.success_rate),
            (long.series[0].points[-1].sent, long.series[0].points[-1].completed),
        )

    from_raw = figures()
    fleet.metrics.job.run_once()
    assert service.store.rolled_until() == T0 + timedelta(hours=1)
    rolled_up = figures()
    rows = service.store.sms_metrics(start=T0, end=T0 + timedelta(hours=1))
    return [from_raw, rolled_up, [(row.timestamp, row.sms_sent, row.failures) for row in rows]]


def test_attempts_broken_off_after_their_sms_was_sent_count_in_sent(fleet: Fleet) -> None:
    """A pause or a stop breaks off its programs' attempts in flight, yet their SMS had
    reached the gateway: they count in `sent`, from raw attempts, rollups, the week
    series and `sms_metrics` alike, but not in `completed`, `failed` or the rate."""
    sent = 2 + 3
    expected = (
        (sent, 2, 0, 3),
        0.5,
        [(2, 2, 0), (3, 0, 0)],
        (sent, 2, 0, 0.5),
        (sent, 2),
    )
    rows = [(at(0), 2, 0), (at(1), 3, 0)]
    assert _broken_off_figures(fleet, sent=True) == [expected, expected, rows]


def test_attempts_broken_off_before_their_sms_was_sent_are_not_sent(fleet: Fleet) -> None:
    """Broken off before the gateway had the SMS (no `sent_at`): nothing was sent."""
    expected = (
        (2, 2, 0, 3),
        0.5,
        [(2, 2, 0), (0, 0, 0)],
        (2, 2, 0, 0.5),
        (2, 2),
    )
    assert _broken_off_figures(fleet, sent=False) == [expected, expected, [(at(0), 2, 0)]]


def _expected_by_pair(
    attempts: list[Attempt], start: datetime, end: datetime
) -> dict[str, Counter[str]]:
    result: dict[str, Counter[str]] = {}
    for attempt in attempts:
        assert attempt.completed_at is not None and attempt.outcome is not None
        if start <= attempt.completed_at < end:
            result.setdefault(attempt.pair, Counter())[attempt.outcome.value] += 1
    return result


def test_rollups_equal_raw_attempts_for_any_window(fleet: Fleet) -> None:
    start = T0 - timedelta(hours=3)
    attempts = fleet.random_attempts(900, start=start, span=timedelta(hours=3))
    service = fleet.metrics.service
    service.ingest(attempts)
    windows = [
        (start, T0),
        (start + timedelta(seconds=37), T0 - timedelta(minutes=1, seconds=13)),
        (start + timedelta(minutes=59, seconds=59), start + timedelta(hours=2, seconds=1)),
    ]

    def answers() -> list[object]:
        result: list[object] = []
        for first, last in windows:
            result.append(service.summary(start=first, end=last, group_by="pair"))
            for step in ("1m", "5m", "1h"):
                result.append(
                    service.timeseries(start=first, end=last, step=step, group_by="country")
                )
        result.append(service.heatmap(start=start, end=T0))
        return result

    raw_only = answers()
    fleet.clock.current = T0 - timedelta(minutes=70)
    fleet.metrics.job.run_once()  # rolled up to the middle: rollups, then raw
    partly_rolled = answers()
    fleet.clock.current = T0 + timedelta(seconds=30)
    raw_tail = answers()
    fleet.metrics.job.run_once()
    assert service.store.rolled_until() == T0
    fully_rolled = answers()
    assert raw_only == partly_rolled == raw_tail == fully_rolled

    for (first, last), summary in zip(windows, fully_rolled[0:12:4], strict=True):
        assert isinstance(summary, Summary)
        expected = _expected_by_pair(attempts, first, last)
        assert summary.totals.completed == sum(sum(c.values()) for c in expected.values())
        for group in summary.groups:
            counts = expected.get(group.key, Counter())
            assert group.delivered == counts["delivered"]
            assert group.sent == counts["delivered"] + counts["not_delivered"]
            assert group.failed == counts["send_failed"] + counts["error"]
            assert group.completed == sum(counts.values())


def test_purge_deletes_old_raw_attempts_and_keeps_rollups(fleet: Fleet) -> None:
    start = T0 - timedelta(hours=3)
    fleet.metrics.service.ingest(fleet.random_attempts(300, start=start, span=timedelta(hours=3)))
    service = fleet.metrics.service
    fleet.metrics.job.run_once()
    before = service.summary(start=start, end=T0, group_by="pair")
    assert before.totals.completed == 300

    recent = fleet.attempt("UZ_beeline", "program1", Outcome.delivered, T0 + timedelta(days=14))
    service.ingest([recent])
    fleet.clock.current = T0 + timedelta(days=14, minutes=5)
    report = fleet.metrics.job.run_once()
    assert isinstance(report, JobReport)
    assert report.purged == 300
    with service.store.engine.connect() as connection:
        left = connection.execute(sa.select(attempts_table.c.id)).scalars().all()
    assert left == [recent.id]
    assert service.summary(start=start, end=T0, group_by="pair") == before
    # Rolling a purged minute up again leaves its rollups as they are.
    service.rollups.rollup(start=start, end=T0)
    assert service.summary(start=start, end=T0, group_by="pair") == before


def test_published_summaries_for_ingested_attempts(fleet: Fleet) -> None:
    attempts = hand_dataset(fleet)
    assert [summary.id for summary in fleet.published] == [a.id for a in attempts]
    first = fleet.published[0]
    assert (first.pair, first.program, first.country, first.outcome) == (
        "UZ_uzmobile",
        "program1",
        "UZ",
        "delivered",
    )
    assert (first.latency_ms, first.completed_at) == (400, at(0, 10))


def test_hourly_trends_by_country_read_hours_per_country_equal_to_raw(fleet: Fleet) -> None:
    start = T0 - timedelta(hours=5)
    attempts = fleet.random_attempts(400, start=start, span=timedelta(hours=5))
    fleet.metrics.service.ingest(attempts)
    fleet.clock.current = T0 + timedelta(minutes=1)
    fleet.metrics.job.run_once()
    service = fleet.metrics.service
    with service.store.engine.connect() as connection:
        hours = connection.execute(
            sa.select(metrics_hour_country_table.c.country, metrics_hour_country_table.c.delivered)
        ).all()
    assert hours and sum(n for _, n in hours) == sum(
        1 for a in attempts if a.outcome is Outcome.delivered
    )
    fleet_trend = service.timeseries(start=start, end=T0, step="1h")
    assert sum(point.completed for point in fleet_trend.series[0].points) == len(attempts)
    by_country = service.timeseries(start=start, end=T0, step="1h", group_by="country")
    expected = Counter(a.country for a in attempts)
    assert {s.key: sum(p.completed for p in s.points) for s in by_country.series} == expected
    delivered = Counter(a.country for a in attempts if a.outcome is Outcome.delivered)
    assert {s.key: sum(p.delivered for p in s.points) for s in by_country.series} == delivered


def test_an_attempt_completed_in_a_minutes_last_microsecond_is_rolled_into_that_minute(
    fleet: Fleet,
) -> None:
    """The report path keeps microseconds; a minute's rollup must take them as its own
    (SQLite's strftime rounded 12:00:59.999995 up to 12:01, and the rerun then failed)."""
    service = fleet.metrics.service
    leased = fleet.attempt("UZ_uzmobile", "program1", Outcome.delivered, at(0, 30))
    service.attempts.add(leased.model_copy(update={"outcome": None, "completed_at": None}))
    last_microsecond = at(1) - timedelta(microseconds=5)
    service.attempts.report(
        leased.id,
        session=leased.session,
        completion=Completion(
            outcome=Outcome.delivered, completed_at=last_microsecond, latency_ms=900
        ),
    )
    service.rollups.rollup(start=T0, end=at(1))
    service.rollups.rollup(start=T0, end=at(1))  # a rerun replaces what it wrote
    service.rollups.rollup(start=at(1), end=at(2))
    rows = service.store.sms_metrics(start=T0, end=at(2))
    assert [(row.timestamp, row.sms_sent) for row in rows] == [(at(0), 1)]
