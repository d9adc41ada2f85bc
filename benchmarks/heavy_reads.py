"""Heavy reads beside the programs: what a flood of dashboard reads does to their leases.

    .venv/bin/python benchmarks/heavy_reads.py [--loops 50] [--measure 30] [--warmup 60]

Starts the demo (as benchmarks/demo.py does: free ports, a fresh data dir, a private
screen directory), waits `--warmup` seconds for its programs to lease steadily, then
measures two windows of `--measure` seconds each: first with nothing else running, then
with `--loops` clients of one signed-in user each asking for the 30-day heatmap again as
soon as it is answered. For each window it prints the programs' lease latency as the
control plane measured it (`smsfleet_worker_request_seconds{route="lease"}`: the count,
and the median and p95 as the upper bound of the histogram's bucket holding them), and
for the loaded one the heavy reads' own answers by status, per second, and their median
latency. Then the machine and the date.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.demo import LOGIN, start_demo, stop_demo, wait_until_it_answers
from benchmarks.dispatch import machine
from benchmarks.fleet import Stopped, cpu_model, loads, stop_on_signals

HEATMAP = "/api/v1/metrics/heatmap?window=30d"
LEASE_SECONDS = "smsfleet_worker_request_seconds"


def lease_buckets(url: str) -> dict[float, float]:
    """Cumulative lease counts per bucket upper bound, summed over statuses."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != LEASE_SECONDS:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("route") == "lease":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


def lease_latency(before: dict[float, float], after: dict[float, float]) -> str:
    """The leases answered between two scrapes: count, median and p95 by bucket."""
    bounds = sorted(after)
    counts = [after[bound] - before.get(bound, 0.0) for bound in bounds]
    total = counts[-1]
    if total <= 0:
        return "no lease answered"

    def quantile(fraction: float) -> str:
        bound = next(b for b, c in zip(bounds, counts, strict=True) if c >= fraction * total)
        return "over 2.5 s" if bound == float("inf") else f"≤ {bound * 1000:g} ms"

    return f"{total:.0f} leases, median {quantile(0.5)}, p95 {quantile(0.95)}"


async def flood(
    url: str, token: str, loops: int, seconds: float
) -> tuple[Counter[int | str], list[float]]:
    """`loops` clients asking for the heatmap back to back for `seconds`."""
    statuses: Counter[int | str] = Counter()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=loops)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60
    ) as client:

        async def loop() -> None:
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = await client.get(HEATMAP)
                except httpx.TransportError as error:
                    statuses[type(error).__name__] += 1
                    continue
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    latencies.append(time.monotonic() - started)
                else:
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))

        await asyncio.gather(*(loop() for _ in range(loops)))
    return statuses, latencies


def sign_in(url: str, password: str) -> str:
    response = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": "admin", "password": password}, timeout=30
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def run(args: argparse.Namespace, work: Path) -> None:
    demo = start_demo(work)
    try:
        wait_until_it_answers(demo)
        login = LOGIN.search(demo.printed())
        if login is None:
            raise SystemExit(f"the demo printed no login:\n{demo.printed()[-3000:]}")
        time.sleep(max(args.warmup - (time.monotonic() - demo.launched), 0))
        token = sign_in(demo.url, login.group(1))
        start = lease_buckets(demo.url)
        time.sleep(args.measure)
        quiet = lease_buckets(demo.url)
        statuses, latencies = asyncio.run(flood(demo.url, token, args.loops, args.measure))
        loaded = lease_buckets(demo.url)
    finally:
        stop_demo(demo)
    print(f"quiet ({args.measure:g} s): {lease_latency(start, quiet)}")
    print(f"{args.loops} heatmap loops ({args.measure:g} s): {lease_latency(quiet, loaded)}")
    answered = ", ".join(
        f"{count} x {status}" for status, count in sorted(statuses.items(), key=str)
    )
    median = f"{statistics.median(latencies) * 1000:.0f} ms" if latencies else "none"
    print(
        f"heavy reads: {answered}; {len(latencies) / args.measure:.1f} answered per second, "
        f"median {median}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=50, help="clients reading at once")
    parser.add_argument("--measure", type=float, default=30, help="seconds per window")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before measuring")
    args = parser.parse_args()
    stop_on_signals()
    print(f"benchmarks/heavy_reads.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}; {cpu_model()}; load average at start {loads()}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reads-") as directory:
            run(args, Path(directory))
    except (KeyboardInterrupt, Stopped):
        raise SystemExit("interrupted: the demo was stopped") from None
    print(f"load average at the end: {loads()}")


if __name__ == "__main__":
    main()
