"""The search service's own database: the indexed documents and the jobs."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine

from smsfleet.core.sql import LEGACY_SINCE, naive_utc
from smsfleet.search.models import (
    Document,
    DocumentKind,
    Job,
    JobOwner,
    JobPage,
    JobQuery,
    JobStatus,
    JobSummary,
    Newest,
)

__all__ = ["SearchStore"]

metadata = sa.MetaData()

documents_table = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_documents_kind_at", "kind", "at"),
)

jobs_table = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False, index=True),
    # When the owner's account was made: the name and it tell accounts of a name apart.
    sa.Column(
        "owner_since",
        sa.DateTime,
        nullable=False,
        server_default=sa.text("'1970-01-01 00:00:00.000000'"),
    ),
    sa.Column("query", sa.String(200), nullable=False),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("kinds", sa.JSON, nullable=False),
    sa.Column("limit", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("matched", sa.Integer),
    sa.Column("truncated", sa.Boolean, nullable=False, server_default="0"),
    sa.Column("scanned", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.String(512)),
    sa.Column("results", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
)

_TIMES = ("created_at", "started_at", "finished_at")
_ACTIVE = (JobStatus.queued.value, JobStatus.running.value)


def _finished_at() -> sa.ColumnElement[datetime]:
    """When a job finished (one that does not say: when it was made)."""
    table = jobs_table
    return sa.func.coalesce(table.c.finished_at, table.c.created_at, type_=sa.DateTime)


def _upgrade(engine: Engine) -> None:
    """Bring a database made by an earlier version to this schema: the columns added
    since (each with a server default) and the indexes."""
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        indexes = {index["name"] for index in inspector.get_indexes(table.name)}
        with engine.begin() as connection:
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                default = column.server_default
                assert isinstance(default, sa.DefaultClause), column.name
                connection.exec_driver_sql(
                    f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind} "
                    f"NOT NULL DEFAULT {default.arg}"
                )
            for index in table.indexes:
                if index.name not in indexes:
                    index.create(connection)


def _owned_by(owner: JobOwner) -> sa.ColumnElement[bool]:
    """The jobs of `owner`: by its name and its account's creation (a job of an earlier
    account of the name is not its; a job from before jobs said, by when it was made)."""
    table = jobs_table
    named = table.c.owner == owner.name
    if owner.since is None:
        return named
    since = naive_utc(owner.since)
    legacy = sa.and_(table.c.owner_since == LEGACY_SINCE, table.c.created_at >= since)
    return sa.and_(named, sa.or_(table.c.owner_since == since, legacy))


class SearchStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)
        _upgrade(engine)

    def index(self, documents: Sequence[Document]) -> int:
        """Add or replace documents by id."""
        if not documents:
            return 0
        rows = [
            {**d.model_dump(mode="python"), "kind": d.kind.value, "at": naive_utc(d.at)}
            for d in documents
        ]
        insert = sqlite.insert(documents_table)
        upsert = insert.on_conflict_do_update(
            index_elements=[documents_table.c.id],
            set_={name: insert.excluded[name] for name in ("kind", "phone", "text", "at")},
        )
        with self._engine.begin() as connection:
            connection.execute(upsert, rows)
        return len(rows)

    def pages(self, kinds: Sequence[DocumentKind], *, size: int = 500) -> Iterator[list[Document]]:
        """The documents of these kinds, a page of `size` at a time (one query each)."""
        table = documents_table
        last = ""
        while True:
            select = (
                sa.select(table)
                .where(table.c.kind.in_([k.value for k in kinds]), table.c.id > last)
                .order_by(table.c.id)
                .limit(size)
            )
            with self._engine.connect() as connection:
                rows = connection.execute(select).all()
            if not rows:
                return
            yield [Document.model_validate(row._asdict()) for row in rows]
            last = rows[-1].id

    def newest(self) -> Newest:
        table = documents_table
        select = sa.select(table.c.kind, sa.func.max(table.c.at)).group_by(table.c.kind)
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
        return Newest.model_validate({kind: at for kind, at in rows if at is not None})

    def active_jobs(self, owner: JobOwner) -> int:
        """How many of `owner`'s jobs are queued or running."""
        table = jobs_table
        count = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(_owned_by(owner), table.c.status.in_(_ACTIVE))
        )
        with self._engine.connect() as connection:
            return int(connection.execute(count).scalar_one())

    def progress(self, job_id: str, scanned: int) -> None:
        """How far a running job has scanned (nothing once it is no longer running)."""
        table = jobs_table
        update = (
            sa.update(table)
            .where(table.c.id == job_id, table.c.status == JobStatus.running.value)
            .values(scanned=scanned)
        )
        with self._engine.begin() as connection:
            connection.execute(update)

    def add_job(self, job: Job, *, owner_since: datetime | None = None) -> None:
        """Add `job`, made by the account of its owner's name made at `owner_since`."""
        since = LEGACY_SINCE if owner_since is None else naive_utc(owner_since)
        with self._engine.begin() as connection:
            connection.execute(sa.insert(jobs_table).values(**self._values(job), owner_since=since))

    def save_job(
        self,
        job: Job,
        *,
        unless: JobStatus | None = None,
        only_if: Collection[JobStatus] = (),
    ) -> bool:
        """Write `job`; with `unless`, not when its row has that status (e.g. cancelled);
        with `only_if`, only when its row has one of those."""
        update = sa.update(jobs_table).where(jobs_table.c.id == job.id)
        if unless is not None:
            update = update.where(jobs_table.c.status != unless.value)
        if only_if:
            update = update.where(jobs_table.c.status.in_([s.value for s in only_if]))
        with self._engine.begin() as connection:
            return connection.execute(update.values(**self._values(job))).rowcount == 1

    def job(self, job_id: str, *, owner: JobOwner | None = None) -> Job | None:
        """The job, if `owner`'s (any owner's with none)."""
        select = sa.select(jobs_table).where(jobs_table.c.id == job_id)
        if owner is not None:
            select = select.where(_owned_by(owner))
        with self._engine.connect() as connection:
            row = connection.execute(select).mappings().first()
        return None if row is None else Job.model_validate(dict(row))

    def owner_of(self, job_id: str) -> JobOwner | None:
        """Which account made the job (by name alone for a job from before jobs said)."""
        table = jobs_table
        select = sa.select(table.c.owner, table.c.owner_since).where(table.c.id == job_id)
        with self._engine.connect() as connection:
            row = connection.execute(select).first()
        if row is None:
            return None
        name, since = row
        return JobOwner(name, None if since == LEGACY_SINCE else since.replace(tzinfo=UTC))

    def jobs(self, query: JobQuery, *, owner: JobOwner | None) -> JobPage:
        table = jobs_table
        conditions = []
        if owner is not None:
            conditions.append(_owned_by(owner))
        if query.status is not None:
            conditions.append(table.c.status == query.status.value)
        if query.q:
            conditions.append(table.c.query.contains(query.q, autoescape=True))
        if query.since is not None:
            conditions.append(table.c.created_at >= naive_utc(query.since))
        columns = [c for c in table.c if c.name not in ("results", "owner_since")]
        select = (
            sa.select(*columns)
            .where(*conditions)
            .order_by(table.c.created_at.desc(), table.c.id)
            .offset(query.offset)
            .limit(query.limit)
        )
        count = sa.select(sa.func.count()).select_from(table).where(*conditions)
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
            total = int(connection.execute(count).scalar_one())
        return JobPage(
            items=[JobSummary.model_validate(dict(row)) for row in rows],
            total=total,
            offset=query.offset,
            limit=query.limit,
        )

    def drop_finished(self, owner: JobOwner, *, keep: int) -> int:
        """Delete `owner`'s finished jobs, with their results, but the `keep` that finished
        last, in one statement; how many went. Queued and running ones stay."""
        table = jobs_table
        finished = sa.and_(_owned_by(owner), table.c.status.not_in(_ACTIVE))
        kept = (
            sa.select(table.c.id)
            .where(finished)
            .order_by(_finished_at().desc(), table.c.id.desc())
            .limit(keep)
        )
        delete = sa.delete(table).where(finished, table.c.id.not_in(kept))
        with self._engine.begin() as connection:
            return connection.execute(delete).rowcount

    def purge_finished(self, *, before: datetime) -> int:
        """Delete everyone's jobs that finished before `before`, in one statement; how many
        went."""
        table = jobs_table
        delete = sa.delete(table).where(
            table.c.status.not_in(_ACTIVE), _finished_at() < naive_utc(before)
        )
        with self._engine.begin() as connection:
            return connection.execute(delete).rowcount

    def unfinished(self) -> list[Job]:
        select = sa.select(jobs_table).where(jobs_table.c.status.in_(_ACTIVE))
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        return [Job.model_validate(dict(row)) for row in rows]

    @staticmethod
    def _values(job: Job) -> dict[str, Any]:
        values = job.model_dump(mode="json")
        for name in _TIMES:
            values[name] = naive_utc(getattr(job, name))
        return values
