"""Sessions at fleet scale on this machine: start, stop, crash detection, listing.

Prints: time to start N sessions of a minimal program until all report running,
time to stop them, kill-to-detection latency, and GET /api/v1/sessions latency.
Runs real screen in a private screen directory; everything is cleaned up after.

    .venv/bin/python benchmarks/sessions.py [--sessions 600]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.auth.models import Role, User
from smsfleet.core.clock import SystemClock
from smsfleet.core.security import hash_password
from smsfleet.core.settings import Settings
from smsfleet.pairs.models import Pair
from smsfleet.programs.models import Program
from smsfleet.sessions.models import DesiredState, SessionState
from smsfleet.sessions.service import sync_specs
from smsfleet.stores import ConfigStore, open_config_store

PASSWORD = "benchmark-password"
MINIMAL_PROGRAM = ["sleep", "100000"]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def wait(check: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


def seed(store: ConfigStore, sessions: int) -> list[str]:
    now = datetime.now(UTC)
    store.users.add(
        User(
            username="admin",
            role=Role.admin,
            password_hash=hash_password(PASSWORD),
            created_at=now,
            updated_at=now,
        )
    )
    store.programs.add(
        Program(name="minimal", command=MINIMAL_PROGRAM, created_at=now, updated_at=now)
    )
    for index in range(sessions):
        store.pairs.add(
            Pair(
                key=f"UZ_op{index}",
                country="UZ",
                operator=f"Operator {index}",
                slug=f"op{index}",
                programs=["minimal"],
                created_at=now,
                updated_at=now,
            )
        )
    sync_specs(store=store, clock=SystemClock())
    return [spec.name for spec in store.session_specs.list()]


def set_desired(store: ConfigStore, names: list[str], desired: DesiredState) -> None:
    for name in names:
        spec = store.session_specs.get(name)
        assert spec is not None
        store.session_specs.replace(
            spec.model_copy(update={"desired": desired, "generation": spec.generation + 1})
        )


def count(store: ConfigStore, state: SessionState) -> int:
    return sum(1 for status in store.session_status.list() if status.state == state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("screen") is None:
        raise SystemExit("GNU screen is required: apt-get install screen")
    work = Path(tempfile.mkdtemp(prefix="sfbench-"))
    screen_dir = Path(tempfile.mkdtemp(prefix="sfb-", dir="/tmp"))
    settings = Settings(
        data_dir=work, screen_dir=screen_dir, web_dir=work / "none", start_seconds=0.5
    )
    store = open_config_store(settings.resolved_config_url)
    app = create_app(settings, store=store, clock=SystemClock())
    rows: list[tuple[str, str, str]] = []
    try:
        with TestClient(app) as client:
            names = seed(store, args.sessions)
            supervisor = app.state.services.sessions.supervisor

            set_desired(store, names, DesiredState.running)
            supervisor.wake()
            took = wait(lambda: count(store, SessionState.running) == len(names), 300)
            rows.append(
                (f"start {len(names)} sessions until all running", f"{took:.1f} s", "≤ 20 s")
            )

            token = client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            latencies = []
            for _ in range(60):
                started = time.perf_counter()
                response = client.get("/api/v1/sessions", headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200 and len(response.json()) == len(names)
            rows.append(
                (
                    f"GET /api/v1/sessions with {len(names)} sessions",
                    f"p50 {statistics.median(latencies):.0f} ms, p95 {p95(latencies):.0f} ms",
                    "p95 ≤ 50 ms",
                )
            )

            detections = []
            for name in random.sample(names, min(args.kills, len(names))):
                status = store.session_status.get(name)
                assert status is not None and status.pid
                os.kill(status.pid, signal.SIGKILL)
                killed = time.monotonic()

                def ended(session: str = name) -> bool:
                    status = store.session_status.get(session)
                    assert status is not None, session
                    return status.state != SessionState.running

                wait(ended, 30)
                detections.append(time.monotonic() - killed)
            rows.append(
                (
                    "kill-to-detection latency",
                    f"p50 {statistics.median(detections):.2f} s, p95 {p95(detections):.2f} s",
                    "p95 ≤ 2 s",
                )
            )
            wait(lambda: count(store, SessionState.running) == len(names), 120)

            set_desired(store, names, DesiredState.stopped)
            supervisor.wake()
            took = wait(lambda: count(store, SessionState.stopped) == len(names), 300)
            rows.append(
                (f"stop {len(names)} sessions until all stopped", f"{took:.1f} s", "≤ 20 s")
            )
    finally:
        backend = app.state.services.sessions.hosts.backend("local")
        for entry in backend.list():
            backend.stop(entry.name, 0)
        store.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(screen_dir, ignore_errors=True)
    print(f"machine: {platform.node()} · {os.cpu_count()} cores · Python {sys.version.split()[0]}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"{'measure':48} {'result':32} target")
    for measure, result, target in rows:
        print(f"{measure:48} {result:32} {target}")


if __name__ == "__main__":
    main()
