"""The search service's logic: index documents, run jobs in the background, one at a time
per worker, cancel and retry them."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

from smsfleet.core.clock import Clock
from smsfleet.core.errors import Conflict, NotFound
from smsfleet.search.engine import score
from smsfleet.search.models import Job, JobCreate, JobPage, JobQuery, JobStatus, Match
from smsfleet.search.store import SearchStore

__all__ = ["SearchService"]

log = logging.getLogger("smsfleet.search")


class SearchService:
    def __init__(self, *, store: SearchStore, clock: Clock, workers: int = 2) -> None:
        self.store = store
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="search-job")

    def resume(self) -> None:
        """Jobs cut short by a restart run again."""
        for job in self.store.unfinished():
            self._submit(job.model_copy(update={"status": JobStatus.queued}))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def create(self, data: JobCreate, *, owner: str) -> Job:
        job = Job(
            id=uuid.uuid4().hex,
            owner=owner,
            query=data.query,
            algorithm=data.algorithm,
            kinds=data.kinds,
            limit=data.limit,
            status=JobStatus.queued,
            created_at=self._clock.now(),
        )
        self.store.add_job(job)
        self._submit(job)
        return job

    def get(self, job_id: str, *, owner: str | None) -> Job:
        job = self.store.job(job_id)
        if job is None or (owner is not None and job.owner != owner):
            raise NotFound(f"no search job {job_id!r}")
        return job

    def find(self, query: JobQuery, *, owner: str | None) -> JobPage:
        return self.store.jobs(query, owner=owner)

    def cancel(self, job_id: str, *, owner: str | None) -> Job:
        job = self.get(job_id, owner=owner)
        if job.status not in (JobStatus.queued, JobStatus.running):
            raise Conflict(f"job {job_id} is {job.status.value}: nothing to cancel")
        cancelled = job.model_copy(
            update={"status": JobStatus.cancelled, "finished_at": self._clock.now()}
        )
        self.store.save_job(cancelled)
        return cancelled

    def retry(self, job_id: str, *, owner: str | None) -> Job:
        job = self.get(job_id, owner=owner)
        if job.status not in (JobStatus.failed, JobStatus.cancelled):
            raise Conflict(f"job {job_id} is {job.status.value}: only a failed one is retried")
        again = job.model_copy(
            update={
                "status": JobStatus.queued,
                "error": None,
                "matched": None,
                "results": [],
                "started_at": None,
                "finished_at": None,
            }
        )
        self.store.save_job(again)
        self._submit(again)
        return again

    def _submit(self, job: Job) -> None:
        self._pool.submit(self._run, job.id)

    def _run(self, job_id: str) -> None:
        job = self.store.job(job_id)
        if job is None or job.status is not JobStatus.queued:
            return  # cancelled while queued
        running = job.model_copy(
            update={"status": JobStatus.running, "started_at": self._clock.now()}
        )
        if not self.store.save_job(running, unless=JobStatus.cancelled):
            return
        try:
            matches: list[Match] = []
            for document in self.store.documents(job.kinds):
                found = score(job.algorithm, job.query, document)
                if found is not None:
                    matches.append(
                        Match(
                            **document.model_dump(exclude={"id"}),
                            document_id=document.id,
                            score=found,
                        )
                    )
            matches.sort(key=lambda m: (-m.score, m.at), reverse=False)
            finished = running.model_copy(
                update={
                    "status": JobStatus.done,
                    "matched": len(matches),
                    "results": matches[: job.limit],
                    "finished_at": self._clock.now(),
                }
            )
        except Exception as error:  # reported on the job, never lost in a thread
            log.exception("search job %s failed", job_id)
            finished = running.model_copy(
                update={
                    "status": JobStatus.failed,
                    "error": f"{type(error).__name__}: {error}"[:512],
                    "finished_at": self._clock.now(),
                }
            )
        self.store.save_job(finished, unless=JobStatus.cancelled)
