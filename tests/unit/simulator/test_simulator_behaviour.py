"""Route and provider settings shape the fates: rates, latency, errors, outages, limits."""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smsfleet.simulator._engine import Simulator
from smsfleet.simulator._errors import SimulatorError
from smsfleet.simulator.models import SendRequest, TruthRecord
from tests.support.simulator import FakeClock, MakeClient, MakeSimulator, Reliable, SendSms

N = 5000
UZ = SendRequest(phone="+998991234567", route="UZ_uzmobile")


def _within(observed: float, p: float, n: int) -> bool:
    # Five standard errors: a seeded run is repeatable, and a real bug is far outside this.
    return abs(observed - p) <= 5 * math.sqrt(p * (1 - p) / n)


def _records(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = client.get("/admin/truth", params=params).json()["records"]
    return records


def _trigger_many(simulator: Simulator, provider: str = "provider1", n: int = N) -> list[int]:
    """Send n SMS straight to the engine; return the HTTP status of each."""
    statuses: list[int] = []
    for _ in range(n):
        try:
            simulator.send(provider, UZ)
        except SimulatorError as exc:
            statuses.append(exc.status)
        else:
            statuses.append(200)
    return statuses


def _latencies(records: list[TruthRecord]) -> list[float]:
    """Each record's latency; every one of them was delivered."""
    latencies = []
    for record in records:
        assert record.latency_seconds is not None, record
        latencies.append(record.latency_seconds)
    return latencies


@pytest.mark.parametrize(("route_p", "provider_p"), [(0.7, 1.0), (0.8, 0.5), (0.97, 0.9)])
def test_delivery_rate_is_route_times_provider_probability(
    make_simulator: MakeSimulator, route_p: float, provider_p: float
) -> None:
    simulator = make_simulator(
        {
            "defaults": {"delivery_probability": route_p, "send_error_rate": 0.0},
            "providers": {"provider1": {"delivery_probability": provider_p}},
        }
    )
    assert set(_trigger_many(simulator)) == {200}
    counts = simulator.truth(route=None, provider=None, since=None).counts["UZ_uzmobile"]
    assert counts.triggered == N
    assert counts.delivered + counts.not_delivered == N
    assert _within(counts.delivered / N, route_p * provider_p, N)


def test_uniform_latency_stays_within_bounds(make_simulator: MakeSimulator) -> None:
    simulator = make_simulator(
        {
            "defaults": {
                "delivery_probability": 1.0,
                "send_error_rate": 0.0,
                "latency": {"distribution": "uniform", "min_seconds": 2.0, "max_seconds": 10.0},
            }
        }
    )
    _trigger_many(simulator)
    records = simulator.truth(route=None, provider=None, since=None).records
    latencies = _latencies(records)
    assert min(latencies) >= 2.0
    assert max(latencies) <= 10.0
    assert abs(statistics.fmean(latencies) - 6.0) < 0.2
    for record in records:
        assert record.delivered_at is not None and record.latency_seconds is not None
        assert record.delivered_at - record.triggered_at == pytest.approx(
            timedelta(seconds=record.latency_seconds), abs=timedelta(microseconds=2)
        )


def test_gateway_honours_each_message_latency(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms
) -> None:
    client = make_client(
        {
            "defaults": {
                "delivery_probability": 1.0,
                "send_error_rate": 0.0,
                "latency": {"distribution": "uniform", "min_seconds": 2.0, "max_seconds": 10.0},
            }
        }
    )
    for _ in range(20):
        send_sms(client)
    for record in _records(client):
        delivered = datetime.fromisoformat(record["delivered_at"]).timestamp()
        clock.now = delivered - 0.01
        message = client.get(f"/gateway/messages/{record['trigger_id']}").json()
        assert message["status"] == "pending"
        clock.now = delivered + 1e-6  # the ISO time is rounded to microseconds
        message = client.get(f"/gateway/messages/{record['trigger_id']}").json()
        assert message["status"] == "delivered"
        assert message["code"] == record["code"]


def test_lognormal_latency_has_its_median_and_is_clamped(make_simulator: MakeSimulator) -> None:
    simulator = make_simulator(
        {
            "defaults": {
                "delivery_probability": 1.0,
                "send_error_rate": 0.0,
                "latency": {
                    "distribution": "lognormal",
                    "median_seconds": 8.0,
                    "sigma": 1.0,
                    "min_seconds": 2.0,
                    "max_seconds": 30.0,
                },
            }
        }
    )
    _trigger_many(simulator)
    records = simulator.truth(route=None, provider=None, since=None).records
    latencies = _latencies(records)
    assert 7.5 < statistics.median(latencies) < 8.5
    # sigma 1 puts ~8% below the floor and ~9% above the ceiling: both must be clamped.
    assert min(latencies) == 2.0
    assert max(latencies) == 30.0
    assert _within(latencies.count(2.0) / N, 0.0828, N)


def test_provider_latency_factor_scales_route_latency(
    make_client: MakeClient, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client({**reliable(), "providers": {"provider2": {"latency_factor": 3.0}}})
    send_sms(client, provider="provider1")
    send_sms(client, provider="provider2")
    latencies = [r["latency_seconds"] for r in _records(client)]
    assert latencies == [5.0, 15.0]


def test_send_errors_use_the_configured_rate_codes_and_status(
    make_simulator: MakeSimulator,
) -> None:
    simulator = make_simulator(
        {
            "defaults": {"send_error_rate": 0.0},
            "providers": {
                "provider3": {
                    "send_error_rate": 0.3,
                    "error_codes": ["UPSTREAM_TIMEOUT", "INTERNAL_ERROR"],
                    "error_status": 500,
                }
            },
        }
    )
    statuses = _trigger_many(simulator, provider="provider3")
    assert set(statuses) == {200, 500}
    errors = statuses.count(500)
    assert _within(errors / N, 0.3, N)
    report = simulator.truth(route=None, provider=None, since=None)
    assert report.total.send_errors == errors
    codes = [r.error_code for r in report.records if r.outcome == "send_error"]
    assert set(codes) == {"UPSTREAM_TIMEOUT", "INTERNAL_ERROR"}


def test_send_error_answer_names_provider_and_route(
    make_client: MakeClient, send_sms: SendSms
) -> None:
    client = make_client(
        {"providers": {"provider3": {"send_error_rate": 1.0, "error_codes": ["UPSTREAM_TIMEOUT"]}}}
    )
    response = send_sms(client, provider="provider3", trigger_id="t-1")
    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "UPSTREAM_TIMEOUT",
        "message": "provider3 failed to send the SMS",
        "details": {"provider": "provider3", "route": "UZ_uzmobile", "trigger_id": "t-1"},
    }
    # A failed send does not use up the client's trigger id.
    client.patch("/admin/providers/provider3", json={"send_error_rate": 0.0})
    assert send_sms(client, provider="provider3", trigger_id="t-1").status_code == 200


def test_route_send_error_has_its_own_codes(make_client: MakeClient, send_sms: SendSms) -> None:
    client = make_client(
        {
            "defaults": {
                "send_error_rate": 1.0,
                "error_codes": ["SMSC_REJECTED"],
                "error_status": 502,
            }
        }
    )
    response = send_sms(client)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "SMSC_REJECTED"


def test_outages_answer_503(make_client: MakeClient, send_sms: SendSms, reliable: Reliable) -> None:
    client = make_client(
        {
            **reliable(),
            "routes": {"AZ_azercell": {"outage": True}},
            "providers": {"provider4": {"outage": True}},
        }
    )
    route_down = send_sms(client, route="AZ_azercell", phone="+994501234567")
    assert route_down.status_code == 503
    assert route_down.json()["error"]["code"] == "route_outage"

    provider_down = send_sms(client, provider="provider4")
    assert provider_down.status_code == 503
    assert provider_down.json()["error"]["code"] == "provider_outage"

    assert send_sms(client).status_code == 200
    counts = client.get("/admin/truth").json()["counts"]
    assert counts["AZ_azercell"]["send_errors"] == 1
    assert counts["UZ_uzmobile"]["send_errors"] == 1


def test_outage_cycle_follows_the_clock(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    cycle = {"every_seconds": 100, "duration_seconds": 10, "offset_seconds": 50}
    client = make_client({**reliable(), "providers": {"provider4": {"outage_cycle": cycle}}})

    def status_at(elapsed: float) -> int:
        clock.now = 1_700_000_000.0 + elapsed
        return send_sms(client, provider="provider4").status_code

    assert status_at(0) == 200
    assert status_at(49.9) == 200
    assert status_at(50) == 503
    assert status_at(59.9) == 503
    assert status_at(60) == 200
    assert status_at(150) == 503
    assert status_at(165) == 200


def test_rate_limit_answers_429_until_the_window_passes(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable(rate_limit_per_minute=3))
    for _ in range(3):
        assert send_sms(client).status_code == 200
        clock.advance(10)

    limited = send_sms(client)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["Retry-After"] == "30"

    # Another route is not affected by this route's limit.
    assert send_sms(client, route="IN_vi", phone="+919812345678").status_code == 200

    clock.advance(30)
    assert send_sms(client).status_code == 200


def test_provider_rate_limit_spans_routes(
    make_client: MakeClient, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client({**reliable(), "providers": {"provider5": {"rate_limit_per_minute": 2}}})
    assert send_sms(client, provider="provider5").status_code == 200
    assert send_sms(client, provider="provider5", route="IN_vi").status_code == 200
    limited = send_sms(client, provider="provider5", route="TJ_megafon")
    assert limited.status_code == 429
    assert limited.json()["error"]["details"]["scope"] == "provider"
    assert send_sms(client, provider="provider1").status_code == 200


def test_ground_truth_counts_equal_what_happened(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(
        {
            **reliable(),
            "routes": {
                "IN_docomo": {"delivery_probability": 0.0, "give_up_after_seconds": 20},
                "AZ_azercell": {"outage": True},
            },
        }
    )
    delivered = [send_sms(client).json()["trigger_id"] for _ in range(4)]
    lost = [
        send_sms(client, route="IN_docomo", phone="+919212345678").json()["trigger_id"]
        for _ in range(3)
    ]
    for _ in range(2):
        assert send_sms(client, route="AZ_azercell", phone="+994501234567").status_code == 503
    clock.advance(5)
    for trigger_id in delivered[:2]:
        code = client.get(f"/gateway/messages/{trigger_id}").json()["code"]
        client.post("/providers/provider1/submit", json={"trigger_id": trigger_id, "code": code})

    report = client.get("/admin/truth").json()
    assert report["counts"] == {
        "AZ_azercell": {
            "triggered": 2,
            "delivered": 0,
            "not_delivered": 0,
            "send_errors": 2,
            "pending": 0,
            "submitted": 0,
        },
        "IN_docomo": {
            "triggered": 3,
            "delivered": 0,
            "not_delivered": 3,
            "send_errors": 0,
            "pending": 3,  # not given up yet
            "submitted": 0,
        },
        "UZ_uzmobile": {
            "triggered": 4,
            "delivered": 4,
            "not_delivered": 0,
            "send_errors": 0,
            "pending": 0,
            "submitted": 2,
        },
    }
    assert report["total"]["triggered"] == 9
    assert {r["trigger_id"] for r in report["records"] if r["outcome"] == "not_delivered"} == set(
        lost
    )

    clock.advance(15)
    docomo = client.get("/admin/truth", params={"route": "IN_docomo"}).json()
    assert list(docomo["counts"]) == ["IN_docomo"]
    assert docomo["counts"]["IN_docomo"]["pending"] == 0
    assert {r["status"] for r in docomo["records"]} == {"not_delivered"}


def test_truth_filters_by_time_and_provider(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())
    send_sms(client)
    clock.advance(60)
    since = datetime.fromtimestamp(clock.now).astimezone().isoformat()
    send_sms(client, provider="provider2")
    send_sms(client)

    recent = client.get("/admin/truth", params={"since": since}).json()
    assert recent["total"]["triggered"] == 2
    by_provider = client.get("/admin/truth", params={"provider": "provider2"}).json()
    assert [r["provider"] for r in by_provider["records"]] == ["provider2"]
