"""The metrics routes over HTTP: auth, answers, downloads and refused input."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.attempts.models import Outcome
from smsfleet.auth.models import Role
from smsfleet.core.settings import Settings
from smsfleet.metrics.models import SummaryGroup
from smsfleet.metrics.service import MAX_ANSWER_POINTS, MAX_POINTS
from smsfleet.stores import open_config_store
from tests.integration.metrics.test_metrics_service import T0, at, hand_dataset
from tests.support.api import Api, add_users
from tests.support.fakes import FakeClock
from tests.support.metrics_fleet import Fleet, add_pairs
from tests.support.sqlite_schemas import migrated_stores

RANGE = {"start": T0.isoformat(), "end": at(4).isoformat()}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Api, Fleet]]:
    settings = Settings(data_dir=tmp_path, web_dir=tmp_path / "no-web", supervise=False)
    store = open_config_store(migrated_stores(settings).resolved_config_url)
    clock = FakeClock()
    add_users(store, clock)
    add_pairs(store, clock.now())
    app = create_app(settings, store=store, clock=clock)
    try:
        with TestClient(app) as client:
            yield (
                Api(client=client, store=store, clock=clock, settings=settings),
                Fleet(metrics=app.state.services.metrics, clock=clock, config=store),
            )
    finally:
        store.close()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/metrics/summary",
        "/api/v1/metrics/timeseries",
        "/api/v1/metrics/heatmap",
        "/api/v1/metrics/export",
    ],
)
def test_every_route_needs_a_token(api: tuple[Api, Fleet], path: str) -> None:
    http, _ = api
    response = http.client.get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert http.client.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_a_viewer_reads_summary_timeseries_and_heatmap(api: tuple[Api, Fleet]) -> None:
    http, fleet = api
    hand_dataset(fleet)
    headers = http.headers(Role.viewer)
    summary = http.client.get("/api/v1/metrics/summary", params=RANGE, headers=headers)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["totals"]["completed"] == 6
    assert body["totals"]["success_rate"] == 0.5
    group = next(g for g in body["groups"] if g["key"] == "UZ_beeline")
    assert (group["sent"], group["failed"], group["errors_by_code"]) == (0, 1, {"E_SEND": 1})

    series = http.client.get(
        "/api/v1/metrics/timeseries",
        params={**RANGE, "step": "1m", "group_by": "country", "key": "TJ"},
        headers=headers,
    ).json()
    points = series["series"][0]["points"]
    assert [(p["completed"], p["success_rate"]) for p in points] == [
        (0, None),
        (0, None),
        (1, 0.0),
        (1, 1.0),
    ]
    assert points[0]["t"] == "2026-01-05T12:00:00Z"

    heatmap = http.client.get("/api/v1/metrics/heatmap", params={"window": "24h"}, headers=headers)
    assert heatmap.status_code == 200
    assert len(heatmap.json()["hours"]) == 25  # 24 h from 12:04:30, floored to the hour


def test_export_as_csv_and_json(api: tuple[Api, Fleet]) -> None:
    http, fleet = api
    hand_dataset(fleet)
    response = http.client.get(
        "/api/v1/metrics/export",
        params={**RANGE, "format": "csv", "group_by": "country"},
        headers=http.headers(Role.viewer),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="smsfleet-metrics-country-20260105T120000Z-20260105T120400Z.csv"'
    )
    reader = csv.DictReader(io.StringIO(response.text))
    rows = list(reader)
    # Every figure of a group, and the range it covers.
    assert set(reader.fieldnames or ()) == {"start", "end", *SummaryGroup.model_fields}
    assert [
        (r["key"], r["completed"], r["broken_off"], r["success_rate"], r["cap_per_minute"])
        for r in rows
    ] == [
        ("TJ", "2", "0", "0.5", "10"),
        ("UZ", "4", "0", "0.5", "10"),
    ]
    as_json = http.client.get(
        "/api/v1/metrics/export", params={**RANGE, "format": "json"}, headers=http.headers()
    )
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.headers["content-disposition"].endswith('.json"')
    assert as_json.json()["totals"]["completed"] == 6


def test_every_documented_window_has_a_trend_without_a_step(api: tuple[Api, Fleet]) -> None:
    http, fleet = api
    hand_dataset(fleet)
    schema = http.client.get("/openapi.json").json()
    (window,) = [
        p
        for p in schema["paths"]["/api/v1/metrics/timeseries"]["get"]["parameters"]
        if p["name"] == "window"
    ]
    windows = window["schema"]["enum"]
    assert "7d" in windows and "30d" in windows
    steps = {}
    for name in windows:
        response = http.client.get(
            "/api/v1/metrics/timeseries", params={"window": name}, headers=http.headers()
        )
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        (series,) = body["series"]
        assert 0 < len(series["points"]) <= MAX_POINTS, name
        steps[name] = body["step"]
    # The finest step that fits: 5 min as before, hours for a week or a month.
    assert steps == {name: "1h" if name in ("7d", "30d") else "5m" for name in windows}
    # So do explicit bounds; a step given that makes too many points is still refused.
    week = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-08T00:00:00Z"}
    trend = http.client.get("/api/v1/metrics/timeseries", params=week, headers=http.headers())
    assert trend.status_code == 200 and trend.json()["step"] == "1h"
    refused = http.client.get(
        "/api/v1/metrics/timeseries", params={**week, "step": "5m"}, headers=http.headers()
    )
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "2016 points is too many" in message and "cover 7 days" in message
    assert "use a coarser step or a shorter window" in message
    # Hours are the coarsest step: a longer range than they cover needs a shorter window.
    year = {"start": "2026-01-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}
    refused = http.client.get("/api/v1/metrics/timeseries", params=year, headers=http.headers())
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "cover 83 days); use a shorter window" in message, message


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("summary", {"window": "2h"}, "window"),
        ("summary", {"group_by": "phone"}, "group_by"),
        ("summary", {"start": "2026-01-05T13:00:00Z", "end": "2026-01-05T12:00:00Z"}, "start"),
        ("summary", {"start": "yesterday"}, "start"),
        ("summary", {"window": "1h", "start": "2026-01-05T11:00:00Z"}, "window"),
        ("timeseries", {"window": "7d", "step": "1m"}, "step"),
        ("timeseries", {"step": "2m"}, "step"),
        ("timeseries", {"key": "UZ"}, "key"),
        ("heatmap", {"window": "forever"}, "window"),
        # A heatmap's step is an hour: a window too long for it is told on its start.
        ("heatmap", {"start": "2025-01-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"}, "start"),
        ("export", {"format": "xlsx"}, "format"),
        # Neither an unknown name nor an empty value falls back to the defaults.
        ("summary", {"preset": "bogus"}, "preset"),
        ("timeseries", {"window": "1h", "groupby": "pair"}, "groupby"),
        ("heatmap", {"start": ""}, "start"),
        ("export", {"window": ""}, "window"),
        ("summary", {"group_by": ""}, "group_by"),
        ("timeseries", {"step": ""}, "step"),
        ("export", {"format": ""}, "format"),
    ],
)
def test_bad_input_is_422(
    api: tuple[Api, Fleet], path: str, params: dict[str, str], field: str
) -> None:
    http, _ = api
    response = http.client.get(f"/api/v1/metrics/{path}", params=params, headers=http.headers())
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == field


def test_an_unknown_parameter_names_the_ones_the_route_takes(api: tuple[Api, Fleet]) -> None:
    http, _ = api
    response = http.client.get(
        "/api/v1/metrics/summary", params={"preset": "bogus"}, headers=http.headers()
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"] == [
        {
            "field": "preset",
            "message": "unknown parameter; use window, start, end, group_by, key"
            " (window: one of 2m, 5m, 15m, 1h, 6h, 24h, 7d, 30d;"
            " group_by: one of country, pair, program)",
        }
    ]


def test_prometheus_endpoint(api: tuple[Api, Fleet]) -> None:
    http, fleet = api
    hand_dataset(fleet)
    response = http.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'smsfleet_sms_sent_total{country="UZ",pair="UZ_uzmobile",program="program1"} 2.0' in (
        response.text
    )


def test_an_answer_of_too_many_points_in_all_is_refused(api: tuple[Api, Fleet]) -> None:
    """Each series is within MAX_POINTS, but a trend by pair has one per pair: 101 pairs
    at minutes for 2,000 minutes is over MAX_ANSWER_POINTS, refused before it is built."""
    http, fleet = api
    pairs = [f"UZ_op{n:03}" for n in range(101)]
    fleet.metrics.service.ingest(
        [fleet.attempt(pair, "program1", Outcome.delivered, at(0, 10)) for pair in pairs]
    )
    fleet.clock.current = at(MAX_POINTS)
    span = {"start": T0.isoformat(), "end": at(MAX_POINTS).isoformat(), "step": "1m"}
    headers = http.headers(Role.viewer)
    path = "/api/v1/metrics/timeseries"
    refused = http.client.get(path, params={**span, "group_by": "pair"}, headers=headers)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["message"] == (
        f"group_by: a trend by pair would be 101 series of 2000 points, 202,000 in all"
        f" (at most {MAX_ANSWER_POINTS:,}); give a key, a coarser step or a shorter window"
    )
    # One pair's trend, the trend by country (one series), or hours, are answered.
    for params in (
        {**span, "group_by": "pair", "key": "UZ_op007"},
        {**span, "group_by": "country"},
        {**span, "group_by": "pair", "step": "1h"},
    ):
        answered = http.client.get(path, params=params, headers=headers)
        assert answered.status_code == 200, (params, answered.text)
