"""The search service's logic: index documents, run jobs in the background, one at a time
per worker, cancel and retry them.

A job scans the index a page at a time and checks between pages whether it was
cancelled; it holds at most `max_matches` matches (then stops, `truncated`), and one
person has at most `max_jobs_per_user` jobs queued or running. Finished jobs are bounded
too: one person keeps at most `kept_jobs_per_user` jobs in all (a new job drops their
oldest finished ones past it), and everyone's finished longer than `retention` ago go
(at start, and when a job is made, at most every PURGE_EVERY).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from smsfleet.core.clock import Clock
from smsfleet.core.errors import Conflict, NotFound, Throttled
from smsfleet.search.engine import score
from smsfleet.search.models import (
    Job,
    JobCreate,
    JobOwner,
    JobPage,
    JobQuery,
    JobStatus,
    Match,
)
from smsfleet.search.store import SearchStore

__all__ = ["SearchService"]

log = logging.getLogger("smsfleet.search")


_ACTIVE = (JobStatus.queued, JobStatus.running)
QUOTA_RETRY_AFTER = 5  # seconds: a job of a few pages is done by then
PROGRESS_EVERY = 0.25  # seconds between two writes of a running job's progress
PURGE_EVERY = timedelta(minutes=10)  # between two purges of jobs past their retention


class SearchService:
    def __init__(
        self,
        *,
        store: SearchStore,
        clock: Clock,
        workers: int = 2,
        max_jobs_per_user: int = 5,
        max_matches: int = 10_000,
        page_size: int = 500,
        kept_jobs_per_user: int = 100,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self.store = store
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="search-job")
        self._max_jobs = max_jobs_per_user
        self._max_matches = max_matches
        self._page_size = page_size
        self._kept_jobs = kept_jobs_per_user
        self._retention = retention
        self._purged_at: datetime | None = None
        # One flag per queued or running job of this process, set by cancel.
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()  # counting a person's jobs and adding one are one step
        self._scanning = 0

    @property
    def scanning(self) -> int:
        """How many jobs are being scanned right now."""
        with self._lock:
            return self._scanning

    def resume(self) -> None:
        """Jobs cut short by a restart run again; those past their retention go."""
        self._purge()
        for job in self.store.unfinished():
            queued = job.model_copy(update={"status": JobStatus.queued, "started_at": None})
            self.store.save_job(queued)
            self._submit(queued)

    def close(self) -> None:
        """Running scans stop at their next page; the next start runs them again."""
        for flag in list(self._cancels.values()):
            flag.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _check_quota(self, owner: JobOwner) -> int:
        """How many of `owner`'s jobs are queued or running; Throttled at the most."""
        active = self.store.active_jobs(owner)
        if active >= self._max_jobs:
            raise Throttled(
                f"{owner.name} has {active} search jobs queued or running, the most one person may "
                f"have ({self._max_jobs}): wait for one to finish, or cancel one",
                retry_after=QUOTA_RETRY_AFTER,
            )
        return active

    def create(self, data: JobCreate, *, owner: JobOwner) -> Job:
        with self._lock:
            active = self._check_quota(owner)
            job = self._new_job(data, owner=owner.name)
            self.store.add_job(job, owner_since=owner.since)
            # Finishing adds no job: at most `kept_jobs_per_user` in all, new and active too.
            self.store.drop_finished(owner, keep=max(self._kept_jobs - active - 1, 0))
        if self._purged_at is None or self._clock.now() - self._purged_at >= PURGE_EVERY:
            self._purge()
        self._submit(job)
        return job

    def _purge(self) -> None:
        """Everyone's jobs finished longer than the retention ago go."""
        now = self._clock.now()
        self._purged_at = now
        purged = self.store.purge_finished(before=now - self._retention)
        if purged:
            log.info("%d search jobs finished over %s ago deleted", purged, self._retention)

    def _new_job(self, data: JobCreate, *, owner: str) -> Job:
        return Job(
            id=uuid.uuid4().hex,
            owner=owner,
            query=data.query,
            algorithm=data.algorithm,
            kinds=data.kinds,
            limit=data.limit,
            status=JobStatus.queued,
            created_at=self._clock.now(),
        )

    def get(self, job_id: str, *, owner: JobOwner | None) -> Job:
        """The job, if `owner`'s (an earlier account of its name's is as unknown as a
        missing one); any owner's with none."""
        job = self.store.job(job_id, owner=owner)
        if job is None:
            raise NotFound(f"no search job {job_id!r}")
        return job

    def find(self, query: JobQuery, *, owner: JobOwner | None) -> JobPage:
        return self.store.jobs(query, owner=owner)

    def cancel(self, job_id: str, *, owner: JobOwner | None) -> Job:
        job = self.get(job_id, owner=owner)
        if job.status not in (JobStatus.queued, JobStatus.running):
            raise Conflict(f"job {job_id} is {job.status.value}: nothing to cancel")
        cancelled = job.model_copy(
            update={"status": JobStatus.cancelled, "finished_at": self._clock.now()}
        )
        if not self.store.save_job(cancelled, only_if=_ACTIVE):
            return self.get(job_id, owner=owner)  # it finished meanwhile
        flag = self._cancels.get(job_id)
        if flag is not None:
            flag.set()  # the scan stops before its next page
        return cancelled

    def retry(self, job_id: str, *, owner: JobOwner | None) -> Job:
        job = self.get(job_id, owner=owner)
        if job.status not in (JobStatus.failed, JobStatus.cancelled):
            raise Conflict(f"job {job_id} is {job.status.value}: only a failed one is retried")
        again = job.model_copy(
            update={
                "status": JobStatus.queued,
                "error": None,
                "matched": None,
                "truncated": False,
                "scanned": 0,
                "results": [],
                "started_at": None,
                "finished_at": None,
            }
        )
        with self._lock:
            self._check_quota(owner or self.store.owner_of(job_id) or JobOwner(job.owner))
            if not self.store.save_job(again, only_if=(job.status,)):
                raise Conflict(f"job {job_id} changed meanwhile; look at it again")
        self._submit(again)
        return again

    def _submit(self, job: Job) -> None:
        flag = threading.Event()
        self._cancels[job.id] = flag
        self._pool.submit(self._run, job.id, flag)

    def _run(self, job_id: str, flag: threading.Event) -> None:
        with self._lock:
            self._scanning += 1
        try:
            self._scan(job_id, flag)
        finally:
            with self._lock:
                self._scanning -= 1
            if self._cancels.get(job_id) is flag:
                del self._cancels[job_id]

    def _scan(self, job_id: str, flag: threading.Event) -> None:
        job = self.store.job(job_id)
        if job is None or job.status is not JobStatus.queued or flag.is_set():
            return  # cancelled while queued
        running = job.model_copy(
            update={"status": JobStatus.running, "started_at": self._clock.now()}
        )
        if not self.store.save_job(running, only_if=(JobStatus.queued,)):
            return
        try:
            matches: list[Match] = []
            scanned = 0
            truncated = False
            reported = time.monotonic()
            for page in self.store.pages(job.kinds, size=self._page_size):
                for document in page:
                    if flag.is_set():
                        return  # cancelled (cancel wrote the job's state) or closing
                    scanned += 1
                    found = score(job.algorithm, job.query, document)
                    if found is None:
                        continue
                    matches.append(
                        Match(
                            **document.model_dump(exclude={"id"}),
                            document_id=document.id,
                            score=found,
                        )
                    )
                    if len(matches) >= self._max_matches:
                        truncated = True
                        break
                if truncated:
                    break
                if time.monotonic() - reported >= PROGRESS_EVERY:
                    self.store.progress(job_id, scanned)
                    reported = time.monotonic()
            matches.sort(key=lambda m: (-m.score, m.at), reverse=False)
            finished = running.model_copy(
                update={
                    "status": JobStatus.done,
                    "matched": len(matches),
                    "truncated": truncated,
                    "scanned": scanned,
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
        if not flag.is_set():
            self.store.save_job(finished, only_if=(JobStatus.running,))
