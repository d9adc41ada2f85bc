"""The worker routes against the stack's own ceiling, in one run: a ratio for any machine.

    .venv/bin/python benchmarks/ceiling.py [--runs 5] [--seconds 8]

Each run measures, one after the other under the same wrk load
(benchmarks/lease_report.lua, 2 threads x 16 connections, every granted lease reported
at once, `uvicorn --workers 2`):

- the ceiling: `async` of benchmarks/worker_ceiling.py, async routes that validate the
  bodies with the real models and answer pre-serialised JSON, doing nothing else;
- `routes + redis` of benchmarks/worker_ceiling.py: the real worker routes in front of
  the real Redis scripts of a lease and a report, and nothing else;
- the real control plane's worker routes on the Redis profile (benchmarks/dispatch.py
  (b): metrics in MariaDB, limiter in Redis, 32 countries at the highest cap);
- the same on the SQL-only profile (the limiter in MariaDB too).

Each server is measured once all its workers have started (its CPU settled), so none
is still importing while wrk connects. It prints each run's lease+report pairs per
second, control-plane CPU per pair and each profile's share of that run's ceiling (and
the Redis profile's share of the scripts' stand-in), then the median and range over the
runs.
Targets: at least 50 % of the ceiling on Redis, 25 % on SQL, at most 1 ms of CPU per
pair. Needs wrk, Redis and MariaDB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dispatch import machine, saturation
from benchmarks.worker_ceiling import measure

PROFILES = ("redis", "sql")
TARGET_SHARE = {"redis": 0.50, "sql": 0.25}
TARGET_CPU_MS = 1.0
# The real routes in front of the real Redis scripts of a lease and a report, and nothing
# else (benchmarks/worker_ceiling.py): what the Redis profile would cost with no SQL, no
# config reads and no bookkeeping. The Redis profile's share of it is printed too.
SCRIPTS = "routes + redis"
# Each country's limiter grants at most 10,000 a minute (the highest cap): 32 countries
# allow 5,333 pairs/s, so the limiter itself does not hold the real routes under 50 %
# of a ceiling of up to about 10,000.
COUNTRIES = 32


def one_run(*, seconds: float, workers: int) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    for name, variant in (("ceiling", "async"), ("scripts", SCRIPTS)):
        with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as directory:
            figures[name] = measure(variant, seconds=seconds, workers=workers, work=Path(directory))
    for profile in PROFILES:
        with tempfile.TemporaryDirectory(prefix=f"bench-{profile}-") as directory:
            load = saturation(
                seconds=seconds,
                workers=workers,
                clients=2,
                connections=16,
                countries=COUNTRIES,
                work=Path(directory),
                limiter=profile,
            )
        if load["errors"]:
            raise SystemExit(f"{profile}: {load['errors']} requests failed")
        figures[profile] = {
            "pairs_per_s": load["pairs_per_s"],
            "cpu_ms_per_pair": load["cpu_ms_per_pair"],
            "share": load["pairs_per_s"] / figures["ceiling"]["pairs_per_s"],
            "of_scripts": load["pairs_per_s"] / figures["scripts"]["pairs_per_s"],
        }
    return figures


def spread(values: list[float], form: str) -> str:
    low, high = form.format(min(values)), form.format(max(values))
    return f"{form.format(statistics.median(values))} ({low} to {high})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"benchmarks/ceiling.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    columns = ["run", "ceiling pairs/s", f"{SCRIPTS} pairs/s"]
    columns += [f"{p} pairs/s (share, CPU ms/pair)" for p in PROFILES]
    print(f"| {' | '.join(columns)} |")
    print(f"|{' --- |' * len(columns)}")
    runs = []
    for number in range(1, args.runs + 1):
        figures = one_run(seconds=args.seconds, workers=args.workers)
        runs.append(figures)
        cells = [f"{figures[name]['pairs_per_s']:.0f}" for name in ("ceiling", "scripts")] + [
            f"{figures[p]['pairs_per_s']:.0f} ({figures[p]['share']:.1%}, "
            f"{figures[p]['cpu_ms_per_pair']:.2f})"
            for p in PROFILES
        ]
        print(f"| {number} | {' | '.join(cells)} |", flush=True)
    print()
    print("| figure | median (range) | target |")
    print("| --- | --- | --- |")
    ceiling = [run["ceiling"]["pairs_per_s"] for run in runs]
    print(f"| no-op ceiling, pairs/s | {spread(ceiling, '{:.0f}')} | — |")
    scripts = [run["scripts"]["pairs_per_s"] for run in runs]
    print(f"| {SCRIPTS}, pairs/s | {spread(scripts, '{:.0f}')} | — |")
    of_scripts = [run["redis"]["of_scripts"] * 100 for run in runs]
    print(f"| redis: share of {SCRIPTS} | {spread(of_scripts, '{:.1f} %')} | — |")
    for profile in PROFILES:
        shares = [run[profile]["share"] * 100 for run in runs]
        cpu = [run[profile]["cpu_ms_per_pair"] for run in runs]
        print(
            f"| {profile}: share of the ceiling | {spread(shares, '{:.1f} %')} "
            f"| ≥ {TARGET_SHARE[profile]:.0%} |"
        )
        print(f"| {profile}: CPU ms per pair | {spread(cpu, '{:.2f}')} | ≤ {TARGET_CPU_MS:g} |")


if __name__ == "__main__":
    main()
