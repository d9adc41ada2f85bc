from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from smsfleet.worker import (
    ControlPlane,
    ControlPlaneRejected,
    ControlPlaneUnavailable,
    Report,
    SendGrant,
    Stop,
    Wait,
)
from tests.unit.worker.fakes import SESSION, TOKEN, FakeControlPlane, grant


def _answering(response: httpx.Response) -> ControlPlane:
    return ControlPlane(
        "http://cp.test",
        token=TOKEN,
        session=SESSION,
        transport=httpx.MockTransport(lambda _request: response),
    )


def test_lease_answers_are_parsed() -> None:
    cp = FakeControlPlane(
        leases=[
            {**grant("t-1"), "send_within": 0.5},
            {"action": "wait", "retry_after": 1.5},
            {"action": "wait", "retry_after": 1, "max_in_flight": 0, "reason": "pair paused"},
            {"action": "stop", "reason": "paused"},
        ]
    )
    with cp.client() as client:
        first = client.lease()
        assert isinstance(first, SendGrant)
        assert first.trigger_id == "t-1"
        assert first.phone == "+998991234567"
        assert first.expires_at == datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
        assert first.send_within == 0.5
        assert first.waited == 0.0  # unsaid (an older control plane): nothing taken off
        assert client.lease() == Wait(retry_after=1.5)  # one at a time when unsaid
        assert client.lease() == Wait(retry_after=1, max_in_flight=0, reason="pair paused")
        assert client.lease() == Stop(reason="paused")


def test_report_is_posted_with_the_token_and_answers_its_status() -> None:
    cp = FakeControlPlane()
    report = Report(trigger_id="t-1", session=SESSION, outcome="delivered", provider="provider1")
    with cp.client() as client:
        assert client.report(report.to_json()) == "recorded"
        assert client.report(report.to_json()) == "duplicate"
    assert cp.reports == [report.to_json()]


def test_heartbeat() -> None:
    cp = FakeControlPlane()
    with cp.client() as client:
        client.heartbeat()
    assert cp.heartbeats == 1


def test_connection_errors_mean_unavailable() -> None:
    cp = FakeControlPlane(down=True)
    with cp.client() as client, pytest.raises(ControlPlaneUnavailable):
        client.lease()


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_mean_unavailable(status: int) -> None:
    with (
        _answering(httpx.Response(status, headers={"Retry-After": "7"})) as client,
        pytest.raises(ControlPlaneUnavailable) as caught,
    ):
        client.lease()
    assert caught.value.retry_after == 7.0


def test_client_errors_are_rejections_with_the_error_code() -> None:
    body = {"error": {"code": "unauthorized", "message": "bad token", "details": None}}
    with (
        _answering(httpx.Response(401, json=body)) as client,
        pytest.raises(ControlPlaneRejected) as caught,
    ):
        client.lease()
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")


@pytest.mark.parametrize("body", [[1, 2], {"action": "dance"}, {"action": "send", "phone": "+1"}])
def test_malformed_leases_are_not_taken_as_grants(body: object) -> None:
    with (
        _answering(httpx.Response(200, json=body)) as client,
        pytest.raises(ControlPlaneUnavailable),
    ):
        client.lease()
