"""`make run` as a new user runs it: is every demo country granted its goal?

    .venv/bin/python benchmarks/demo.py [--warmup 180] [--measure 120]

Starts the demo as `make run` does (`smsfleet demo`, after `make run` has set up the
checkout once), with the machine's SMSFLEET_ settings left out, in a fresh temporary data
dir, on free ports and with a private screen directory. It waits `--warmup` seconds from
the start, then measures `--measure` seconds. From the attempts the control plane recorded
(their `leased_at` in the metrics SQLite database, i.e. at grant time) it prints per
country: grants per minute over the measured seconds, and the most grants in any 60-s
window (t-60 s, t] over the whole run, in whole milliseconds as benchmarks/fleet.py counts
them. A country passes at 95 % of its cap or more (9.5 of 10 per minute) with no window
over the cap (10); a failing country gets the control plane's own reason
(GET /api/v1/dispatch/goals). Then the machine and the date. The demo is stopped as Ctrl-C
stops it, and every screen session must be gone. Exits 1 unless every country passes.
Needs GNU screen.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dispatch import SCREEN, SMSFLEET, machine, max_in_any_window
from benchmarks.fleet import (
    SHARE,
    Stopped,
    cpu_model,
    loads,
    over_cap,
    read_attempts,
    stop_on_signals,
)
from smsfleet.demo import DEMO_PAIRS
from tests.support.backends import free_port
from tests.support.fleet import (
    admin_client,
    answers,
    clean_environment,
    quit_screens,
    screen_sockets,
    short_dir,
)

START_SECONDS = 60.0
EXIT_SECONDS = 60.0
LOGIN = re.compile(r"log in as: admin / (\S+)")
STOPPED = re.compile(r"(\d+) demo sessions stopped")


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    url: str
    screen_dir: Path
    data_dir: Path
    log: Path
    started: datetime  # naive UTC, as the attempts' times are stored
    launched: float  # time.monotonic() then

    def printed(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Run:
    """What a run leaves: the attempts (pair, country, leased_at, outcome, error), the
    measured span, the control plane's goals at its end and the screens the demo left."""

    rows: list[tuple[str, str, datetime, str | None, str | None]]
    span: tuple[datetime, datetime]
    goals: dict[str, dict[str, Any]]
    screens_left: list[str]


def start_demo(work: Path) -> Demo:
    """`smsfleet demo` on free ports, its data and screens in directories of its own."""
    if SCREEN is None:
        raise SystemExit("GNU screen is missing: apt-get install -y screen")
    port, simulator_port, search_port = free_port(), free_port(), free_port()
    screen_dir = short_dir("sf-demo-")
    data_dir = work / "data"
    env = {
        **clean_environment(),
        "SMSFLEET_DATA_DIR": str(data_dir),
        "SMSFLEET_SCREEN_DIR": str(screen_dir),
    }
    argv = [
        SMSFLEET, "demo", "--port", str(port),
        "--simulator-port", str(simulator_port), "--search-port", str(search_port),
    ]  # fmt: skip
    log = work / "demo.log"
    started, launched = datetime.now(UTC).replace(tzinfo=None), time.monotonic()
    with log.open("wb") as output:
        # A process group of its own, as a shell gives a foreground job.
        process = subprocess.Popen(
            argv, env=env, cwd=work, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Demo(process, f"http://127.0.0.1:{port}", screen_dir, data_dir, log, started, launched)


def wait_until_it_answers(demo: Demo) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not answers(f"{demo.url}/healthz"):
        if demo.process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the demo did not start:\n{demo.printed()[-3000:]}")
        time.sleep(0.5)


def goals(demo: Demo) -> dict[str, dict[str, Any]]:
    """The control plane's goals per country; empty if it cannot be asked."""
    login = LOGIN.search(demo.printed())
    if login is None:
        return {}
    try:
        with admin_client(demo.url, login.group(1)) as client:
            response = client.get("/api/v1/dispatch/goals")
            response.raise_for_status()
            return {goal["country"]: goal for goal in response.json()}
    except httpx.HTTPError as error:
        print(f"no goals from the control plane: {error}", flush=True)
        return {}


def stop_demo(demo: Demo) -> list[str]:
    """Ctrl-C, as a user stops it; what it says about stopping, and the screens left."""
    if demo.process.poll() is None:
        os.killpg(demo.process.pid, signal.SIGINT)
        try:
            demo.process.wait(timeout=EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(demo.process.pid, signal.SIGKILL)
            demo.process.wait(timeout=10)
    left = screen_sockets(demo.screen_dir)
    quit_screens(demo.screen_dir)
    shutil.rmtree(demo.screen_dir, ignore_errors=True)
    return left


def report(args: argparse.Namespace, demo: Demo, result: Run) -> bool:
    """The table and the verdict: True when every demo country passes."""
    measured_from, ended = result.span
    minutes = (ended - measured_from).total_seconds() / 60
    whole: dict[str, list[int]] = defaultdict(list)
    measured: dict[str, int] = defaultdict(int)
    for _pair, country, at, _outcome, _error in result.rows:
        if not demo.started <= at <= ended:
            continue
        # Whole milliseconds, as the limiter keeps them (benchmarks/fleet.py).
        whole[country].append((at - demo.started) // timedelta(milliseconds=1))
        if at >= measured_from:
            measured[country] += 1
    print()
    print("| country | grants/min | most in a 60-s window | windows over | goal | result |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    failed = []
    for country in sorted({pair.country for pair in DEMO_PAIRS}):
        cap = int(result.goals.get(country, {}).get("goal_per_minute", args.cap))
        rate = measured[country] / minutes
        most = max_in_any_window(whole[country]) if whole[country] else 0
        over = over_cap(whole[country], cap)
        passed = rate >= SHARE * cap and most <= cap
        if not passed:
            failed.append(country)
        print(
            f"| {country} | {rate:.2f} | {most} | {over} | ≥ {SHARE * cap:g}/min, ≤ {cap} "
            f"| {'PASS' if passed else 'FAIL'} |"
        )
    print()
    print(
        f"warm-up {args.warmup:g} s from the start, then {minutes * 60:.0f} s measured "
        f"({measured_from:%H:%M:%S} to {ended:%H:%M:%S} UTC); windows over the whole run"
    )
    for country in failed:
        goal = result.goals.get(country, {})
        print(
            f"  {country}: the control plane says {goal.get('achieved_per_minute')}/min in its "
            f"last {goal.get('window_seconds')} s: {goal.get('reason') or 'on goal'}"
        )
    verdict = "PASS" if not failed else f"FAIL ({', '.join(failed)})"
    print(f"{verdict}: every demo country ≥ {SHARE:.0%} of its cap, no 60-s window over it")
    return not failed


def run(args: argparse.Namespace, work: Path) -> tuple[Demo, Run]:
    demo = start_demo(work)
    try:
        wait_until_it_answers(demo)
        print(f"`smsfleet demo` started at {demo.started:%H:%M:%S} UTC", flush=True)
        time.sleep(max(args.warmup - (time.monotonic() - demo.launched), 0))
        measured_from = datetime.now(UTC).replace(tzinfo=None)
        time.sleep(args.measure)
        ended = datetime.now(UTC).replace(tzinfo=None)
        goals_now = goals(demo)
    finally:
        left = stop_demo(demo)
    said = STOPPED.search(demo.printed())
    print(
        f"demo stopped with code {demo.process.returncode}: "
        f"{said.group(0) if said else 'it said nothing of its sessions'}; "
        f"screen sessions left: {len(left)}{' ' + ', '.join(left) if left else ''}"
    )
    rows = read_attempts(demo.data_dir / "metrics.db")
    return demo, Run(rows, (measured_from, ended), goals_now, left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warmup", type=float, default=180, help="seconds before measuring")
    parser.add_argument("--measure", type=float, default=120, help="seconds measured")
    parser.add_argument(
        "--cap", type=int, default=10, help="a country's cap when the control plane cannot say"
    )
    args = parser.parse_args()
    stop_on_signals()
    print(f"benchmarks/demo.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}; {cpu_model()}; load average at start {loads()}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-demo-") as directory:
            demo, result = run(args, Path(directory))
    except (KeyboardInterrupt, Stopped):
        raise SystemExit("interrupted: the demo was stopped") from None
    print(f"load average at the end: {loads()}")
    passed = report(args, demo, result)
    raise SystemExit(0 if passed and not result.screens_left else 1)


if __name__ == "__main__":
    main()
