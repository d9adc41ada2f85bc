"""Attempts in flight: as many as the control plane allows, picked up after a kill, and
programs in the seed's own shape (`SendOtp()` and `SumitOtp()` answering True/False)."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smsfleet.worker import SendGrant, Worker
from tests.unit.worker.fakes import (
    DELIVERED,
    PENDING,
    Calls,
    FakeControlPlane,
    FakeGateway,
    grant,
    make_worker,
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
