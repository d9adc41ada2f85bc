"""programs/program1.py and program4.py as real processes against the real simulator and a
stand-in control plane, both served over loopback HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsfleet.core.security import worker_token
from smsfleet.simulator import create_simulator_app, load_config
from tests.integration.worker.standin import SECRET, Fleet, create_app
from tests.support.servers import ThreadedServer
from tests.support.tokens import ANY_CREATION
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[3]
PHONE = "+998991234567"
# The demo providers, with deliveries fast enough for a test of a few seconds.
SIMULATOR_CONFIG = f"""
[simulator]
code_length = 6

[defaults]
delivery_probability = 0.8
send_error_rate = 0.0
give_up_after_seconds = 0.8

[defaults.latency]
distribution = "uniform"
min_seconds = 0.1
max_seconds = 0.4

[routes.UZ_uzmobile]
phones = ["{PHONE}"]

[providers.provider1]
delivery_probability = 1.0

[providers.provider4]
delivery_probability = 0.9
"""
TRUTH_OUTCOMES = {"delivered": "delivered", "not_delivered": "not_delivered"}


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[ThreadedServer]:
    config = tmp_path / "simulator.toml"
    config.write_text(SIMULATOR_CONFIG)
    server = ThreadedServer(create_simulator_app(load_config(config)))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fleet() -> Fleet:
    return Fleet(phones={"UZ_uzmobile": PHONE})


@pytest.fixture
def control_plane(fleet: Fleet) -> Iterator[ThreadedServer]:
    server = ThreadedServer(create_app(fleet))
    server.start()
    yield server
    server.stop()


class Program:
    def __init__(
        self, program: str, tmp_path: Path, control_plane: str, simulator: str, **env: str
    ) -> None:
        self.session = f"{program}_UZ_uzmobile"
        self.spool = tmp_path / "spool" / self.session
        self.log = tmp_path / f"{self.session}.log"
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "SMSFLEET_URL": control_plane,
            "SMSFLEET_SESSION": self.session,
            "SMSFLEET_WORKER_TOKEN": worker_token(
                secret=SECRET, session=self.session, created_at=ANY_CREATION
            ),
            "SMSFLEET_PAIR": "UZ_uzmobile",
            "SMSFLEET_PROGRAM": program,
            "SMSFLEET_COUNTRY": "UZ",
            "SMSFLEET_SIMULATOR_URL": simulator,
            "SMSFLEET_SPOOL_DIR": str(self.spool),
            "SMSFLEET_HEARTBEAT_INTERVAL": "0.5",
            **env,
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "programs" / f"{program}.py")],
                env=environment,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def output(self) -> str:
        return self.log.read_text()


def _last_fate(truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The final record per trigger id: a retry or fallback follows a failed send."""
    fates: dict[str, dict[str, Any]] = {}
    for record in sorted(truth["records"], key=lambda record: record["seq"]):
        if record["trigger_id"] is not None:
            fates[record["trigger_id"]] = record
    return fates


def test_programs_report_the_ground_truth_across_a_control_plane_restart(
    tmp_path: Path, simulator: ThreadedServer, control_plane: ThreadedServer, fleet: Fleet
) -> None:
    # The simulator's admin answers at once; the timeout only bounds a machine's stall (a
    # first request once waited over 5 s for its answer on a loaded machine).
    with httpx.Client(base_url=simulator.url, timeout=30) as admin:
        _run_fleet(tmp_path, simulator, control_plane, fleet, admin)


def _run_fleet(
    tmp_path: Path,
    simulator: ThreadedServer,
    control_plane: ThreadedServer,
    fleet: Fleet,
    admin: httpx.Client,
) -> None:
    # provider4 starts in an outage, so program4 must fall back to provider1.
    admin.patch("/admin/providers/provider4", json={"outage": True}).raise_for_status()
    programs = [
        Program(name, tmp_path, control_plane.url, simulator.url)
        for name in ("program1", "program4")
    ]
    try:

        def each_reported(count: int) -> Callable[[], bool]:
            return lambda: all(len(fleet.reports_of(p.session)) >= count for p in programs)

        eventually(each_reported(3), 20, "three reports from each program")

        # The control plane fails (503) while an SMS is in flight, then goes away entirely:
        # that SMS's report waits in the spool, and no SMS is sent without a grant.
        eventually(fleet.go_down_mid_attempt, 10, "an SMS in flight")
        down_at = len(fleet.grants)
        control_plane.stop()
        eventually(
            lambda: any(any(p.spool.glob("*.json")) for p in programs), 10, "a spooled report"
        )
        eventually(
            lambda: all("control plane unreachable" in p.output() for p in programs),
            10,
            "each program to find the control plane unreachable",
        )
        time.sleep(0.3)
        assert len(fleet.grants) == down_at
        admin.patch("/admin/providers/provider4", json={"outage": False}).raise_for_status()
        fleet.down = False
        control_plane.start()
        before = {p.session: len(fleet.reports_of(p.session)) for p in programs}
        eventually(
            lambda: all(
                len(fleet.reports_of(p.session)) >= before[p.session] + 3 for p in programs
            ),
            20,
            "three more reports from each program after the restart",
        )
        codes = [p.terminate() for p in programs]
    finally:
        for program in programs:
            if program.process.poll() is None:
                program.process.kill()
                program.process.wait()

    outputs = {p.session: p.output() for p in programs}
    assert codes == [0, 0], outputs
    for program in programs:
        assert "control plane unreachable" in outputs[program.session]
        assert "received SIGTERM" in outputs[program.session]
        assert fleet.heartbeats[program.session] >= 1
        assert list(program.spool.glob("*.json")) == [], "every spooled report was replayed"

    fates = _last_fate(admin.get("/admin/truth").json())
    # Every SMS the simulator saw was granted, and every one was reported exactly once.
    assert set(fates) <= set(fleet.grants)
    assert set(fleet.reports) == set(fates)
    assert all(count == 1 for count in fleet.recorded.values())
    for trigger_id, fate in fates.items():
        report = fleet.reports[trigger_id]
        expected = TRUTH_OUTCOMES.get(fate["outcome"], "send_failed")
        assert (report.outcome, report.provider) == (expected, fate["provider"]), trigger_id

    providers4 = {r.provider for r in fleet.reports_of("program4_UZ_uzmobile")}
    assert providers4 == {"provider1", "provider4"}  # fell back during the outage only


def test_a_program_without_its_environment_names_what_is_missing() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "programs" / "program6.py")],
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "SMSFLEET_URL is not set" in result.stderr
