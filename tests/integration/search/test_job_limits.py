"""Search jobs are bounded: jobs per person, matches per job, and cancel stops a scan.

One search service for the module, with a corpus large enough that a fuzzy scan of it
takes seconds: at most 2 jobs per person, at most 50 matches per job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from smsfleet.auth.models import Role
from smsfleet.core.settings import Settings
from smsfleet.core.sql import create_sql_engine
from smsfleet.search.app import create_search_app
from smsfleet.search.models import Document, DocumentKind, JobOwner
from smsfleet.search.service import SearchService
from smsfleet.search.store import SearchStore
from tests.support.api import running_api
from tests.support.search import SEARCH_TOKEN
from tests.support.servers import ThreadedServer

CORPUS = 30_000
NOTHING = "qzxw jvkq"  # matches no document: a fuzzy job scans them all


class Big:
    def __init__(self, server: ThreadedServer, service: SearchService) -> None:
        self.server = server
        self.service = service

    def client(self, owner: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {SEARCH_TOKEN}", "X-Owner": owner}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Big]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("big-search"),
        search_token=SEARCH_TOKEN,
        search_max_jobs_per_user=2,
        search_max_matches=50,
    )
    app = create_search_app(settings)
    service: SearchService = app.state.search
    at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    documents = [
        Document(
            id=f"m{n:07d}",
            kind=DocumentKind.message,
            phone="+998901234567",
            text=f"Your verification code is {n:06d}",
            at=at,
        )
        for n in range(CORPUS)
    ]
    for first in range(0, CORPUS, 5000):
        service.store.index(documents[first : first + 5000])
    server = ThreadedServer(app)
    server.start()
    yield Big(server, service)
    server.stop()
    service.close()


def job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = http.get(f"/v1/jobs/{job_id}").json()
    return answer


def wait_for(http: httpx.Client, job_id: str, *statuses: str, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = job(http, job_id)
        if found["status"] in statuses:
            return found
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never became {statuses}: {job(http, job_id)}")


def test_cancel_stops_a_running_scan_before_its_next_page(big: Big) -> None:
    """Counted in pages read after the cancel, not in seconds: a machine busy with other
    work may pause the scan's thread, but a cancelled scan reads on no further."""
    cancelled_flag = threading.Event()
    pages_after_cancel: list[str] = []

    def count_page(*args: Any) -> None:
        statement = args[2]
        scanning = threading.current_thread().name.startswith("search-job")
        if cancelled_flag.is_set() and scanning and "FROM documents" in statement:
            pages_after_cancel.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count_page)
    try:
        with big.client("carol") as http:
            created = http.post("/v1/jobs", json={"query": NOTHING, "algorithm": "fuzzy"})
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            wait_for(http, job_id, "running")
            cancelled = http.post(f"/v1/jobs/{job_id}/cancel")
            cancelled_flag.set()
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            deadline = time.monotonic() + 30
            while big.service.scanning and time.monotonic() < deadline:
                time.sleep(0.01)
            assert big.service.scanning == 0, "the scan never ended"
            # One page may have been asked for as the cancel came; a scan that went on
            # would read the rest of the corpus (60 pages).
            assert len(pages_after_cancel) <= 1, "the scan went on after its cancel"
            first = job(http, job_id)
            time.sleep(0.5)
            later = job(http, job_id)
            assert first["status"] == later["status"] == "cancelled"
            assert first["scanned"] == later["scanned"] < CORPUS  # it stopped counting
            assert later["matched"] is None and later["results"] == []
            # Run again, it scans from the start and can be cancelled again.
            again = http.post(f"/v1/jobs/{job_id}/retry")
            assert again.status_code == 200 and again.json()["scanned"] == 0
            assert http.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count_page)


def test_a_job_holds_at_most_the_bound_of_matches_and_says_it_is_truncated(big: Big) -> None:
    with big.client("dave") as http:
        created = http.post(
            "/v1/jobs", json={"query": "verification", "algorithm": "exact", "limit": 20}
        )
        assert created.status_code == 202, created.text
        done = wait_for(http, created.json()["id"], "done", "failed")
        assert done["status"] == "done", done
        assert done["truncated"] is True and done["matched"] == 50
        assert len(done["results"]) == 20
        assert done["scanned"] < CORPUS  # it stopped at the bound instead of reading on
        few = http.post("/v1/jobs", json={"query": "code is 000042", "algorithm": "exact"})
        small = wait_for(http, few.json()["id"], "done", "failed")
        assert (small["truncated"], small["matched"], small["scanned"]) == (False, 1, CORPUS)


def test_a_person_has_at_most_n_jobs_queued_or_running(big: Big, tmp_path: Path) -> None:
    """Through the gateway: the third job is a 429 with a clear JSON error and Retry-After;
    someone else still may; a cancelled job frees a place."""
    with running_api(tmp_path, search_url=big.server.url, search_token=SEARCH_TOKEN) as api:
        body = {"query": NOTHING, "algorithm": "fuzzy"}
        operator = api.headers(Role.operator)
        ids = []
        for _ in range(2):
            created = api.client.post("/api/v1/search/jobs", json=body, headers=operator)
            assert created.status_code == 202, created.text
            ids.append(created.json()["id"])
        refused = api.client.post("/api/v1/search/jobs", json=body, headers=operator)
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "too_many_requests"
        assert "2 search jobs queued or running" in error["message"]
        assert int(refused.headers["Retry-After"]) > 0
        # A retry queues a job too.
        with big.client("operator") as http:
            assert http.post(f"/v1/jobs/{ids[0]}/cancel").json()["status"] == "cancelled"
            third = http.post("/v1/jobs", json=body)
            assert third.status_code == 202
            assert http.post(f"/v1/jobs/{ids[0]}/retry").status_code == 429
            ids.append(third.json()["id"])
        viewer = api.headers(Role.viewer)
        other = api.client.post("/api/v1/search/jobs", json=body, headers=viewer)
        assert other.status_code == 202, other.text
        ids.append(other.json()["id"])
        # The breaker took none of it as the service failing.
        states = api.client.get("/api/v1/developer/breakers", headers=operator).json()
        assert {s["name"]: s["state"] for s in states}["search"] == "closed"
        for job_id in ids[1:]:
            api.client.post(f"/api/v1/search/jobs/{job_id}/cancel", headers=api.headers())


def test_a_search_database_of_an_earlier_version_is_brought_up_to_date(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE jobs (id VARCHAR(32) PRIMARY KEY, owner VARCHAR(64) NOT NULL,"
            " query VARCHAR(200) NOT NULL, algorithm VARCHAR(16) NOT NULL, kinds JSON NOT NULL,"
            ' "limit" INTEGER NOT NULL, status VARCHAR(16) NOT NULL, matched INTEGER,'
            " error VARCHAR(512), results JSON NOT NULL, created_at DATETIME NOT NULL,"
            " started_at DATETIME, finished_at DATETIME)"
        )
        connection.exec_driver_sql(
            "INSERT INTO jobs VALUES ('a', 'alice', 'q', 'exact', '[\"message\"]', 10, 'done',"
            " 0, NULL, '[]', '2026-01-05 12:00:00', NULL, NULL)"
        )
    store = SearchStore(engine)
    old = store.job("a")
    assert old is not None and (old.truncated, old.scanned) == (False, 0)
    assert store.active_jobs(JobOwner("alice")) == 0
    # A job from before jobs said which account made them: the account of its owner's
    # name made before it has it, one made after it does not.
    before, after = (datetime(2026, 1, 5, hour, tzinfo=UTC) for hour in (11, 13))
    assert store.job("a", owner=JobOwner("alice", before)) is not None
    assert store.job("a", owner=JobOwner("alice", after)) is None
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("documents")}
    assert "ix_documents_kind_at" in indexes
    engine.dispose()
