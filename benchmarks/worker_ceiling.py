"""What lease+report can reach at most on this machine: the routes and Redis, no stores.

    .venv/bin/python benchmarks/worker_ceiling.py [--seconds 8] [--workers 2]

Runs the same load as benchmarks/dispatch.py (b) — wrk with benchmarks/lease_report.lua,
16 connections, every granted lease reported at once — against `uvicorn --workers 2`
serving stand-ins that do less and less of the real work:

- `routes`: smsfleet's own worker routes (`dispatch.views`: body and token checks,
  response models, the thread pool) in front of a dispatcher that grants every lease
  and records nothing. The floor of the routes as written.
- `routes + redis`: the same, with the dispatcher doing only its Redis work: the
  limiter's script for the lease (the real `RedisLimiter`), the attempt kept in a Redis
  hash and appended to a stream, and one check-and-set script for the report. What a
  control plane that kept attempts in Redis (no SQL, no config reads) would cost.
- `async`: `async def` routes that validate the body with the same models from the raw
  bytes and answer pre-serialised JSON: the least this framework can do per request.
- `async + redis`: those routes with the same Redis work through `redis.asyncio`.

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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from redis.typing import EncodableT, FieldT

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dispatch import (
    REDIS_URL,
    REPO,
    WRK,
    control_plane_cpu_seconds,
    machine,
    settled_cpu_seconds,
)
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Unauthorized
from smsfleet.core.security import verify_worker_token, worker_token
from smsfleet.dispatch import views
from smsfleet.dispatch._redis_limiter import _DECIDE, RedisLimiter
from smsfleet.dispatch.limiter import Ask
from smsfleet.dispatch.models import (
    LeaseAction,
    LeaseRequest,
    ReportRequest,
    ReportResponse,
    ReportStatus,
    SendAction,
)
from tests.support.backends import free_port
from tests.support.fleet import clean_environment, running

VARIANTS = ("routes", "routes + redis", "async", "async + redis")
COUNTRIES = [f"Q{letter}" for letter in "ABCDEFGHIJKLMNOP"]
CAP = 10_000
PREFIX = "bench-ceiling"
SECRET = "bench-ceiling-secret-0123456789abcdef"
PHONE = "+998901234567"

# The attempt is the report's to close once, by the session it was leased to.
_REPORT = """
local session = redis.call('HGET', KEYS[1], 'session')
if not session then return 0 end
if session ~= ARGV[1] then return -1 end
if redis.call('HSETNX', KEYS[1], 'outcome', ARGV[2]) == 0 then return 2 end
redis.call('XADD', KEYS[2], '*', 'reported', ARGV[3])
return 1
"""


def _send(pair: str, program: str) -> SendAction:
    return SendAction(
        trigger_id=uuid.uuid4().hex,
        phone=PHONE,
        message="smsfleet test",
        pair=pair,
        program=program,
        expires_at=datetime.now(UTC) + timedelta(seconds=120),
    )


def _attempt(session: str, send: SendAction) -> dict[FieldT, EncodableT]:
    # redis' `hset` takes a Mapping, invariant in its key: the field type must be its own.
    return {"session": session, "pair": send.pair, "phone": send.phone}


def _ask(session: str) -> Ask:
    program, pair = session.split("_", 1)
    return Ask(country=pair.split("_")[0], pair=pair, program=program, cap=CAP)


class _StandIn:
    """The `Dispatcher` the worker routes call: the Redis work only, or nothing."""

    def __init__(self, *, with_redis: bool) -> None:
        self._client = redis.Redis.from_url(REDIS_URL) if with_redis else None
        self._limiter = (
            RedisLimiter(self._client, clock=SystemClock(), prefix=PREFIX)
            if self._client is not None
            else None
        )
        self._report = self._client.register_script(_REPORT) if self._client else None

    def authenticate(self, *, session: str, token: str | None) -> None:
        if not token or not verify_worker_token(secret=SECRET, session=session, token=token):
            raise Unauthorized("invalid worker token for this session")

    def lease(self, *, session: str) -> LeaseAction:
        program, pair = session.split("_", 1)
        send = _send(pair, program)
        if self._limiter is not None and self._client is not None:
            self._limiter.acquire(_ask(session))
            with self._client.pipeline() as pipe:
                pipe.hset(f"{PREFIX}:attempt:{send.trigger_id}", mapping=_attempt(session, send))
                pipe.xadd(f"{PREFIX}:attempts", {"leased": send.trigger_id})
                pipe.execute()
        return send

    def report(self, *, session: str, report: ReportRequest) -> ReportStatus:
        if self._report is not None:
            keys = [f"{PREFIX}:attempt:{report.trigger_id}", f"{PREFIX}:attempts"]
            self._report(keys=keys, args=[session, report.outcome.value, report.trigger_id])
        return ReportStatus.recorded


def _async_routes(app: FastAPI, *, with_redis: bool) -> None:
    client = aioredis.Redis.from_url(REDIS_URL) if with_redis else None
    decide = client.register_script(_DECIDE) if client else None
    report_script = client.register_script(_REPORT) if client else None
    # Only to build the script's keys and arguments as the real limiter does.
    limiter = RedisLimiter(redis.Redis.from_url(REDIS_URL), clock=SystemClock(), prefix=PREFIX)

    def token(request: Request) -> str:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        return credentials if scheme.lower() == "bearer" else ""

    @app.post("/api/v1/worker/lease", response_model=LeaseAction)
    async def lease(request: Request) -> Response:
        body = LeaseRequest.model_validate_json(await request.body())
        if not verify_worker_token(secret=SECRET, session=body.session, token=token(request)):
            return Response(status_code=401)
        program, pair = body.session.split("_", 1)
        send = _send(pair, program)
        if client is not None and decide is not None:
            now = int(datetime.now(UTC).timestamp() * 1000)
            keys, args = limiter.script_call(_ask(body.session), now)
            await decide(keys=keys, args=args)
            async with client.pipeline() as pipe:
                pipe.hset(
                    f"{PREFIX}:attempt:{send.trigger_id}", mapping=_attempt(body.session, send)
                )
                pipe.xadd(f"{PREFIX}:attempts", {"leased": send.trigger_id})
                await pipe.execute()
        return Response(send.model_dump_json(), media_type="application/json")

    @app.post("/api/v1/worker/report", response_model=ReportResponse)
    async def report(request: Request) -> Response:
        body = ReportRequest.model_validate_json(await request.body())
        if not verify_worker_token(secret=SECRET, session=body.session, token=token(request)):
            return Response(status_code=401)
        if report_script is not None:
            keys = [f"{PREFIX}:attempt:{body.trigger_id}", f"{PREFIX}:attempts"]
            await report_script(keys=keys, args=[body.session, body.outcome.value, body.trigger_id])
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
        "".join(f"{s} {worker_token(secret=SECRET, session=s)}\n" for s in sessions)
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
