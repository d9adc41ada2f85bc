"""Programs as the control plane sees them, without their processes: for fleets larger
than this machine can run as real programs (benchmarks/fleet.py --virtual).

Each session is a task speaking the worker protocol as the SDK's harness does
(smsfleet/worker/_harness.py): it leases while it carries fewer attempts than its
allowance (`max_in_flight` of the last answer), and when full asks again after
`FULL_RECHECK_SECONDS` or as soon as a report frees a slot; a `wait` sleeps its
`retry_after` (at most a minute); a `stop` ends it; each lease names the attempts it
carries; a heartbeat goes every 15 s, and one at once after each send telling it (`sent`).
An attempt is reported once its delivery time has
passed: lognormal (sigma 0.5) around the pair's median times the program's factor,
delivered with the pair's probability; a lost SMS is reported not delivered when the
gateway gives up (two minutes). What it cannot show: the programs' own CPU and the
screens' (they do not exist), the runner's exit reports, the gateway.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from smsfleet.worker._control import KEEPALIVE_SECONDS

__all__ = ["VirtualSession", "run_virtual_fleet"]

FULL_RECHECK_SECONDS = 5.0
MAX_WAIT_SECONDS = 60.0
HEARTBEAT_SECONDS = 15.0
GIVE_UP_SECONDS = 120.0
UNAVAILABLE_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class VirtualSession:
    name: str
    token: str
    median_seconds: float
    delivery: float


@dataclass
class _Carried:
    attempts: set[str] = field(default_factory=set)
    allowance: int = 1
    freed: asyncio.Event = field(default_factory=asyncio.Event)


async def _session(
    client: httpx.AsyncClient,
    session: VirtualSession,
    rng: random.Random,
    stop: asyncio.Event,
    counts: Counter[str],
) -> None:
    headers = {"Authorization": f"Bearer {session.token}"}
    carried = _Carried()
    reports: set[asyncio.Task[None]] = set()

    async def post(path: str, body: Mapping[str, Any]) -> httpx.Response | None:
        try:
            response = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError as error:
            counts[f"unreachable ({type(error).__name__})"] += 1
            return None
        counts[f"{path.rsplit('/', 1)[1]} {response.status_code}"] += 1
        return response

    async def deliver(trigger_id: str, sent_at: datetime) -> None:
        sent = {"trigger_id": trigger_id, "sent_at": sent_at.isoformat(), "provider": "virtual"}
        await post("/api/v1/worker/heartbeat", {"session": session.name, "sent": [sent]})
        arrives = rng.random() < session.delivery
        delay = session.median_seconds * rng.lognormvariate(0, 0.5) if arrives else GIVE_UP_SECONDS
        await asyncio.sleep(delay)
        body: dict[str, Any] = {
            "session": session.name,
            "trigger_id": trigger_id,
            "outcome": "delivered" if arrives else "not_delivered",
            "sent_at": sent_at.isoformat(),
            "provider": "virtual",
        }
        if arrives:
            body["delivered_at"] = (sent_at + timedelta(seconds=delay)).isoformat()
        while await post("/api/v1/worker/report", body) is None and not stop.is_set():
            await asyncio.sleep(UNAVAILABLE_RETRY_SECONDS)
        carried.attempts.discard(trigger_id)
        carried.freed.set()

    async def heartbeats() -> None:
        while not stop.is_set():
            await post("/api/v1/worker/heartbeat", {"session": session.name})
            await _sleep(stop, HEARTBEAT_SECONDS)

    beating = asyncio.create_task(heartbeats())
    # Programs do not start in the same instant.
    await _sleep(stop, rng.uniform(0, 5))
    while not stop.is_set():
        if len(carried.attempts) >= carried.allowance:
            carried.freed.clear()
            try:
                await asyncio.wait_for(carried.freed.wait(), FULL_RECHECK_SECONDS)
                continue
            except TimeoutError:
                pass  # full for a while: ask anyway
        response = await post(
            "/api/v1/worker/lease", {"session": session.name, "in_flight": sorted(carried.attempts)}
        )
        if response is None or response.status_code != 200:
            await _sleep(stop, UNAVAILABLE_RETRY_SECONDS)
            continue
        lease = response.json()
        if lease["action"] == "stop":
            break
        carried.allowance = lease["max_in_flight"]
        if lease["action"] == "wait":
            await _sleep(stop, min(max(lease["retry_after"], 0.05), MAX_WAIT_SECONDS))
            continue
        carried.attempts.add(lease["trigger_id"])
        task = asyncio.create_task(deliver(lease["trigger_id"], datetime.now(UTC)))
        reports.add(task)
        task.add_done_callback(reports.discard)
    beating.cancel()
    for task in list(reports):
        task.cancel()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _fleet(
    url: str, sessions: list[VirtualSession], stop: asyncio.Event, counts: Counter[str]
) -> None:
    # Idle connections dropped as the SDK drops them, before the server may close them.
    limits = httpx.Limits(
        max_connections=64, max_keepalive_connections=64, keepalive_expiry=KEEPALIVE_SECONDS
    )
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        rng = random.Random(11)
        await asyncio.gather(
            *(
                _session(client, session, random.Random(rng.random()), stop, counts)
                for session in sessions
            )
        )


def run_virtual_fleet(
    url: str, sessions: list[VirtualSession]
) -> tuple[threading.Event, Counter[str]]:
    """Start the sessions on a thread of their own; set the event to stop them. The
    counter holds the answers by route and status."""
    stop_requested = threading.Event()
    counts: Counter[str] = Counter()

    def run() -> None:
        async def main() -> None:
            stop = asyncio.Event()
            fleet = asyncio.create_task(_fleet(url, sessions, stop, counts))
            while not stop_requested.is_set():
                await asyncio.sleep(0.2)
            stop.set()
            await asyncio.wait_for(fleet, 30)

        asyncio.run(main())

    threading.Thread(target=run, name="virtual-fleet", daemon=True).start()
    return stop_requested, counts
