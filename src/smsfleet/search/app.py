"""The search service: `smsfleet search-service` (its own process, port and database).

Every route but `/healthz` takes the service-to-service token
(`Authorization: Bearer <SMSFLEET_SEARCH_TOKEN>`); the control plane, its only
client, says on whose behalf it asks (`X-Owner`; none: every owner) and when that
account was made (`X-Owner-Since`): an account deleted and made again under its name
is another owner.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from smsfleet import __version__
from smsfleet.core.clock import Clock, SystemClock
from smsfleet.core.error_reports import start_error_reports
from smsfleet.core.errors import ConfigurationError, Unauthorized
from smsfleet.core.http_errors import install_error_handlers
from smsfleet.core.settings import Settings
from smsfleet.core.sql import create_sql_engine
from smsfleet.search.models import Documents, Job, JobCreate, JobOwner, JobPage, JobQuery, Newest
from smsfleet.search.service import SearchService
from smsfleet.search.store import SearchStore

__all__ = ["create_search_app"]

_bearer = HTTPBearer(auto_error=False)
OwnerName = Annotated[str | None, Header(alias="X-Owner", max_length=64)]
# When the owner's account was made: with the name, which account of that name asks.
OwnerSince = Annotated[datetime | None, Header(alias="X-Owner-Since")]


def _owner(name: OwnerName = None, since: OwnerSince = None) -> JobOwner | None:
    return None if name is None else JobOwner(name, since)


Owner = Annotated[JobOwner | None, Depends(_owner)]


def create_search_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    if settings.search.token is None:
        raise ConfigurationError("set SMSFLEET_SEARCH_TOKEN: the control plane sends it")
    token = settings.search.token.get_secret_value().encode()
    reports = start_error_reports(
        settings.sentry.dsn.get_secret_value() if settings.sentry.dsn else None,
        service="search",
        release=__version__,
        environment=settings.sentry.environment,
    )
    engine = create_sql_engine(settings.resolved_search_db_url)
    service = SearchService(
        store=SearchStore(engine),
        clock=clock or SystemClock(),
        max_jobs_per_user=settings.search.max_jobs_per_user,
        max_matches=settings.search.max_matches,
        kept_jobs_per_user=settings.search.kept_jobs_per_user,
        retention=timedelta(days=settings.search.job_retention_days),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.resume()
        try:
            yield
        finally:
            service.close()
            engine.dispose()
            reports.close()

    def authorized(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, token):
            raise Unauthorized("the search service takes the control plane's token only")

    app = FastAPI(title="smsfleet search service", lifespan=lifespan)
    install_error_handlers(app)
    guarded = [Depends(authorized)]

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/documents", dependencies=guarded)
    def index(body: Documents) -> dict[str, int]:
        return {"indexed": service.store.index(body.documents)}

    @app.get("/v1/documents/newest", dependencies=guarded)
    def newest() -> Newest:
        """What the control plane indexes again from, after a restart on either side."""
        return service.store.newest()

    @app.post("/v1/jobs", status_code=status.HTTP_202_ACCEPTED, dependencies=guarded)
    def create_job(body: JobCreate, owner: Owner) -> Job:
        if owner is None:
            raise Unauthorized("say whose job it is: X-Owner")
        return service.create(body, owner=owner)

    @app.get("/v1/jobs", dependencies=guarded)
    def list_jobs(query: Annotated[JobQuery, Query()], owner: Owner) -> JobPage:
        return service.find(query, owner=owner)

    @app.get("/v1/jobs/{job_id}", dependencies=guarded)
    def get_job(job_id: str, owner: Owner) -> Job:
        return service.get(job_id, owner=owner)

    @app.post("/v1/jobs/{job_id}/cancel", dependencies=guarded)
    def cancel_job(job_id: str, owner: Owner) -> Job:
        return service.cancel(job_id, owner=owner)

    @app.post("/v1/jobs/{job_id}/retry", dependencies=guarded)
    def retry_job(job_id: str, owner: Owner) -> Job:
        return service.retry(job_id, owner=owner)

    app.state.search = service
    return app
