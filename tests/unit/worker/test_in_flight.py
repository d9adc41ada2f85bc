"""Attempts in flight: as many as the control plane allows, picked up after a kill, and
programs in the seed's own shape (`SendOtp()` and `SumitOtp()` answering True/False)."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from smsfleet.worker import SendGrant, Worker
from tests.unit.worker.fakes import (
    DELIVERED,
    PENDING,
    Calls,
    FakeControlPlane,
    FakeGateway,
    grant,
    make_worker,
    program_classes,
    settings,
)
from tests.unit.worker.test_worker import _run


def _grants(count: int, allowed: int) -> list[dict[str, Any]]:
    return [{**grant(f"t-{n}"), "max_in_flight": allowed} for n in range(1, count + 1)]


def test_a_session_carries_what_it_is_allowed_and_never_more(tmp_path: Path) -> None:
    cp = FakeControlPlane(leases=_grants(6, allowed=3))
    gateway = FakeGateway(states={f"t-{n}": [PENDING] * 40 + [DELIVERED] for n in range(1, 7)})
    in_flight_at_lease: list[int] = []
    # Called under the fake's lock: the grants handed out so far less the reports.
    cp.on_lease = lambda n: in_flight_at_lease.append(min(n - 1, 6) - len(cp.reports))
    calls = Calls()
    # Forty polls each: time enough for them on a busy machine (the codes always come).
    worker = make_worker(
        tmp_path, cp, gateway, calls, io.StringIO(), poll_max_interval=0.01, code_timeout=30.0
    )
    assert _run(worker) == 0
    assert sorted(r["trigger_id"] for r in cp.reports) == [f"t-{n}" for n in range(1, 7)]
    assert all(r["outcome"] == "delivered" for r in cp.reports)
    # A lease is asked for only while fewer than three attempts wait for their codes.
    assert max(in_flight_at_lease) == 2
    assert in_flight_at_lease[:3] == [0, 1, 2]
    assert worker.max_in_flight == 3


def test_a_stop_from_the_control_plane_lets_the_attempts_in_flight_report(
    tmp_path: Path,
) -> None:
    cp = FakeControlPlane(leases=[*_grants(3, allowed=3), {"action": "stop", "reason": "paused"}])
    gateway = FakeGateway(states={f"t-{n}": [PENDING] * 5 + [DELIVERED] for n in (1, 2, 3)})
    worker = make_worker(tmp_path, cp, gateway, Calls(), io.StringIO(), poll_max_interval=0.01)
    assert _run(worker) == 0
    assert sorted((r["trigger_id"], r["outcome"]) for r in cp.reports) == [
        ("t-1", "delivered"),
        ("t-2", "delivered"),
        ("t-3", "delivered"),
    ]
    assert cp.lease_calls == 4  # nothing leased after the stop


def test_a_restart_picks_up_what_a_killed_run_left_in_flight(tmp_path: Path) -> None:
    """Sent before the kill: wait for its code again. Broke off mid-send: say so."""
    cp = FakeControlPlane()
    gateway = FakeGateway(states={"t-sent": [PENDING, DELIVERED]})
    calls = Calls()
    killed = make_worker(tmp_path, cp, gateway, calls, io.StringIO())
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    for trigger_id in ("t-sent", "t-sending"):
        killed.journal.granted(
            SendGrant(trigger_id, "+998991234567", "UZ_uzmobile", "program1", expires_at=expires)
        )
    killed.journal.sent(
        "t-sent",
        sent_at=datetime(2029, 12, 31, tzinfo=UTC),
        provider="provider1",
        gateway_id="t-sent",
    )

    restarted = make_worker(tmp_path, cp, gateway, calls, io.StringIO())
    assert _run(restarted) == 0
    outcomes = {r["trigger_id"]: (r["outcome"], r["error_code"]) for r in cp.reports}
    assert outcomes == {"t-sent": ("delivered", None), "t-sending": ("error", "interrupted")}
    assert calls.sent == []  # nothing is ever sent twice
    assert calls.submitted == [("t-sent", "123456", "provider1")]
    assert list((tmp_path / "spool" / "in-flight").glob("*.json")) == []


def _killed_run_left(
    tmp_path: Path,
    cp: FakeControlPlane,
    gateway: FakeGateway,
    *,
    sent_ago: float,
    expires_in: float,
) -> None:
    """A run killed with -9 left `t-old` sent `sent_ago` seconds ago, its lease ending in
    `expires_in` seconds (negative: ended)."""
    killed = make_worker(tmp_path, cp, gateway, Calls(), io.StringIO())
    now = datetime.now(UTC)
    killed.journal.granted(
        SendGrant(
            "t-old",
            "+998991234567",
            "UZ_uzmobile",
            "program1",
            expires_at=now + timedelta(seconds=expires_in),
        )
    )
    killed.journal.sent(
        "t-old",
        sent_at=now - timedelta(seconds=sent_ago),
        provider="provider1",
        gateway_id="t-old",
    )


def test_a_resumed_sms_waits_only_what_is_left_of_its_code_timeout(tmp_path: Path) -> None:
    """`code_timeout` counts from the send: a run resuming an SMS sent 40 s ago, with a
    30 s timeout, looks once and says it timed out rather than waiting 30 s more."""
    cp, gateway = FakeControlPlane(), FakeGateway(states={"t-old": [PENDING]})
    _killed_run_left(tmp_path, cp, gateway, sent_ago=40, expires_in=300)
    restarted = make_worker(tmp_path, cp, gateway, Calls(), io.StringIO(), code_timeout=30.0)
    started = time.monotonic()
    assert _run(restarted) == 0
    assert time.monotonic() - started < 10
    assert [(r["trigger_id"], r["outcome"], r["error_code"]) for r in cp.reports] == [
        ("t-old", "not_delivered", "gateway_timeout")
    ]


def test_an_sms_whose_lease_ran_out_is_left_to_the_control_plane(tmp_path: Path) -> None:
    """Started after its lease ended, the run neither asks the gateway nor submits nor
    reports (the control plane closed it as lease_expired and would refuse the report):
    it says so and drops it from the journal."""
    cp, gateway = FakeControlPlane(), FakeGateway(states={"t-old": [DELIVERED]})
    _killed_run_left(tmp_path, cp, gateway, sent_ago=600, expires_in=-120)
    calls, out = Calls(), io.StringIO()
    restarted = make_worker(tmp_path, cp, gateway, calls, out)
    assert _run(restarted) == 0
    assert cp.reports == []
    assert (gateway.polls, calls.submitted) == (0, [])
    assert restarted.journal.entries() == []
    assert "trigger=t-old left by an earlier run: its lease ran out" in out.getvalue()


def test_a_report_already_spooled_is_not_picked_up_again(tmp_path: Path) -> None:
    cp = FakeControlPlane()
    gateway = FakeGateway(states={"t-1": [DELIVERED]})
    calls = Calls()
    killed = make_worker(tmp_path, cp, gateway, calls, io.StringIO())
    report = killed.attempt(SendGrant("t-1", "+998991234567", "UZ_uzmobile", "program1"))
    killed.spool.add(report.to_json())  # killed before the journal's entry went
    assert _run(make_worker(tmp_path, cp, gateway, calls, io.StringIO())) == 0
    assert [r["trigger_id"] for r in cp.reports] == ["t-1"]
    assert len(calls.submitted) == 1


# --- programs written exactly in the seed's shape --------------------------------------


def _seed_program(send_answer: bool, submit_answer: bool) -> tuple[type[Any], type[Any], list[Any]]:
    submitted: list[tuple[str, str]] = []

    class SendSMS:
        def __init__(self, phone: str, proxy: str | None = None) -> None:
            self.phone = phone
            self.proxy = proxy

        def SendOtp(self) -> bool:  # noqa: N802
            return send_answer

    class SubmitSMS:
        def SumitOtp(self, trigger_id: str, SMS_code: str) -> bool:  # noqa: N802, N803
            submitted.append((trigger_id, SMS_code))
            return submit_answer

    return SendSMS, SubmitSMS, submitted


def _run_seed_program(tmp_path: Path, send_answer: bool, submit_answer: bool) -> Any:
    send_cls, submit_cls, submitted = _seed_program(send_answer, submit_answer)
    cp = FakeControlPlane(leases=[grant("t-1")])
    worker = Worker(
        send_cls,
        submit_cls,
        settings=settings(tmp_path / "spool"),
        control_plane=cp.client(),
        gateway=FakeGateway(states={"t-1": [DELIVERED]}).client(),
        poll_interval=0.01,
        out=io.StringIO(),
    )
    assert _run(worker) == 0
    [report] = cp.reports
    return report, submitted


def test_seed_send_otp_true_then_sumit_otp_true_is_delivered(tmp_path: Path) -> None:
    report, submitted = _run_seed_program(tmp_path, True, True)
    assert (report["outcome"], report["error_code"]) == ("delivered", None)
    assert submitted == [("t-1", "123456")]


def test_seed_send_otp_false_is_a_failed_send(tmp_path: Path) -> None:
    report, submitted = _run_seed_program(tmp_path, False, True)
    assert (report["outcome"], report["error_code"]) == ("send_failed", "send_refused")
    assert report["sent_at"] is None
    assert submitted == []  # nothing was sent, so no code is waited for


def test_seed_sumit_otp_false_is_a_failed_submit(tmp_path: Path) -> None:
    report, submitted = _run_seed_program(tmp_path, True, False)
    # The SMS did arrive (the route works); only handing the code back failed.
    assert (report["outcome"], report["error_code"]) == ("delivered", "submit_failed")
    assert submitted == [("t-1", "123456")]


def test_concurrent_reports_get_distinct_spool_files(tmp_path: Path) -> None:
    worker = make_worker(tmp_path, FakeControlPlane(down=True), FakeGateway(), Calls(), None)
    barrier = threading.Barrier(8)

    def add(n: int) -> None:
        barrier.wait()
        worker.spool.add({"trigger_id": f"t-{n}", "outcome": "delivered"})

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(worker.spool) == 8


@dataclass
class _SlowReports(FakeControlPlane):
    """Each report takes `delay` seconds to answer, as on a busy control plane; several
    are answered side by side."""

    delay: float = 0.4

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/report"):
            time.sleep(self.delay)
        return super().handler(request)


def _stop_once_all_sent(worker: Worker, calls: Calls, count: int) -> list[float]:
    """Stops `worker` once `count` SMS are sent; the list returned holds when (monotonic)."""
    stopped: list[float] = []

    def when_sent() -> None:
        deadline = time.monotonic() + 30
        while len(calls.sent) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        stopped.append(time.monotonic())
        worker.request_stop()  # as SIGTERM's handler does

    threading.Thread(target=when_sent, daemon=True).start()
    return stopped


def _waits(allowed: int) -> list[dict[str, Any]]:
    return [{"action": "wait", "retry_after": 30, "max_in_flight": allowed}] * 5


def test_attempts_cut_off_by_a_stop_report_side_by_side_within_the_grace(
    tmp_path: Path,
) -> None:
    """Six attempts whose codes never come, a stop, a control plane taking 0.4 s a report:
    one after another the reports alone would take 2.4 s of the 4 s grace."""
    cp = _SlowReports(leases=[*_grants(6, allowed=6), *_waits(6)])
    gateway = FakeGateway(states={f"t-{n}": [PENDING] for n in range(1, 7)})
    calls, out = Calls(), io.StringIO()
    worker = make_worker(tmp_path, cp, gateway, calls, out, stop_grace=4.0, code_timeout=30.0)
    stopped = _stop_once_all_sent(worker, calls, 6)
    assert _run(worker, timeout=15) == 0
    # From the stop: the start and the sends before it take what a loaded machine gives.
    elapsed = time.monotonic() - stopped[0]
    assert sorted((r["trigger_id"], r["outcome"], r["error_code"]) for r in cp.reports) == [
        (f"t-{n}", "error", "interrupted") for n in range(1, 7)
    ]
    assert not worker.spool.pending()
    # Ended within the grace, not killed at its end: codes awaited for half of it (2 s),
    # then the six reports together (0.4 s), with a second and a half to spare.
    assert elapsed < 4.0, f"ended {elapsed:.1f} s after the stop, past the 4 s grace"
    log = out.getvalue()
    assert "stopping; 6 attempt(s) in flight wait up to 2.0 s more for their codes" in log
    assert "every attempt reported" in log
    assert "finishing the current attempt" not in log


def test_a_stop_ends_a_long_pause_between_looks_at_the_gateway(tmp_path: Path) -> None:
    """Attempts waiting long pause seconds between looks at the gateway: a stop cuts the
    pause short, so their wait still ends at the stop's time, not at the pause's end."""
    cp = FakeControlPlane(leases=[*_grants(3, allowed=3), *_waits(3)])
    gateway = FakeGateway(states={f"t-{n}": [PENDING] for n in (1, 2, 3)})
    calls = Calls()
    worker = make_worker(
        tmp_path,
        cp,
        gateway,
        calls,
        io.StringIO(),
        stop_grace=3.0,  # time to report in on a busy machine
        code_timeout=60.0,
        poll_interval=30.0,
        poll_max_interval=30.0,
    )
    _stop_once_all_sent(worker, calls, 3)
    # The grace is 3 s; a pause not cut short would last 30 s.
    assert _run(worker, timeout=10) == 0
    assert sorted((r["trigger_id"], r["error_code"]) for r in cp.reports) == [
        ("t-1", "interrupted"),
        ("t-2", "interrupted"),
        ("t-3", "interrupted"),
    ]


def test_an_attempt_stuck_in_the_program_at_the_grace_end_is_left_to_the_next_run(
    tmp_path: Path,
) -> None:
    cp = FakeControlPlane(leases=[*_grants(1, allowed=1), *_waits(1)])
    gateway = FakeGateway(states={"t-1": [DELIVERED]})
    calls, out = Calls(), io.StringIO()
    released = threading.Event()
    send_cls, submit_cls = program_classes(calls)

    class Stuck(submit_cls):  # type: ignore[misc, valid-type]
        def SumitOtp(self, *args: Any) -> Any:  # noqa: N802  (held in the program's code)
            released.wait(30)
            return super().SumitOtp(*args)

    worker = Worker(
        send_cls,
        Stuck,
        settings=settings(tmp_path / "spool", stop_grace=1.0),
        control_plane=cp.client(),
        gateway=gateway.client(),
        poll_interval=0.01,
        out=out,
    )
    _stop_once_all_sent(worker, calls, 1)
    try:
        assert _run(worker, timeout=10) == 0
    finally:
        released.set()
    assert cp.reports == []
    assert worker.journal.holds("t-1")
    assert (
        "1 attempt(s) still in the program's code at the end of the stop grace: exiting"
        " without them; the next run reports them from its journal"
    ) in out.getvalue()


def test_an_attempt_whose_report_is_on_its_way_at_the_grace_end_is_not_said_stuck(
    tmp_path: Path,
) -> None:
    """Its report is in the spool: the last flush says what became of it, and nothing
    claims it is still in the program's code nor left to the journal."""
    # The report takes longer to answer than the grace lasts; the grace leaves a loaded
    # machine time to cut the attempt short and spool its report.
    cp = _SlowReports(leases=[*_grants(1, allowed=1), *_waits(1)], delay=6.0)
    gateway = FakeGateway(states={"t-1": [PENDING]})
    calls, out = Calls(), io.StringIO()
    worker = make_worker(tmp_path, cp, gateway, calls, out, stop_grace=2.5)
    _stop_once_all_sent(worker, calls, 1)
    assert _run(worker, timeout=10) == 0
    assert not worker.journal.holds("t-1")
    assert worker.spool.holds("t-1") or [r["trigger_id"] for r in cp.reports] == ["t-1"]
    assert "program's code" not in out.getvalue()
