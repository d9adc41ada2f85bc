"""What lease+report can reach at most on this machine: the routes and Redis, no stores.

    .venv/bin/python benchmarks/worker_ceiling.py [--seconds 8] [--workers 2]

Runs the same load as benchmarks/dispatch.py (b) — wrk with benchmarks/lease_report.lua,
16 connections, every granted lease reported at once — against `uvicorn --workers 2`
serving stand-ins that do less and less of the real work:

- `routes`: smsfleet's own worker routes (`dispatch.views`: body and token checks,
  response models, the thread pool) in front of a dispatcher that grants every lease
  and records nothing. The floor of the routes as written.
- `routes + redis`: the same, with the dispatcher doing only its Redis work, through
  the real code: a lease's admission (`RedisAdmission`: the pair's room, the limiter's
  decision and the attempt opened, one script) and a report's check-and-set
  (`RedisLedger.report`'s script, from the event loop as the real route makes it).
  What the control plane would cost with no SQL (no drain), no config reads and no
  bookkeeping around the scripts.
- `async`: `async def` routes that validate the body with the same models from the raw
  bytes and answer pre-serialised JSON: the least this framework can do per request.
- `async + redis`: those routes running the same two scripts through `redis.asyncio`:
  no thread-pool trip.

Prints lease+report pairs per second and the serving processes' CPU time per pair,
with the machine and the date; the real control plane's figure is (b) of dispatch.py.
Needs wrk and Redis.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import redis
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dispatch import (
    REDIS_URL,
    REPO,
    WRK,
    control_plane_cpu_seconds,
    machine,
    settled_cpu_seconds,
)
from smsfleet.attempts import LoopReports, RedisLedger
from smsfleet.attempts.models import Attempt, Completion
from smsfleet.attempts.store import AttemptStore
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Unauthorized
from smsfleet.core.security import verify_worker_token, worker_token
from smsfleet.dispatch import views
from smsfleet.dispatch._redis_admission import RedisAdmission
from smsfleet.dispatch._redis_limiter import RedisLimiter
from smsfleet.dispatch.admission import Admitted, Entry
from smsfleet.dispatch.limiter import Ask
from smsfleet.dispatch.models import (
    LeaseAction,
    LeaseRequest,
    ReportRequest,
    ReportResponse,
    ReportStatus,
    SendAction,
    WaitAction,
)
from smsfleet.dispatch.pace import SessionPace
from tests.support.backends import free_port
from tests.support.fleet import clean_environment, running
from tests.support.tokens import ANY_CREATION

VARIANTS = ("routes", "routes + redis", "async", "async + redis")
COUNTRIES = [f"Q{letter}" for letter in "ABCDEFGHIJKLMNOP"]
CAP = 10_000
PREFIX = "bench-ceiling"
SECRET = "bench-ceiling-secret-0123456789abcdef"
# Several numbers a pair: a lease reported at once may come back before its report.
PHONES = [f"+99890123456{digit}" for digit in range(8)]
TTL = timedelta(seconds=120)


def _entry(session: str, in_flight: Sequence[str] | None) -> Entry:
    """What the real dispatcher asks its admission for a lease of `session`."""
    program, pair = session.split("_", 1)
    now = datetime.now(UTC)
    attempt = Attempt(
        id=uuid.uuid4().hex,
        session=session,
        pair=pair,
        country=pair.split("_")[0],
        operator="Load",
        program=program,
        phone="",
        leased_at=now,
    )
    ask = Ask(country=attempt.country, pair=pair, program=program, cap=CAP)
    return Entry(
        ask=ask,
        session=session,
        attempt=attempt,
        phones=PHONES,
        limit=len(PHONES),
        in_flight=in_flight,
        ttl=TTL,
        expire=False,
    )


def _answer(session: str, admitted: Admitted | None) -> LeaseAction:
    """The lease's answer: a send (of the attempt opened, if any), or a wait."""
    program, pair = session.split("_", 1)
    attempt = admitted.attempt if admitted is not None else None
    if admitted is not None and attempt is None:
        return WaitAction(retry_after=0.1, max_in_flight=len(PHONES))
    return SendAction(
        trigger_id=attempt.id if attempt else uuid.uuid4().hex,
        phone=attempt.phone if attempt else PHONES[0],
        message="smsfleet test",
        pair=pair,
        program=program,
        expires_at=datetime.now(UTC) + TTL,
    )


def _completion(report: ReportRequest) -> Completion:
    return Completion(outcome=report.outcome, completed_at=datetime.now(UTC))


def _redis_parts() -> tuple[RedisLedger, RedisAdmission]:
    """The real ledger and admission on Redis; the SQL store behind the ledger is never
    read on this path (it is where unknown attempts and the drain would go)."""
    store = AttemptStore(sa.create_engine("sqlite://"))
    ledger = RedisLedger.from_url(REDIS_URL, store=store, prefix=PREFIX)
    limiter = RedisLimiter.from_url(REDIS_URL, clock=SystemClock(), prefix=PREFIX)
    return ledger, RedisAdmission(limiter=limiter, ledger=ledger, clock=SystemClock())


class _StandIn:
    """The `Dispatcher` the worker routes call: the Redis work only, or nothing."""

    def __init__(self, *, with_redis: bool) -> None:
        self._redis = _redis_parts() if with_redis else None
        self._on_loop = _AsyncRedisWork(self._redis) if self._redis else None
        # The real check of each session's pace, at one the load never reaches.
        self._pace = SessionPace(rate=1e9, burst=1_000_000)
        self.clock = SystemClock()  # the lease route reads when each request came

    def authenticate(self, *, session: str, token: str | None) -> datetime:
        issued_for = verify_worker_token(secret=SECRET, session=session, token=token or "")
        if issued_for is None:
            raise Unauthorized("invalid worker token for this session")
        return issued_for

    def pace(self, *, session: str) -> None:
        self._pace.take(session, time.monotonic())

    # `issued_for`: no session specs here, so no creation time to hold the token to;
    # `arrived`: the answer says no wait (its `waited` is the default).
    def lease(
        self,
        *,
        session: str,
        in_flight: Sequence[str] | None = None,
        issued_for: datetime | None = None,
        arrived: datetime | None = None,
    ) -> LeaseAction:
        if self._redis is None:
            return _answer(session, None)
        _, admission = self._redis
        return _answer(session, admission.admit(_entry(session, in_flight)))

    async def lease_on_loop(
        self,
        *,
        session: str,
        in_flight: Sequence[str] | None = None,
        issued_for: datetime | None = None,
        arrived: datetime | None = None,
    ) -> LeaseAction | None:
        """On Redis, the lease's script from the event loop, as the real routes do while
        the config is in memory (here always: an upper bound for them)."""
        if self._on_loop is None:
            return None  # through the thread pool
        return _answer(session, await self._on_loop.lease(session, in_flight))

    async def report_on_loop(
        self, *, session: str, report: ReportRequest, issued_for: datetime | None = None
    ) -> ReportStatus | None:
        """On Redis, as the real routes do: the report's script from the event loop."""
        if self._on_loop is None:
            return None  # through the thread pool
        await self._on_loop.report(report)
        return ReportStatus.recorded

    def report(
        self, *, session: str, report: ReportRequest, issued_for: datetime | None = None
    ) -> ReportStatus:
        if self._redis is not None:
            ledger, _ = self._redis
            ledger.report(report.trigger_id, session=session, completion=_completion(report))
        return ReportStatus.recorded


class _AsyncRedisWork:
    """A lease's and a report's scripts, the real ones, through `redis.asyncio`."""

    def __init__(self, parts: tuple[RedisLedger, RedisAdmission]) -> None:
        ledger, admission = parts
        client = ledger.loop_client()
        assert client is not None, "a ledger from a URL has a loop client"
        self._admission = admission.on_loop(client)
        self._reports = LoopReports(ledger, client)

    async def lease(self, session: str, in_flight: Sequence[str] | None) -> Admitted:
        return await self._admission.admit(_entry(session, in_flight))

    async def report(self, report: ReportRequest) -> None:
        completion = _completion(report)
        await self._reports.report(report.trigger_id, session=report.session, completion=completion)


def _async_routes(app: FastAPI, *, with_redis: bool) -> None:
    work = _AsyncRedisWork(_redis_parts()) if with_redis else None

    def token(request: Request) -> str:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        return credentials if scheme.lower() == "bearer" else ""

    @app.post("/api/v1/worker/lease", response_model=LeaseAction)
    async def lease(request: Request) -> Response:
        body = LeaseRequest.model_validate_json(await request.body())
        if verify_worker_token(secret=SECRET, session=body.session, token=token(request)) is None:
            return Response(status_code=401)
        admitted = await work.lease(body.session, body.in_flight) if work else None
        answer = _answer(body.session, admitted)
        return Response(answer.model_dump_json(), media_type="application/json")

    @app.post("/api/v1/worker/report", response_model=ReportResponse)
    async def report(request: Request) -> Response:
        body = ReportRequest.model_validate_json(await request.body())
        if verify_worker_token(secret=SECRET, session=body.session, token=token(request)) is None:
            return Response(status_code=401)
        if work is not None:
            await work.report(body)
        answer = ReportResponse(status=ReportStatus.recorded)
        return Response(answer.model_dump_json(), media_type="application/json")


def create_app() -> FastAPI:
    """The app of the variant named by `BENCH_CEILING_VARIANT` (uvicorn's factory)."""
    variant = os.environ["BENCH_CEILING_VARIANT"]
    app = FastAPI()
    if variant.startswith("async"):
        _async_routes(app, with_redis=variant.endswith("redis"))
    else:
        # The worker routes read only the dispatcher of the app's services.
        app.state.services = SimpleNamespace(
            dispatcher=_StandIn(with_redis=variant.endswith("redis"))
        )
        app.include_router(views.router)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def measure(variant: str, *, seconds: float, workers: int, work: Path) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sessions = [f"program1_{country}_load" for country in COUNTRIES]
    sessions_file = work / "sessions.txt"
    sessions_file.write_text(
        "".join(
            f"{s} {worker_token(secret=SECRET, session=s, created_at=ANY_CREATION)}\n"
            for s in sessions
        )
    )
    serve = [
        sys.executable, "-m", "uvicorn", "--factory", "benchmarks.worker_ceiling:create_app",
        "--app-dir", str(REPO), "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    load = [
        WRK, "-t2", "-c16", f"-d{seconds:g}s", "--timeout", "30s",
        "-s", str(REPO / "benchmarks" / "lease_report.lua"), url, "--", str(sessions_file),
    ]  # fmt: skip
    env = {**clean_environment(), "BENCH_CEILING_VARIANT": variant}
    try:
        with running(serve, env=env, work=work, ready=f"{url}/healthz"):
            before = settled_cpu_seconds(port, app="benchmarks.worker_ceiling:create_app")
            output = subprocess.run(
                load, check=True, capture_output=True, text=True, timeout=seconds + 60
            ).stdout
            cpu = control_plane_cpu_seconds(port, app="benchmarks.worker_ceiling:create_app")
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{PREFIX}:*", count=10_000):
            client.delete(key)
        client.close()
    counts = [
        [int(n) for n in line.split()[1:]]
        for line in output.splitlines()
        if line.startswith("counts ")
    ]
    _, recorded, _, failures = (sum(column) for column in zip(*counts, strict=True))
    if failures:
        raise SystemExit(f"{variant}: {failures} requests failed\n{output}")
    return {"pairs_per_s": recorded / seconds, "cpu_ms_per_pair": (cpu - before) * 1000 / recorded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"benchmarks/worker_ceiling.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    print("| stand-in | lease+report pairs/s | CPU ms per pair |")
    print("| --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as directory:
        for variant in VARIANTS:
            figures = measure(
                variant, seconds=args.seconds, workers=args.workers, work=Path(directory)
            )
            print(
                f"| {variant} | {figures['pairs_per_s']:.0f} | {figures['cpu_ms_per_pair']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
