"""A seed-scale fleet against its caps, with real delivery times.

    .venv/bin/python benchmarks/fleet.py [--limiter sql|redis] [--minutes 10] [--warmup 3]

`smsfleet serve` in a subprocess (the embedded SQLite stores; the SQL limiter, or the
Redis limiter on a Redis database of its own, emptied before and after), the gateway
simulator in another, and 100+ country-operator pairs over 30+ countries in GNU screen
in a private screen directory, all started through the API. Some countries have one pair
with one program, others several pairs sharing two or three programs (program1, fast;
program2, slow; program6, average). Each pair has valid test numbers of its country, as
many as its route's delivery time calls for to reach the country's cap (8 to 16).

The `real` profile is deploy/simulator.toml's (its defaults and providers: lognormal
delivery times, lost SMS that the gateway gives up on after two minutes) with a route per
pair: medians of 4 to 25 s, a few slow routes, delivery 90 to 98 %. The `fast` profile
delivers in 0.05 to 0.3 s.

Prints, per country, from the attempts the control plane recorded, at grant time, after
the warm-up: grants per minute, the most grants in any 60-s window (t-60 s, t] over the
whole run, Jain's fairness index across its pairs and the share of the cap reached; then
the countries under 95 % of the cap with the control plane's own reason
(GET /api/v1/dispatch/goals), the windows over a cap (there must be none), the
control plane's CPU, the machine and the date. Needs screen (and Redis for `--limiter redis`).
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import phonenumbers
import psutil
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dispatch import (
    SCREEN,
    SIMULATOR_CONFIG,
    SMSFLEET,
    WINDOW_MS,
    jain,
    machine,
    max_in_any_window,
    wait_for_sessions,
)
from benchmarks.virtual_programs import VirtualSession, run_virtual_fleet
from smsfleet.core.clock import SystemClock
from smsfleet.sessions.service import sync_specs
from smsfleet.stores import open_config_store
from tests.support.backends import free_port
from tests.support.fleet import AT_REST, admin_client, clean_environment, quit_screens, running
from tests.support.tokens import issued_token

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("SMSFLEET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SHARE = 0.95
ACCESS_LINE = re.compile(r'\d+\.\d+\.\d+\.\d+:\d+ - "(?P<route>\S+ \S+) \S+" (?P<status>\d{3})')
# What a program's provider does to its route's delivery time (deploy/simulator.toml).
LATENCY_FACTOR = {"program1": 0.5, "program2": 3.0, "program6": 1.0}
ALL_PROGRAMS = tuple(f"program{number}" for number in range(1, 7))
# A sent SMS arrives with the route's probability times its provider's (deploy/simulator.toml).
PROVIDER_DELIVERY = {
    f"program{name.removeprefix('provider')}": float(provider["delivery_probability"])
    for name, provider in tomllib.loads((REPO / "deploy" / "simulator.toml").read_text())[
        "providers"
    ].items()
}
# The gateway gives a lost SMS up after this; the program stops waiting before its lease ends.
GIVE_UP_SECONDS = 120.0
LEASE_SECONDS = 115.0
# Lognormal (sigma 0.5): the mean delivery time against the median.
MEAN_OVER_MEDIAN = math.exp(0.5**2 / 2)
COUNTRIES_ALONE = [
    "UZ",
    "KZ",
    "TJ",
    "KG",
    "GE",
    "AM",
    "PL",
    "FR",
    "ES",
    "PT",
    "NL",
    "SE",
    "FI",
    "VN",
    "TH",
]
COUNTRIES_SHARED = [
    "UA",
    "DE",
    "IT",
    "BE",
    "NO",
    "DK",
    "IN",
    "BR",
    "MX",
    "ID",
    "TR",
    "EG",
    "NG",
    "KE",
    "PK",
    "BD",
    "PH",
    "GB",
]
PROGRAM_SETS = [
    ("program1", "program6"),
    ("program1", "program2"),
    ("program2", "program6"),
    ("program1", "program2", "program6"),
]


@dataclass(frozen=True)
class PlannedPair:
    country: str
    slug: str
    programs: tuple[str, ...]
    median: float
    delivery: float
    phones: list[str]

    @property
    def key(self) -> str:
        return f"{self.country}_{self.slug}"


# --- the fleet ---------------------------------------------------------------------------


def test_numbers(country: str, count: int, *, start: int) -> list[str]:
    """`count` valid mobile numbers of `country`, from its example number + `start` on."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None and example.national_number is not None, country
    found: list[str] = []
    national = example.national_number + start
    while len(found) < count:
        candidate = phonenumbers.PhoneNumber(country_code=example.country_code)
        candidate.national_number = national
        if (
            phonenumbers.is_valid_number(candidate)
            and phonenumbers.region_code_for_number(candidate) == country
        ):
            found.append(phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164))
        national += 1
    return found


def numbers_needed(*, cap: int, pairs: int, median: float, delivery: float, factor: float) -> int:
    """Test numbers for a pair to carry its share of the cap: the attempts in flight at the
    mean delivery time (lost SMS waiting out the lease) with half again for the routes'
    spread, and room for the count's own swings (two standard deviations of a Poisson
    count); eight at least, as an operator would keep for a route of its own."""
    delivered = median * factor * MEAN_OVER_MEDIAN
    cycle = delivery * delivered + (1 - delivery) * LEASE_SECONDS + 1.0
    in_flight = cap / pairs * cycle / 60
    return max(8, min(16, math.ceil(in_flight * 1.5 + 2 * math.sqrt(in_flight)) + 1))


def plan_fleet(
    *, pairs_wanted: int, cap: int, seed: int = 7, programs_per_pair: int | None = None
) -> list[PlannedPair]:
    """Countries alone (one pair, one program) and countries shared (several pairs, 2-3
    programs), `pairs_wanted` pairs in all (at least one per country); with
    `programs_per_pair`, every pair runs that many programs (program1 on)."""
    rng = random.Random(seed)
    alone = COUNTRIES_ALONE[: max(1, pairs_wanted // 7)]
    shared = COUNTRIES_SHARED[: max(1, min(len(COUNTRIES_SHARED), pairs_wanted // 6))]
    # The pairs left after the countries alone, spread over the shared countries (2+ each).
    base, extra = divmod(max(pairs_wanted - len(alone), 2 * len(shared)), len(shared))
    per_shared = [base + (index < extra) for index in range(len(shared))]
    plan: list[PlannedPair] = []

    def add(country: str, slug: str, programs: tuple[str, ...], pairs: int, index: int) -> None:
        if programs_per_pair is not None:
            programs = ALL_PROGRAMS[:programs_per_pair]
        slow = rng.random() < 0.12 and "program2" not in programs
        median = round(rng.uniform(18, 25) if slow else rng.uniform(4, 15), 1)
        delivery = round(rng.uniform(0.9, 0.98), 2)
        factor = max(LATENCY_FACTOR.get(p, 1.0) for p in programs)
        arrives = delivery * min(PROVIDER_DELIVERY[p] for p in programs)
        count = numbers_needed(cap=cap, pairs=pairs, median=median, delivery=arrives, factor=factor)
        phones = test_numbers(country, count, start=1 + 100 * index)
        plan.append(PlannedPair(country, slug, programs, median, delivery, phones))

    for position, country in enumerate(alone):
        program = ("program1", "program6", "program2")[position % 3]
        add(country, "solo", (program,), 1, 0)
    for position, (country, count) in enumerate(zip(shared, per_shared, strict=True)):
        programs = PROGRAM_SETS[position % len(PROGRAM_SETS)]
        for index in range(count):
            # Each pair runs one or two of its country's programs, together all of them.
            chosen = programs if index % 3 == 2 else (programs[index % len(programs)],)
            add(country, f"op{index + 1}", chosen, count, index)
    return plan


def route_table(pair: PlannedPair, *, fast: bool) -> str:
    phones = ", ".join(f'"{phone}"' for phone in pair.phones)
    lines = [f"[routes.{pair.key}]", f"phones = [{phones}]"]
    if not fast:
        lines.append(f"delivery_probability = {pair.delivery}")
        ceiling = 110.0 if pair.median >= 18 else 90.0
        lines.append(f"latency = {{ median_seconds = {pair.median}, max_seconds = {ceiling} }}")
    return "\n".join(lines) + "\n"


def simulator_config(plan: list[PlannedPair], *, profile: str, work: Path) -> str:
    """deploy/simulator.toml's defaults and providers (or the fast profile) and the routes."""
    routes = "\n".join(route_table(pair, fast=profile == "fast") for pair in plan)
    if profile == "fast":
        return f"{SIMULATOR_CONFIG}\n{routes}"
    deployed = (REPO / "deploy" / "simulator.toml").read_text()
    head, rest = deployed.split("# --- routes", 1)
    providers = rest[rest.index("# --- providers") :]
    head = head.replace('"var/simulator/truth.jsonl"', f'"{work / "truth.jsonl"}"')
    return f"{head}\n{routes}\n{providers}"


def seed_fleet(client: httpx.Client, plan: list[PlannedPair], *, cap: int) -> None:
    programs = sorted({program for pair in plan for program in pair.programs})
    for program in programs:
        client.post(
            "/api/v1/programs",
            json={
                "name": program,
                "command": [sys.executable, str(REPO / "programs" / f"{program}.py")],
                "provider": f"provider{program.removeprefix('program')}",
            },
        ).raise_for_status()
    for country in sorted({pair.country for pair in plan}):
        if client.get(f"/api/v1/countries/{country}").json()["cap"] != cap:
            client.patch(
                f"/api/v1/countries/{country}?force=true", json={"cap": cap}
            ).raise_for_status()
    for pair in plan:
        client.post(
            "/api/v1/pairs",
            json={
                "country": pair.country,
                "operator": pair.slug.title(),
                "slug": pair.slug,
                "phone_numbers": pair.phones,
                "programs": list(pair.programs),
            },
        ).raise_for_status()


# --- processes ---------------------------------------------------------------------------


class Stopped(Exception):
    """SIGTERM or SIGHUP: unwind, stopping everything on the way."""


def stop_on_signals() -> None:
    def handler(signum: int, _: FrameType | None) -> None:
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


@contextmanager
def redis_database(url: str) -> Iterator[str]:
    """`url`'s database, empty before and emptied after; refused if something uses it."""
    client = redis.Redis.from_url(url)
    if client.dbsize():
        raise SystemExit(f"{url} holds keys already: pick an unused database")
    try:
        yield url
    finally:
        print(f"{url}: {client.dbsize()} keys at the end, flushed", flush=True)
        client.flushdb()
        client.close()


def serve_process(port: int) -> psutil.Process:
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "serve" in cmdline and str(port) in cmdline:
            return process
    raise SystemExit(f"no `smsfleet serve` on port {port}")


def cpu_seconds(process: psutil.Process) -> float:
    """CPU used so far by the process, its live children and the children it waited for."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return total


def end_strays(url: str) -> int:
    """Ends (by pid) any program still pointed at this run's control plane."""
    ended = 0
    for process in psutil.process_iter(["cmdline"]):
        if not any("programs/program" in part for part in process.info["cmdline"] or []):
            continue
        with suppress(psutil.Error):
            if process.environ().get("SMSFLEET_URL") == url:
                process.kill()
                ended += 1
    return ended


def stop_all(client: httpx.Client) -> None:
    client.post(
        "/api/v1/sessions/actions",
        json={"action": "stop", "all": True, "force": True, "reason": "benchmark over"},
    ).raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if {s["state"] for s in client.get("/api/v1/sessions").json()} <= AT_REST:
            return
        time.sleep(0.5)


def loads() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


# --- the run -----------------------------------------------------------------------------


def fleet_run(args: argparse.Namespace, plan: list[PlannedPair], work: Path) -> dict[str, Any]:
    if SCREEN is None:
        raise SystemExit("GNU screen is missing: apt-get install -y screen")
    sim_port, port = free_port(), free_port()
    sim_url, url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{port}"
    config = work / "simulator.toml"
    config.write_text(simulator_config(plan, profile=args.profile, work=work))
    screen_dir = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp"))
    data_dir = work / "data"
    password = f"Bench-{secrets.token_urlsafe(18)}"
    env = {
        **clean_environment(),
        "SMSFLEET_DATA_DIR": str(data_dir),
        # The seeding admin makes hundreds of changes at once.
        "SMSFLEET_CHANGES_PER_MINUTE": "100000",
        "SMSFLEET_ADMIN_PASSWORD": password,
        "SMSFLEET_SCREEN_DIR": str(screen_dir),
        "SMSFLEET_SIMULATOR_URL": sim_url,
        "SMSFLEET_PUBLIC_URL": url,
        "SMSFLEET_PROGRAMS_DIR": str(REPO),
    }
    if args.virtual:
        # No screens: the benchmark speaks for the programs (benchmarks/virtual_programs.py).
        env |= {"SMSFLEET_SUPERVISE": "false", "SMSFLEET_SECRET_KEY": secrets.token_urlsafe(48)}
    sessions = {f"{program}_{pair.key}" for pair in plan for program in pair.programs}
    simulator = [sys.executable, "-m", "smsfleet.simulator", "--port", str(sim_port)]
    result: dict[str, Any] = {"sessions": len(sessions)}
    try:
        with (
            redis_database(REDIS_URL) if args.limiter == "redis" else _nothing() as redis_url,
            running(
                [*simulator, "--config", str(config)],
                env=clean_environment(),
                work=work,
                ready=f"{sim_url}/healthz",
            ),
        ):
            if redis_url:
                env["SMSFLEET_REDIS_URL"] = redis_url
            with (
                running(
                    # Through this Python: the one the control plane lets run the programs.
                    [sys.executable, SMSFLEET, "serve", "--port", str(port)],
                    env=env,
                    work=work,
                    ready=f"{url}/healthz",
                ),
                # Starting 100+ screens is one request: slow on a loaded machine.
                admin_client(url, password, timeout=180) as client,
            ):
                try:
                    result |= drive(args, client, plan, sessions, port, env)
                finally:
                    with suppress(httpx.HTTPError):
                        stop_all(client)
    finally:
        quit_screens(screen_dir)
        shutil.rmtree(screen_dir, ignore_errors=True)
        result["strays"] = end_strays(url)
        result["errors"], result["requests"] = read_serve_log(work)
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for kept in [*work.glob("*.log"), config, data_dir / "metrics.db"]:
                with suppress(OSError):
                    shutil.copy(kept, args.keep_logs / kept.name)
    result["rows"] = read_attempts(data_dir / "metrics.db")
    return result


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def drive(
    args: argparse.Namespace,
    client: httpx.Client,
    plan: list[PlannedPair],
    sessions: set[str],
    port: int,
    env: dict[str, str],
) -> dict[str, Any]:
    seed_fleet(client, plan, cap=args.cap)
    if args.virtual:
        # Nothing supervises: the session specs are made here, as the supervisor would.
        store = open_config_store(f"sqlite:///{(Path(env['SMSFLEET_DATA_DIR']) / 'config.db')}")
        try:
            sync_specs(store=store, clock=SystemClock())
        finally:
            store.close()
    wait_for_sessions(client, sessions)
    serve = serve_process(port)
    client.post(
        "/api/v1/sessions/actions",
        json={"action": "start", "all": True, "reason": "benchmark"},
    ).raise_for_status()
    started = datetime.now(UTC).replace(tzinfo=None)
    stop_virtual = None
    if args.virtual:
        stop_virtual, answers = run_virtual_fleet(
            client.base_url.scheme + "://" + client.base_url.netloc.decode(),
            virtual_sessions(
                plan, secret=env["SMSFLEET_SECRET_KEY"], data_dir=Path(env["SMSFLEET_DATA_DIR"])
            ),
        )
    print(f"started {len(sessions)} sessions at {started:%H:%M:%S} UTC", flush=True)
    try:
        time.sleep(args.warmup * 60)
        measured_from = datetime.now(UTC).replace(tzinfo=None)
        cpu_before, wall_before = cpu_seconds(serve), time.monotonic()
        time.sleep((args.minutes - args.warmup) * 60)
        cpu = (cpu_seconds(serve) - cpu_before) / (time.monotonic() - wall_before)
        ended = datetime.now(UTC).replace(tzinfo=None)
    finally:
        if stop_virtual is not None:
            stop_virtual.set()
            print(f"virtual programs' answers: {dict(answers.most_common())}", flush=True)
    goals = {goal["country"]: goal for goal in client.get("/api/v1/dispatch/goals").json()}
    states = Counter(s["state"] for s in client.get("/api/v1/sessions").json())
    running_pairs = {
        s["pair"] for s in client.get("/api/v1/sessions").json() if s["state"] == "running"
    }
    return {
        "started": started,
        "measured_from": measured_from,
        "ended": ended,
        "cpu_share": cpu,
        "goals": goals,
        "states": dict(states),
        "running_pairs": running_pairs,
    }


def virtual_sessions(
    plan: list[PlannedPair], *, secret: str, data_dir: Path
) -> list[VirtualSession]:
    """The planned sessions, each with the worker token issued for its spec."""
    store = open_config_store(f"sqlite:///{data_dir / 'config.db'}")
    try:
        return [
            VirtualSession(
                name=f"{program}_{pair.key}",
                token=issued_token(store, secret=secret, session=f"{program}_{pair.key}"),
                median_seconds=pair.median * LATENCY_FACTOR.get(program, 1.0),
                delivery=pair.delivery * PROVIDER_DELIVERY[program],
            )
            for pair in plan
            for program in pair.programs
        ]
    finally:
        store.close()


def read_attempts(path: Path) -> list[tuple[str, str, datetime, str | None, str | None]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT pair, country, leased_at, outcome, error_code FROM attempts"
        ).fetchall()
    finally:
        connection.close()
    return [(p, c, datetime.fromisoformat(at), o, e) for p, c, at, o, e in rows]


def read_serve_log(work: Path) -> tuple[list[str], Counter[str]]:
    """The control plane's log (the one that served the API): what it said beyond uvicorn's
    INFO lines (warnings, errors, tracebacks), its failed requests (client ports left
    out), and its requests by route."""
    problems: list[str] = []
    requests: Counter[str] = Counter()
    for log in work.glob("*.log"):
        text = log.read_text(errors="replace")
        if "/api/v1/" not in text:
            continue  # the simulator's
        for line in text.splitlines():
            if access := ACCESS_LINE.search(line):
                requests[access["route"]] += 1
                if int(access["status"]) >= 400:
                    problems.append(ACCESS_LINE.sub(r"\g<route> \g<status>", line))
            elif line.strip() and not line.startswith("INFO:"):
                # The application's warnings reach stderr bare (no handler of its own).
                problems.append(line)
    return problems, requests


# --- the report --------------------------------------------------------------------------


def over_cap(times: list[int], cap: int) -> int:
    """Grants after which the 60-s window (t-60 s, t] holds more than `cap`."""
    ordered = sorted(times)
    return sum(
        1
        for index, at in enumerate(ordered)
        if index + 1 - bisect.bisect_right(ordered, at - WINDOW_MS) > cap
    )


def report(args: argparse.Namespace, plan: list[PlannedPair], result: dict[str, Any]) -> None:
    started, measured_from, ended = result["started"], result["measured_from"], result["ended"]
    minutes = (ended - measured_from).total_seconds() / 60
    by_country: dict[str, list[PlannedPair]] = defaultdict(list)
    for pair in plan:
        by_country[pair.country].append(pair)
    whole: dict[str, list[int]] = defaultdict(list)
    counted: dict[str, Counter[str]] = defaultdict(Counter)
    outcomes: Counter[str] = Counter()
    for pair, country, at, outcome, error in result["rows"]:
        if not started <= at <= ended:
            continue
        # Whole milliseconds, as the limiter keeps them: two grants exactly 60 s apart
        # must not share a window through float rounding.
        whole[country].append((at - started) // timedelta(milliseconds=1))
        if at >= measured_from:
            counted[country][pair] += 1
            outcomes[f"{outcome}/{error}" if error else str(outcome)] += 1
    print()
    print(
        f"| country | pairs | programs | test numbers | grants/min | most in a 60-s window "
        f"| Jain | share of cap {args.cap}/min |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    under: list[str] = []
    windows_over = 0
    shares = []
    for country in sorted(by_country):
        pairs = by_country[country]
        grants = sum(counted[country].values())
        rate = grants / minutes
        share = rate / args.cap
        shares.append(share)
        windows_over += over_cap(whole[country], args.cap)
        programs = sorted({p for pair in pairs for p in pair.programs})
        phones = sum(len(pair.phones) for pair in pairs)
        fairness = jain([counted[country][pair.key] for pair in pairs])
        print(
            f"| {country} | {len(pairs)} | {', '.join(programs)} | {phones} | {rate:.2f} "
            f"| {max_in_any_window(whole[country]) if whole[country] else 0} "
            f"| {fairness:.3f} | {share:.1%} |"
        )
        if share < SHARE and any(pair.key in result["running_pairs"] for pair in pairs):
            under.append(country)
    print()
    total = sum(sum(c.values()) for c in counted.values())
    print(
        f"{len(by_country)} countries, {len(plan)} pairs, {result['sessions']} sessions "
        f"({args.profile} profile, {args.limiter} limiter); measured {minutes:.2f} min after a "
        f"{args.warmup:g}-min warm-up: {total} grants, {total / minutes:.1f}/min "
        f"of {len(by_country) * args.cap}/min; mean share of cap {sum(shares) / len(shares):.1%}"
    )
    print(
        f"outcomes of the measured grants (error/interrupted: in flight when the sessions "
        f"were stopped): {dict(outcomes.most_common())}"
    )
    print(f"session states at the end: {result['states']}")
    print(f"windows over a cap (must be 0): {windows_over}")
    print(f"countries with a running session under {SHARE:.0%} of the cap: {len(under)}")
    for country in under:
        goal = result["goals"].get(country, {})
        print(
            f"  {country}: {goal.get('achieved_per_minute')}/min in the last "
            f"{goal.get('window_seconds')} s, capacity {goal.get('capacity_per_minute')}/min, "
            f"in flight {goal.get('in_flight_limit')}, cycle {goal.get('cycle_seconds')} s: "
            f"{goal.get('reason')}"
        )
    print(f"control plane CPU: {result['cpu_share']:.1%} of one core (serve and its children)")
    leases = result["requests"]["POST /api/v1/worker/lease"]
    everything = sum(result["requests"].values())
    print(
        f"control-plane requests over the whole run: {everything} "
        f"({leases} leases, {leases / max(len(result['rows']), 1):.2f} per grant)"
    )
    kinds = Counter(result["errors"])
    print(f"control-plane log: {len(result['errors'])} warnings, errors and failed requests")
    for line, count in kinds.most_common(8):
        print(f"  {count} x {line[:300]}")
    if result["strays"]:
        print(f"programs still running after the screens quit, ended: {result['strays']}")


def cpu_model() -> str:
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limiter", choices=("sql", "redis"), default="sql")
    parser.add_argument("--profile", choices=("real", "fast"), default="real")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--pairs", type=int, default=105)
    parser.add_argument("--cap", type=int, default=10, help="every country's cap per minute")
    parser.add_argument(
        "--programs-per-pair",
        type=int,
        choices=range(1, 7),
        help="every pair runs this many programs (default: one to three, as planned)",
    )
    parser.add_argument(
        "--virtual",
        action="store_true",
        help="programs as the control plane sees them, without their processes: for fleets"
        " larger than this machine can run (benchmarks/virtual_programs.py)",
    )
    parser.add_argument(
        "--keep-logs", type=Path, help="copy the logs, the simulator's config and the attempts here"
    )
    args = parser.parse_args()
    if args.warmup >= args.minutes:
        parser.error("--warmup must be shorter than --minutes")
    stop_on_signals()
    plan = plan_fleet(
        pairs_wanted=args.pairs, cap=args.cap, programs_per_pair=args.programs_per_pair
    )
    print(f"benchmarks/fleet.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}; {cpu_model()}; load average at start {loads()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as directory:
        result = fleet_run(args, plan, Path(directory))
    print(f"load average at the end: {loads()}")
    report(args, plan, result)


if __name__ == "__main__":
    main()
