"""Finished search jobs are bounded: one account keeps its newest
SMSFLEET_SEARCH_KEPT_JOBS_PER_USER, and everyone's go SMSFLEET_SEARCH_JOB_RETENTION_DAYS
after they finished. A viewer looping on `POST /api/v1/search/jobs` filled the search
database without bound: 871 jobs in 30 s, 3 MB to 59 MB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smsfleet.auth.models import Role
from smsfleet.core.sql import create_sql_engine
from smsfleet.search.models import Algorithm, DocumentKind, Job, JobOwner, JobQuery, JobStatus
from smsfleet.search.store import SearchStore
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock
from tests.support.search import SEARCH_TOKEN, index_one_attempt, search_service

KEPT = 3
BODY = {"query": "NO_ROUTE", "kinds": ["attempt"], "limit": 500}


class Searching:
    def __init__(self, api: Api, clock: FakeClock, database: Path) -> None:
        self.api = api
        self.clock = clock  # the search service's
        self.database = database

    def rows(self) -> int:
        """The jobs in the search service's database, everyone's."""
        engine = create_sql_engine(f"sqlite:///{self.database}")
        try:
            with engine.connect() as connection:
                return int(connection.execute(sa.text("SELECT count(*) FROM jobs")).scalar_one())
        finally:
            engine.dispose()

    def finished_job(self, headers: dict[str, str]) -> str:
        """A job made and run to its end: its id."""
        made = self.api.client.post("/api/v1/search/jobs", json=BODY, headers=headers)
        assert made.status_code == 202, made.text
        job_id: str = made.json()["id"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            job = self.api.client.get(f"/api/v1/search/jobs/{job_id}", headers=headers).json()
            if job["status"] in ("done", "failed"):
                assert job["status"] == "done", job
                return job_id
            time.sleep(0.02)
        raise AssertionError(f"search job {job_id} never finished")

    def listed(self, headers: dict[str, str]) -> list[str]:
        page = self.api.client.get("/api/v1/search/jobs?limit=200", headers=headers)
        assert page.status_code == 200, page.text
        return [job["id"] for job in page.json()["items"]]


@pytest.fixture
def searching(tmp_path: Path) -> Iterator[Searching]:
    clock = FakeClock(datetime.now(UTC))
    with (
        search_service(tmp_path, clock=clock, search_kept_jobs_per_user=KEPT) as search,
        running_api(tmp_path, search_url=search.url, search_token=SEARCH_TOKEN) as api,
    ):
        index_one_attempt(api)
        yield Searching(api, clock, tmp_path / "search" / "search.db")


def test_a_viewer_keeps_at_most_the_bound_of_finished_search_jobs(searching: Searching) -> None:
    operator = searching.api.headers(Role.operator)
    viewer = searching.api.headers(Role.viewer)
    others = [searching.finished_job(operator) for _ in range(2)]
    made = []
    for _ in range(3 * KEPT):
        made.append(searching.finished_job(viewer))
        searching.clock.advance(1)
    # The newest stay, newest first; the older ones and their matches are gone.
    assert searching.listed(viewer) == made[-KEPT:][::-1]
    for job_id in made[:-KEPT]:
        gone = searching.api.client.get(f"/api/v1/search/jobs/{job_id}", headers=viewer)
        assert gone.status_code == 404, gone.text
    # Someone else's jobs are theirs to keep.
    assert sorted(searching.listed(operator)) == sorted(others)
    assert searching.rows() == KEPT + len(others)


def test_finished_search_jobs_past_their_retention_are_deleted(searching: Searching) -> None:
    viewer = searching.api.headers(Role.viewer)
    operator = searching.api.headers(Role.operator)
    old = searching.finished_job(viewer)
    searching.clock.advance(timedelta(days=7, minutes=1).total_seconds())
    recent = searching.finished_job(viewer)
    # The new job purged everyone's finished over 7 days ago, the viewer's old one too.
    assert searching.listed(viewer) == [recent]
    assert searching.api.client.get(f"/api/v1/search/jobs/{old}", headers=viewer).status_code == 404
    searching.clock.advance(timedelta(days=7, minutes=1).total_seconds())
    newest = searching.finished_job(operator)
    assert searching.listed(viewer) == []
    assert searching.listed(operator) == [newest]
    assert searching.rows() == 1


def _job(number: int, owner: str, status: JobStatus, at: datetime) -> Job:
    finished = status not in (JobStatus.queued, JobStatus.running)
    return Job(
        id=f"{owner[0]}{number:031d}",
        owner=owner,
        query="delivered",
        algorithm=Algorithm.exact,
        kinds=[DocumentKind.attempt],
        limit=500,
        status=status,
        created_at=at,
        finished_at=at if finished else None,
    )


def test_dropping_and_purging_jobs_are_one_statement_each(tmp_path: Path) -> None:
    """However many jobs go; queued and running ones stay, and so do other accounts'."""
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'search.db'}")
    store = SearchStore(engine)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    for number in range(200):
        at = start + timedelta(seconds=number)
        store.add_job(_job(number, "viewer", JobStatus.done, at), owner_since=since)
        store.add_job(_job(number, "other", JobStatus.failed, at), owner_since=since)
    for number, status in ((200, JobStatus.queued), (201, JobStatus.running)):
        store.add_job(_job(number, "viewer", status, start), owner_since=since)
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", seen)
    viewer = JobOwner("viewer", since)
    assert store.drop_finished(viewer, keep=KEPT) == 200 - KEPT
    assert len([s for s in statements if s.lstrip().upper().startswith("DELETE")]) == 1
    page = store.jobs(JobQuery(limit=200), owner=viewer)
    assert {j.id for j in page.items} == {
        *(f"v{n:031d}" for n in (197, 198, 199)),
        *(f"v{n:031d}" for n in (200, 201)),
    }
    statements.clear()
    assert store.purge_finished(before=start + timedelta(seconds=100)) == 100
    assert len(statements) == 1
    assert store.jobs(JobQuery(limit=200), owner=JobOwner("other", since)).total == 100
    assert store.jobs(JobQuery(limit=200), owner=viewer).total == 2 + KEPT
    engine.dispose()
