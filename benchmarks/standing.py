"""The viewers' pages that read every pair: the policy's standing and the dispatch goals.

    .venv/bin/python benchmarks/standing.py [--pairs 150] [--programs 4] [--per-minute 2]
                                            [--repeat 5] [--at-once 8] [--profile]

The control plane in this process (`tests.support.api.running_api`: SQLite config and
metrics stores, no supervisor), `--pairs` pairs in `--pairs / 12` countries, each with
`--programs` programs (a session each, wanted running) and a test number, created a
minute before the requests (so each pair's window starts at its creation), and
`--per-minute` completed attempts a pair a minute over that minute (one in ten not
delivered). With `--programs 0`: pairs as the API makes them, no programs and nothing sent.

Prints the median of `--repeat` requests of GET /api/v1/policy/standing,
GET /api/v1/dispatch/goals and GET /country-operator, with the machine and the date,
then the slowest of `--at-once` standing requests made together (0: none);
`--profile` prints where one standing and one goals request spend their time (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.auth.models import Role
from smsfleet.pairs.models import Pair
from smsfleet.policy.models import StandingQuery
from smsfleet.programs.models import Program
from smsfleet.sessions.models import DesiredState, SessionSpec
from smsfleet.sessions.names import session_name
from tests.support.api import Api, running_api

ROUTES = ("/api/v1/policy/standing", "/api/v1/dispatch/goals", "/country-operator")
COUNTRIES = ("UZ", "TJ", "KZ", "KG", "AZ", "GE", "AM", "TR", "IN", "ID", "BR", "MX", "NG")


def populate(api: Api, pairs: int, programs: int, per_minute: int) -> int:
    """The pairs, their sessions and their attempts; how many attempts."""
    now = api.clock.now()
    created = now - timedelta(minutes=1)
    store = api.store
    names = [f"program{n + 1}" for n in range(programs)]
    for name in names:
        store.programs.add(
            Program(name=name, command=["python3", "p.py"], created_at=created, updated_at=created)
        )
    attempts: list[Attempt] = []
    for index in range(pairs):
        country = COUNTRIES[(index // 12) % len(COUNTRIES)]
        pair = Pair(
            key=f"{country}_op{index}",
            country=country,
            operator=f"op{index}",
            slug=f"op{index}",
            state_actor="operator",
            state_changed_at=created,
            phone_numbers=[f"+1555{index:07d}"],
            programs=names,
            created_at=created,
            updated_at=created,
        )
        store.pairs.add(pair)
        for name in names:
            store.session_specs.add(
                SessionSpec(
                    name=session_name(name, pair.key),
                    program=name,
                    pair=pair.key,
                    desired=DesiredState.running,
                    desired_at=created,
                    created_at=created,
                )
            )
        for k in range(per_minute if programs else 0):
            at = now - timedelta(seconds=(k + 1) * 50 / per_minute)
            attempts.append(
                Attempt(
                    id=f"{index:016x}{k:016x}",
                    session=session_name(names[k % programs], pair.key),
                    pair=pair.key,
                    country=country,
                    operator=pair.slug,
                    program=names[k % programs],
                    phone=pair.phone_numbers[0],
                    leased_at=at - timedelta(seconds=5),
                    completed_at=at,
                    outcome=Outcome.not_delivered if (index + k) % 10 == 0 else Outcome.delivered,
                )
            )
    api.services.dispatcher.attempts.add_many(attempts)
    return len(attempts)


def timed(api: Api, path: str, repeat: int) -> float:
    headers = api.headers(Role.viewer)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = api.client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        assert answer.status_code == 200, (path, answer.text)
    return statistics.median(samples)


def at_once(api: Api, path: str, count: int) -> float:
    """The slowest of `count` requests of `path` made together, from threads."""
    headers = api.headers(Role.viewer)

    def one(_: int) -> float:
        started = time.perf_counter()
        answer = api.client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        return time.perf_counter() - started

    with ThreadPoolExecutor(count) as pool:
        return max(pool.map(one, range(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=150)
    parser.add_argument("--programs", type=int, default=4)
    parser.add_argument("--per-minute", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--at-once", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        settings = {"max_pairs": max(args.pairs, 1), "max_sessions": 100_000}
        with running_api(Path(scratch), **settings) as api:
            api.clock.advance(3600)  # type: ignore[attr-defined]  # a window past the start
            attempts = populate(api, args.pairs, args.programs, args.per_minute)
            print(
                f"{platform.node()}, {platform.processor() or platform.machine()},"
                f" Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}"
            )
            print(
                f"{args.pairs} pairs, {args.pairs * args.programs} sessions,"
                f" {attempts} attempts (SQLite); median of {args.repeat}:"
            )
            for path in ROUTES:
                print(f"  GET {path}: {timed(api, path, args.repeat):.3f} s")
            if args.at_once:
                slowest = at_once(api, ROUTES[0], args.at_once)
                print(f"  {args.at_once} x GET {ROUTES[0]} at once: the slowest {slowest:.3f} s")
            if args.profile:
                services = api.services
                calls: dict[str, Callable[[], object]] = {
                    ROUTES[0]: lambda: services.policy.service.standing(StandingQuery()),
                    ROUTES[1]: services.dispatcher.goals,
                }
                for path, call in calls.items():
                    profile = cProfile.Profile()
                    profile.enable()
                    call()
                    profile.disable()
                    print(f"\n--- {path}")
                    pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
