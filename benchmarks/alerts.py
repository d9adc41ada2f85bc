"""Alert delivery: a session crash on Telegram, and its recovery, timed end to end.

    .venv/bin/python benchmarks/alerts.py [--crashes 20]

A real fleet (tests/support/fleet.py: `smsfleet serve`, the gateway simulator, two
programs in GNU screen) with a Telegram stand-in for the Bot API. Each round kills
one program with SIGKILL and times, from the kill, the arrival of the crash message
on Telegram (the supervisor's detection, the alert engine, the outbox, the Bot API
call) and of the resolved message once the supervisor has had it running again for
the recovery time (`SMSFLEET_ALERT_RECOVERY_SECONDS`, 10 s by default), and, from the
session's events, when the supervisor recorded the exit (the runner tells it as the
program ends; its tick, every second, is the safety net). Backoff and the
quick-failure limit are set so that repeated kills never make a session give up.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fleet import (
    SESSIONS,
    seed,
    sessions_running,
    started_rig,
)
from tests.support.telegram import SentMessage, TelegramStandIn
from tests.support.waiting import START_TIMEOUT, eventually

TOKEN = "1:benchmark"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def detected_at(client: httpx.Client, session: str, since: float) -> float:
    """When the supervisor recorded the session's exit (its event's time, epoch seconds)."""
    events = client.get(f"/api/v1/sessions/{session}/events", params={"limit": 20}).json()
    times = [
        datetime.fromisoformat(event["at"]).timestamp()
        for event in events
        if event["kind"] == "exited"
    ]
    return min(at for at in times if at >= since - 0.001)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crashes", type=int, default=20)
    args = parser.parse_args()
    detect_latency: list[float] = []
    crash_latency: list[float] = []
    resolve_latency: list[float] = []
    with tempfile.TemporaryDirectory() as work, TelegramStandIn(token=TOKEN) as telegram:
        env = {
            "SMSFLEET_TELEGRAM_API_URL": telegram.url,
            "SMSFLEET_TELEGRAM_BOT_TOKEN": TOKEN,
            "SMSFLEET_TELEGRAM_CHAT_IDS": "-100",
            "SMSFLEET_BACKOFF_MAX_SECONDS": "1",
            "SMSFLEET_MAX_QUICK_FAILURES": "1000",
        }
        with started_rig(Path(work), env) as rig, rig.admin() as client:
            seed(client)
            eventually(lambda: sessions_running(client), START_TIMEOUT, "the sessions to run")
            for round_number in range(args.crashes):
                session = SESSIONS[round_number % len(SESSIONS)]

                def running(name: str = session) -> bool:
                    status = client.get(f"/api/v1/sessions/{name}").json()
                    return bool(status["state"] == "running" and status["pid"])

                eventually(running, START_TIMEOUT, f"{session} to run")
                before = len(telegram.messages)
                pid = client.get(f"/api/v1/sessions/{session}").json()["pid"]
                killed_at, killed_wall = time.monotonic(), time.time()
                os.kill(pid, signal.SIGKILL)

                def about_it(n: int = before, name: str = session) -> list[SentMessage]:
                    # Other rules (the success rate) may speak too: only this session's.
                    return [
                        m
                        for m in telegram.messages[n:]
                        if "session crashed" in m.text and name in m.text
                    ]

                eventually(lambda: len(about_it()) >= 2, 30, "the crash and its resolution")
                crash, resolved = about_it()[:2]
                if "RESOLVED" in crash.text or "RESOLVED" not in resolved.text:
                    sys.exit(f"unexpected messages: {crash.text!r}, {resolved.text!r}")
                detect_latency.append(detected_at(client, session, killed_wall) - killed_wall)
                crash_latency.append(crash.received_at - killed_at)
                resolve_latency.append(resolved.received_at - killed_at)

    python = sys.version.split()[0]
    print(f"# alerts — {platform.node()}, {os.cpu_count()} CPUs, Python {python}")
    print(f"crashes: {args.crashes} (SIGKILL of a program in its screen session)")
    print("| figure | p50 | p95 | max | target |")
    print("| --- | --- | --- | --- | --- |")
    for name, values, target in (
        ("kill -9 → exit detected", detect_latency, "p95 ≤ 100 ms"),
        ("crash → Telegram", crash_latency, "p95 ≤ 500 ms"),
        ("crash → resolved on Telegram", resolve_latency, ""),
    ):
        print(
            f"| {name} | {statistics.median(values):.2f} s | {percentile(values, 0.95):.2f} s "
            f"| {max(values):.2f} s | {target} |"
        )


if __name__ == "__main__":
    main()
