"""The harness against a scripted control plane and gateway (httpx.MockTransport)."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsfleet.dispatch.models import MAX_SENT_PER_HEARTBEAT
from smsfleet.worker import (
    Attempt,
    ControlPlane,
    SendFailed,
    SendGrant,
    Sent,
    Worker,
    mask_phone,
)
from smsfleet.worker._harness import FULL_RECHECK_SECONDS, MAX_SENT_PER_BEAT
from tests.unit.worker.fakes import (
    DELIVERED,
    NOT_DELIVERED,
    PENDING,
    PHONE,
    SESSION,
    Calls,
    FakeControlPlane,
    FakeGateway,
    grant,
    make_worker,
    program_classes,
    settings,
    stop_once_sent,
)


def _run(worker: Worker, timeout: float = 5.0) -> int:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(worker.run()))
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the worker did not stop"
    return result[0]


def test_stop_action_exits_cleanly(tmp_path: Path) -> None:
    cp, calls = FakeControlPlane(leases=[{"action": "stop", "reason": "paused"}]), Calls()
    out = io.StringIO()
    assert _run(make_worker(tmp_path, cp, FakeGateway(), calls, out)) == 0
    assert calls.sent == []
    assert "the control plane asked it to stop (paused): no attempt in flight" in out.getvalue()


def test_the_control_planes_stop_lets_the_attempts_in_flight_finish(tmp_path: Path) -> None:
    """Told `stop` at a lease (its pair paused), the program leases no more, but its attempt
    in flight waits for its code as long as ever, far past what a stop grace would allow."""
    cp = FakeControlPlane(leases=[{**grant("t-1"), "max_in_flight": 2}, {"action": "stop"}])
    gateway = FakeGateway(states={"t-1": [PENDING] * 30 + [DELIVERED]})
    calls, out = Calls(), io.StringIO()
    worker = make_worker(tmp_path, cp, gateway, calls, out, stop_grace=0.3, code_timeout=10.0)
    assert _run(worker) == 0
    [report] = cp.reports
    assert (report["outcome"], report["error_code"]) == ("delivered", None), report
    assert cp.lease_calls == 2
    lines = out.getvalue()
    assert "the control plane asked it to stop (" in lines
    assert "): 1 attempt(s) in flight finish first, then it exits" in lines
    assert "every attempt reported" in lines


def test_a_delivered_sms_is_submitted_and_reported(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[grant("t-1")])
    gateway = FakeGateway(states={"t-1": [PENDING, PENDING, DELIVERED]})
    calls, out = Calls(), io.StringIO()
    assert _run(make_worker(tmp_path, cp, gateway, calls, out)) == 0
    assert calls.sent == [("+998991234567", None, "t-1")]
    assert calls.submitted == [("t-1", "123456", "provider1")]
    [report] = cp.reports
    assert report["trigger_id"] == "t-1"
    assert report["session"] == SESSION
    assert report["outcome"] == "delivered"
    assert report["provider"] == "provider1"
    assert report["error_code"] is None
    assert report["sent_at"] is not None
    assert report["delivered_at"] == "2030-01-01T00:00:01+00:00"
    line = next(line for line in out.getvalue().splitlines() if "trigger=t-1" in line)
    assert "phone=+********4567" in line
    assert "outcome=delivered" in line
    assert "latency=" in line
    assert "998991234567" not in out.getvalue()
    assert list((tmp_path / "spool").glob("*.json")) == []


@pytest.mark.parametrize("delivered_at", ["2000-01-01T00:00:00+00:00", "2000-01-01T00:00:00"])
def test_a_delivery_the_gateway_dates_before_the_send_is_told_at_the_send(
    tmp_path: Path, delivered_at: str
) -> None:
    """The gateway's clock behind, or its answer to the send slow: its time of delivery
    comes before `sent_at`, which the control plane refuses (the report then lost). It is
    told as delivered at the send, a latency of 0; a time without an offset is UTC."""
    cp = FakeControlPlane(leases=[grant("t-1")])
    early = {**DELIVERED, "delivered_at": delivered_at}
    gateway = FakeGateway(states={"t-1": [early]})
    calls, out = Calls(), io.StringIO()
    assert _run(make_worker(tmp_path, cp, gateway, calls, out)) == 0
    [report] = cp.reports
    assert report["outcome"] == "delivered"
    assert report["sent_at"] is not None
    assert report["delivered_at"] == report["sent_at"]
    assert "latency=0.00s" in out.getvalue()


def test_outcomes_of_failed_attempts(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[grant("t-lost"), grant("t-slow"), grant("t-unknown")])
    gateway = FakeGateway(states={"t-lost": [PENDING, NOT_DELIVERED], "t-slow": [PENDING]})
    out = io.StringIO()
    worker = make_worker(tmp_path, cp, gateway, Calls(), out, code_timeout=0.1)
    assert _run(worker) == 0
    outcomes = [(r["trigger_id"], r["outcome"], r["error_code"]) for r in cp.reports]
    assert outcomes == [
        ("t-lost", "not_delivered", None),
        ("t-slow", "not_delivered", "gateway_timeout"),
        ("t-unknown", "error", "gateway_unknown_trigger"),
    ]
    # How long each took, not a latency: only a delivery has one.
    lines = [line for line in out.getvalue().splitlines() if "trigger=t-" in line]
    assert len(lines) == 3 and all("waited=" in line and "latency=" not in line for line in lines)


def test_a_send_failure_reports_the_providers_code(tmp_path: Path) -> None:
    cp, calls = FakeControlPlane(leases=[grant("t-1")]), Calls()
    calls.fail_with = SendFailed("ROUTE_ERROR", provider="provider3", status=502)
    assert _run(make_worker(tmp_path, cp, FakeGateway(), calls, io.StringIO())) == 0
    [report] = cp.reports
    assert (report["outcome"], report["error_code"], report["provider"]) == (
        "send_failed",
        "ROUTE_ERROR",
        "provider3",
    )
    assert report["sent_at"] is None


@pytest.mark.parametrize("slow", ["answer", "program"])
def test_a_grant_the_program_cannot_use_in_time_is_given_up_not_sent(
    tmp_path: Path, slow: str
) -> None:
    """Sent later after its grant than the control plane allows, an SMS could make one more
    than the country's cap in the gateway's minute: it is not sent, and said why. The
    time counts from when the lease was asked for: an answer slow to come, or read late
    by a stalled program, counts too."""
    cp = FakeControlPlane(
        leases=[{**grant("t-late"), "send_within": 0.05}, {**grant("t-1"), "send_within": 5.0}]
    )
    calls, out = Calls(), io.StringIO()
    if slow == "answer":
        cp.on_lease = lambda call: time.sleep(0.2 if call == 1 else 0)
    else:
        calls.ready_after = 0.2
    gateway = FakeGateway(states={"t-1": [DELIVERED]})
    assert _run(make_worker(tmp_path, cp, gateway, calls, out)) == 0
    assert [trigger for _, _, trigger in calls.sent] == ["t-1"]
    outcomes = [(r["trigger_id"], r["outcome"], r["error_code"], r["sent_at"]) for r in cp.reports]
    assert outcomes[0] == ("t-late", "error", "grant_stale", None)
    assert outcomes[1][:3] == ("t-1", "delivered", None)
    assert "trigger=t-late not sent: ready 0." in out.getvalue()
    assert "past the 0.05 s a send may follow it" in out.getvalue()


def test_a_program_sending_again_asks_whether_its_grant_still_lets_it(tmp_path: Path) -> None:
    """A retry or another provider's send is the program's own: the harness hands it the
    grant's bound (`Attempt.send_by`), and `may_send` says whether an SMS leaving now, or
    after a wait, still keeps to the country's cap."""
    seen: list[tuple[bool, bool, bool]] = []

    class Retrying:
        def __init__(self, phone: str, proxy: str | None = None, *, attempt: Attempt) -> None:
            self.attempt = attempt

        def SendOtp(self) -> Sent:  # noqa: N802
            now, after_a_wait = self.attempt.may_send(), self.attempt.may_send(after=1.0)
            time.sleep(0.25)
            seen.append((now, after_a_wait, self.attempt.may_send()))
            raise SendFailed("provider_down", status=503)

    cp = FakeControlPlane(leases=[{**grant("t-1"), "send_within": 0.2}, grant("t-2")])
    worker = make_worker(tmp_path, cp, FakeGateway(), Calls(), io.StringIO(), send_cls=Retrying)
    assert _run(worker) == 0
    # Bound: may send at once, not after a second, nor once 0.25 s went by. Unbound: always.
    assert seen == [(True, False, False), (True, True, True)]
    assert [(r["outcome"], r["error_code"]) for r in cp.reports] == [
        ("send_failed", "provider_down")
    ] * 2


def test_a_provider_asking_to_wait_holds_the_next_lease_that_long(tmp_path: Path) -> None:
    """A send refused with a Retry-After (a provider's rate limit): the program asks for no
    lease until then, so no place in the country's minute goes to a send it would refuse."""
    refused_at: list[float] = []

    class RateLimited:
        def __init__(self, phone: str, proxy: str | None = None, *, attempt: Attempt) -> None:
            self.attempt = attempt

        def SendOtp(self) -> Sent:  # noqa: N802
            refused_at.append(time.monotonic())
            raise SendFailed("RATE_LIMITED", provider="p5", status=429, retry_after=0.4)

    cp = FakeControlPlane(leases=[grant("t-1"), grant("t-2")])
    asked_at: list[float] = []
    cp.on_lease = lambda call: asked_at.append(time.monotonic())
    out = io.StringIO()
    worker = make_worker(tmp_path, cp, FakeGateway(), Calls(), out, send_cls=RateLimited)
    assert _run(worker) == 0
    assert asked_at[1] - refused_at[0] >= 0.4
    assert "p5 asked to wait 0.4 s: no lease until then" in out.getvalue()
    assert [r["error_code"] for r in cp.reports] == ["RATE_LIMITED", "RATE_LIMITED"]


def test_the_time_a_lease_waited_in_the_control_plane_before_its_grant_is_not_counted(
    tmp_path: Path,
) -> None:
    """A control plane busy at a start answers late: the time it says the request waited
    before its grant was decided is taken off, so the grant is sent, not given up. (The
    rest of the way may take up to a second on a busy machine; the wait alone is past the
    bound.)"""
    cp = FakeControlPlane(leases=[{**grant("t-1"), "send_within": 1.0, "waited": 1.5}])
    cp.on_lease = lambda call: time.sleep(1.5 if call == 1 else 0)
    calls = Calls()
    gateway = FakeGateway(states={"t-1": [DELIVERED]})
    assert _run(make_worker(tmp_path, cp, gateway, calls, io.StringIO())) == 0
    assert [trigger for _, _, trigger in calls.sent] == ["t-1"]
    assert [(r["outcome"], r["error_code"]) for r in cp.reports] == [("delivered", None)]


def test_a_wait_said_longer_than_the_answer_took_is_not_taken_off_beyond_it(
    tmp_path: Path,
) -> None:
    """The control plane cannot have held the request longer than the answer took to
    come: a `waited` beyond that takes off no more, and a program slow after it still
    gives its grant up."""
    cp = FakeControlPlane(leases=[{**grant("t-late"), "send_within": 0.05, "waited": 100}])
    calls, out = Calls(), io.StringIO()
    calls.ready_after = 0.2
    assert _run(make_worker(tmp_path, cp, FakeGateway(), calls, out)) == 0
    assert calls.sent == []
    assert [(r["outcome"], r["error_code"]) for r in cp.reports] == [("error", "grant_stale")]


def test_an_exception_in_the_program_is_reported_as_error(tmp_path: Path) -> None:
    cp, calls = FakeControlPlane(leases=[grant("t-1"), grant("t-2")]), Calls()
    calls.fail_with = KeyError("status")
    assert _run(make_worker(tmp_path, cp, FakeGateway(), calls, io.StringIO())) == 0
    assert [(r["outcome"], r["error_code"]) for r in cp.reports] == [("error", "KeyError")] * 2


def test_a_failed_provider_answer_reads_as_send_failed(tmp_path: Path) -> None:
    request = httpx.Request("POST", "http://sim/providers/p/send")
    body = {"error": {"code": "rate_limited", "message": "slow down", "details": None}}
    response = httpx.Response(429, json=body, headers={"Retry-After": "3"}, request=request)
    failure = SendFailed.from_response(response, provider="provider5")
    assert (failure.code, failure.status, failure.retry_after) == ("rate_limited", 429, 3.0)
    cp, calls = FakeControlPlane(leases=[grant("t-1")]), Calls()
    calls.fail_with = httpx.HTTPStatusError("429", request=request, response=response)
    assert _run(make_worker(tmp_path, cp, FakeGateway(), calls, io.StringIO())) == 0
    assert (cp.reports[0]["outcome"], cp.reports[0]["error_code"]) == (
        "send_failed",
        "rate_limited",
    )


def test_wait_is_honoured(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[{"action": "wait", "retry_after": 0.3}])
    started = time.monotonic()
    assert _run(make_worker(tmp_path, cp, FakeGateway(), Calls(), io.StringIO())) == 0
    assert time.monotonic() - started >= 0.3
    assert cp.lease_calls == 2


def test_a_cap_raised_while_it_waits_for_its_turn_makes_it_ask_again(tmp_path: Path) -> None:
    """Told its turn at 1 a minute, it would sleep a minute; the heartbeat's answer says
    the country's cap rose to 10, and it asks again at once."""
    cp = FakeControlPlane(leases=[{"action": "wait", "retry_after": 30}], caps=[1, 1, 1, 10])
    started = time.monotonic()
    assert _run(make_worker(tmp_path, cp, FakeGateway(), Calls(), io.StringIO())) == 0
    assert cp.lease_calls == 2
    assert time.monotonic() - started < 10


def test_a_halted_country_raised_is_asked_again_at_once_not_after_a_slot_wait(
    tmp_path: Path,
) -> None:
    """Halted, it is told to wait and carry none; raised, it asks at once, not after the
    wait for a slot to free that a program carrying its most makes (FULL_RECHECK_SECONDS)."""
    halted = {"action": "wait", "retry_after": 30, "max_in_flight": 0}
    cp = FakeControlPlane(leases=[halted], caps=[0, 0, 0, 10])
    started = time.monotonic()
    assert _run(make_worker(tmp_path, cp, FakeGateway(), Calls(), io.StringIO())) == 0
    assert cp.lease_calls == 2
    assert time.monotonic() - started < FULL_RECHECK_SECONDS


def test_a_cap_lowered_or_kept_leaves_its_wait_as_told(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[{"action": "wait", "retry_after": 0.5}], caps=[10, 10, 5])
    started = time.monotonic()
    assert _run(make_worker(tmp_path, cp, FakeGateway(), Calls(), io.StringIO())) == 0
    assert time.monotonic() - started >= 0.5
    assert cp.lease_calls == 2


def test_reports_spooled_while_down_are_replayed_once_in_order(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[grant("t-1"), grant("t-2"), grant("t-3")])
    gateway = FakeGateway(states={f"t-{n}": [DELIVERED] for n in (1, 2, 3)})
    calls = Calls()
    worker = make_worker(tmp_path, cp, gateway, calls, io.StringIO())
    spool = tmp_path / "spool"
    sends_while_down: list[int] = []
    spooled_while_down: list[int] = []

    class Outage:
        """Goes down after the 1st lease, stays down until the report of that lease waits
        on disk (at least 0.3 s), then comes back."""

        def __init__(self) -> None:
            self.thread: threading.Thread | None = None

        def on_lease(self, n: int) -> None:
            if n == 1:
                cp.down = True
                self.thread = threading.Thread(target=self.back)
                self.thread.start()

        def back(self) -> None:
            time.sleep(0.3)
            deadline = time.monotonic() + 10
            while not any(spool.glob("*.json")) and time.monotonic() < deadline:
                time.sleep(0.02)
            sends_while_down.append(len(calls.sent))
            spooled_while_down.append(len(list(spool.glob("*.json"))))
            cp.down = False

    outage = Outage()
    cp.on_lease = outage.on_lease
    assert _run(worker, timeout=15) == 0
    assert outage.thread is not None
    outage.thread.join()
    assert spooled_while_down == [1]  # the first report waited on disk
    assert sends_while_down == [1]  # no SMS without a grant
    assert [r["trigger_id"] for r in cp.reports] == ["t-1", "t-2", "t-3"]
    assert cp.statuses == ["recorded"] * 3
    assert list(spool.glob("*.json")) == []


def test_reports_left_from_an_earlier_run_are_sent_first(tmp_path: Path) -> None:
    cp = FakeControlPlane(down=True)
    gateway = FakeGateway(states={"t-1": [DELIVERED], "t-2": [DELIVERED]})
    worker = make_worker(tmp_path, cp, gateway, Calls(), io.StringIO())
    report = worker.attempt(SendGrant("t-1", "+998991234567", "UZ_uzmobile", "program1"))
    worker.spool.add(report.to_json())
    cp.down = False
    cp.leases = [grant("t-2")]
    again = make_worker(tmp_path, cp, gateway, Calls(), io.StringIO())
    assert _run(again) == 0
    assert [r["trigger_id"] for r in cp.reports] == ["t-1", "t-2"]


def test_a_wait_the_lease_cuts_short_is_reported_as_such_and_told_once(tmp_path: Path) -> None:
    # The grants' leases end at 00:01:00; at 00:00:54.9 the report margin leaves 0.1 s of a
    # 30 s wait: no code by then is the lease's timeout, not the program's.
    cp = FakeControlPlane(leases=[grant("t-1"), grant("t-2")])
    gateway = FakeGateway(states={"t-1": [PENDING], "t-2": [PENDING]})
    out = io.StringIO()
    worker = make_worker(
        tmp_path,
        cp,
        gateway,
        Calls(),
        out,
        code_timeout=30.0,
        now=lambda: datetime(2030, 1, 1, 0, 0, 54, 900_000, tzinfo=UTC),
    )
    assert _run(worker) == 0
    assert [(r["outcome"], r["error_code"]) for r in cp.reports] == [
        ("not_delivered", "lease_timeout"),
        ("not_delivered", "lease_timeout"),
    ]
    told = [line for line in out.getvalue().splitlines() if "ends with its lease" in line]
    assert len(told) == 1
    assert "this one after 0 s of the program's 30 s" in told[0]
    assert "SMSFLEET_LEASE_TTL_SECONDS" in told[0]


def test_stop_request_finishes_the_current_attempt(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[grant("t-1"), grant("t-2")])
    gateway = FakeGateway(states={"t-1": [PENDING] * 10 + [DELIVERED]})
    calls = Calls()
    send_cls, submit_cls = program_classes(calls)
    # A grace long enough for ten polls on a busy machine; the attempt ends when delivered.
    worker = Worker(
        send_cls,
        submit_cls,
        settings=settings(tmp_path / "spool", stop_grace=10.0),
        control_plane=cp.client(),
        gateway=gateway.client(),
        code_timeout=30.0,
        poll_interval=0.01,
        poll_max_interval=0.01,
        out=io.StringIO(),
    )
    stop_once_sent(worker.request_stop, calls)
    assert _run(worker) == 0
    assert [(r["trigger_id"], r["outcome"]) for r in cp.reports] == [("t-1", "delivered")]
    assert [c[2] for c in calls.sent] == ["t-1"]


def test_stop_grace_then_abandon_reports_what_is_known(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[grant("t-1")])
    gateway = FakeGateway(states={"t-1": [PENDING]})
    calls = Calls()
    # A grace long enough to report in on a busy machine (a report the grace leaves no
    # time for stays in the spool, for the next run), far shorter than the code timeout.
    worker = make_worker(
        tmp_path, cp, gateway, calls, io.StringIO(), code_timeout=30, stop_grace=3.0
    )
    stop_once_sent(worker.request_stop, calls)
    started = time.monotonic()
    assert _run(worker) == 0
    assert time.monotonic() - started < 10  # the stop grace, not the code timeout
    [report] = cp.reports
    assert (report["outcome"], report["error_code"]) == ("error", "interrupted")
    assert report["sent_at"] is not None


def test_second_stop_request_abandons_at_once(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[grant("t-1")])
    calls = Calls()
    worker = Worker(
        *program_classes(calls),
        settings=settings(tmp_path / "spool", stop_grace=30.0),
        control_plane=cp.client(),
        gateway=FakeGateway(states={"t-1": [PENDING]}).client(),
        code_timeout=30.0,
        poll_interval=0.01,
        out=io.StringIO(),
    )

    def twice() -> None:
        worker.request_stop()
        worker.request_stop()

    stop_once_sent(twice, calls)
    started = time.monotonic()
    assert _run(worker) == 0
    assert time.monotonic() - started < 2
    assert cp.reports[0]["error_code"] == "interrupted"


def _classes() -> tuple[Any, Any]:
    return program_classes(Calls())


def test_seed_style_classes_still_work(tmp_path: Path) -> None:
    """Classes written before the SDK: `SendSMS(phone, proxy)` and `SubmitSMS()`."""
    submitted: list[tuple[str, str]] = []

    class SendSMS:
        def __init__(self, phone: str, proxy: str | None) -> None:
            self.phone = phone

        def SendOtp(self) -> dict[str, str]:  # noqa: N802
            return {"status": "sent successfully"}

    class SubmitSMS:
        def SumitOtp(self, trigger_id: str, code: str) -> None:  # noqa: N802
            submitted.append((trigger_id, code))

    cp = FakeControlPlane(leases=[grant("t-1")])
    worker = Worker(
        SendSMS,
        SubmitSMS,
        settings=settings(tmp_path / "spool"),
        control_plane=cp.client(),
        gateway=FakeGateway(states={"t-1": [DELIVERED]}).client(),
        poll_interval=0.01,
        out=io.StringIO(),
    )
    assert _run(worker) == 0
    assert submitted == [("t-1", "123456")]
    assert (cp.reports[0]["outcome"], cp.reports[0]["provider"]) == ("delivered", None)


def test_the_providers_own_trigger_id_is_polled_and_submitted(tmp_path: Path) -> None:
    submitted: list[str] = []

    class SendSMS:
        def __init__(self, phone: str, proxy: str | None, **_: Any) -> None:
            pass

        def SendOtp(self) -> Sent:  # noqa: N802
            return Sent(provider="p", trigger_id="provider-id")

    class SubmitSMS:
        def SumitOtp(self, trigger_id: str, code: str) -> None:  # noqa: N802
            submitted.append(trigger_id)

    cp = FakeControlPlane(leases=[grant("t-1")])
    worker = Worker(
        SendSMS,
        SubmitSMS,
        settings=settings(tmp_path / "spool"),
        control_plane=cp.client(),
        gateway=FakeGateway(states={"provider-id": [DELIVERED]}).client(),
        poll_interval=0.01,
        out=io.StringIO(),
    )
    assert _run(worker) == 0
    assert submitted == ["provider-id"]
    assert cp.reports[0]["trigger_id"] == "t-1"


def test_heartbeats_are_sent_while_running(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[{"action": "wait", "retry_after": 0.2}])
    assert _run(make_worker(tmp_path, cp, FakeGateway(), Calls(), io.StringIO())) == 0
    assert cp.heartbeats >= 2


def _told_first_gateway(cp: FakeControlPlane, trigger_id: str) -> FakeGateway:
    """A gateway whose code comes once the control plane was told the SMS left (or after
    4 s, within the run's 5): a beat telling it after its report would tell it nothing."""

    class ToldFirst(FakeGateway):
        def handler(self, request: httpx.Request) -> httpx.Response:
            cp.sent_told.wait(4)
            return super().handler(request)

    return ToldFirst(states={trigger_id: [DELIVERED]})


def _slow_beating_worker(
    tmp_path: Path, cp: FakeControlPlane, gateway: FakeGateway, out: io.StringIO
) -> Worker:
    # A beat every 30 s: one telling a send at once was woken by it.
    return make_worker(tmp_path, cp, gateway, Calls(), out, heartbeat_interval=30.0)


def test_a_sent_sms_is_told_with_a_heartbeat_at_once_and_once(tmp_path: Path) -> None:
    """So an attempt its run never reports (killed for good) is known to have left."""
    cp = FakeControlPlane(leases=[grant("t-1")])
    out = io.StringIO()
    worker = _slow_beating_worker(tmp_path, cp, _told_first_gateway(cp, "t-1"), out)
    assert _run(worker) == 0
    [told] = cp.told_sent
    [report] = cp.reports
    assert told == {"trigger_id": "t-1", "sent_at": report["sent_at"], "provider": "provider1"}
    assert datetime.fromisoformat(told["sent_at"]).tzinfo is not None


def _granted(trigger_id: str, lease_ends: datetime) -> SendGrant:
    return SendGrant(
        trigger_id=trigger_id, phone=PHONE, pair="UZ_uzmobile", program="p", expires_at=lease_ends
    )


def test_a_beat_tells_at_most_what_the_route_takes_the_rest_at_once_none_past_its_lease(
    tmp_path: Path,
) -> None:
    assert MAX_SENT_PER_BEAT == MAX_SENT_PER_HEARTBEAT
    cp = FakeControlPlane()
    worker = _slow_beating_worker(tmp_path, cp, FakeGateway(), io.StringIO())
    sent_at = datetime(2030, 1, 1, tzinfo=UTC)
    for number in range(MAX_SENT_PER_BEAT + 6):
        worker._tell_sent(_granted(f"t-{number}", sent_at), sent_at, None)
    # One whose lease ended: the control plane closed it, or is about to.
    ended = datetime.now(UTC) - timedelta(seconds=1)
    worker._tell_sent(_granted("t-ended", ended), ended, None)
    beats = threading.Thread(target=worker._heartbeats)
    beats.start()
    try:
        deadline = time.monotonic() + 3  # well within the 30 s between beats
        while len(cp.told_sent) < MAX_SENT_PER_BEAT + 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        with worker._beat_wake:
            worker._heartbeat_stop.set()
            worker._beat_wake.notify_all()
        beats.join(5)
    told = [notice["trigger_id"] for notice in cp.told_sent]
    assert sorted(told) == sorted(f"t-{number}" for number in range(MAX_SENT_PER_BEAT + 6))
    assert cp.heartbeats == 2


def test_a_sent_sms_a_beat_could_not_tell_goes_with_the_next(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[grant("t-1")], sent_unreachable=1)
    worker = make_worker(tmp_path, cp, _told_first_gateway(cp, "t-1"), Calls(), io.StringIO())
    assert _run(worker) == 0
    assert [told["trigger_id"] for told in cp.told_sent] == ["t-1"]
    assert cp.reports[0]["sent_at"] == cp.told_sent[0]["sent_at"]


def test_a_sent_sms_the_control_plane_refuses_is_left_to_its_report(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=[grant("t-1")], refuse_sent=422)
    gateway = FakeGateway(states={"t-1": [PENDING] * 20 + [DELIVERED]})
    out = io.StringIO()
    assert _run(make_worker(tmp_path, cp, gateway, Calls(), out)) == 0
    assert cp.told_sent == []
    refused = "the control plane refused the beat's sent SMS (422 validation_error: no)"
    # Not told again beat after beat: the report says it.
    assert out.getvalue().count(refused) == 1
    assert cp.reports[0]["sent_at"] is not None


def test_a_heartbeat_begun_as_the_run_closed_its_client_ends_quietly(tmp_path: Path) -> None:
    """The run ends without waiting past its stop grace for a beat under way: the beat's
    client closed under it is no error of the program's, said in no thread's traceback."""
    worker = make_worker(tmp_path, FakeControlPlane(), FakeGateway(), Calls(), io.StringIO())
    worker._heartbeat_stop.set()
    worker._cp.close()
    worker._heartbeats()  # returns, raising nothing


def test_a_refused_lease_ends_the_program_with_an_error_code(tmp_path: Path) -> None:
    def refuse(_request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "unauthorized", "message": "bad token", "details": None}}
        return httpx.Response(401, json=body)

    out = io.StringIO()
    worker = Worker(
        *_classes(),
        settings=settings(tmp_path / "spool"),
        control_plane=ControlPlane(
            "http://cp.test", token="x", session=SESSION, transport=httpx.MockTransport(refuse)
        ),
        gateway=FakeGateway().client(),
        out=out,
    )
    assert _run(worker) == 3
    assert "unauthorized" in out.getvalue()


def test_mask_phone_keeps_the_last_four_digits() -> None:
    assert mask_phone("+998991234567") == "+********4567"
    assert mask_phone("123") == "123"


def test_a_line_gets_one_timestamp_whoever_stamps_it(tmp_path: Path) -> None:
    """By hand the SDK stamps its lines; under the session runner, which stamps every
    line of the log, it does not."""
    for stamped, expected in ((False, f"Z {SESSION} hello"), (True, "hello")):
        out = io.StringIO()
        worker = make_worker(tmp_path, FakeControlPlane(), FakeGateway(), Calls(), out)
        worker.settings = settings(tmp_path / "spool", log_stamped=stamped)
        worker.log("hello")
        line = out.getvalue().rstrip("\n")
        assert line.endswith(expected) and (line == "hello") is stamped
