"""SQL backend (SQLite embedded default, MySQL/MariaDB in production) via SQLAlchemy 2."""

from __future__ import annotations

import builtins
import functools
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_jsonable_python
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from smsfleet.core.errors import Conflict, NotFound
from smsfleet.core.nonblocking import may_block
from smsfleet.core.records import E, EventKey, R
from smsfleet.core.revisions import Listing, Revision, Revisions, Snapshot

config_metadata = sa.MetaData()

# One counter per record table, bumped in the same transaction as every write to it:
# a reader that finds the counter unchanged may reuse what it read before.
store_revisions_table = sa.Table(
    "store_revisions",
    config_metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("revision", sa.BigInteger, nullable=False),
)
metrics_metadata = sa.MetaData()

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
METRICS_MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "metrics_migrations"
CONFIG_VERSION_TABLE = "alembic_version"
# Its own version table: the config and metrics stores may share one database.
METRICS_VERSION_TABLE = "alembic_version_metrics"

# Microsecond DATETIME on MySQL; SQLite keeps the full value as text.
DateTimeColumn = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def table_options(bind: sa.engine.Connection) -> dict[str, Any]:
    """Options for migrations' tables: keys compare and sort byte for byte everywhere.

    As on SQLite and MongoDB: no case folding and, on MariaDB, no trailing-space
    padding (MySQL before 8.0 has no NO PAD binary utf8mb4 collation: `utf8mb4_bin`).
    """
    dialect = bind.dialect
    if dialect.name not in ("mysql", "mariadb"):
        return {}
    # A `mysql+pymysql://` URL names the dialect "mysql" even on a MariaDB server.
    collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_bin"
    return {"mysql_charset": "utf8mb4", "mysql_collate": collation}


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# As many as the request threads (anyio's default limit is 40).
SQL_POOL_SIZE = 40
# A pooled MySQL connection unused this long is checked before it is used again.
IDLE_CHECK_SECONDS = 1.0


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for another database or one in memory."""
    if not url.startswith("sqlite"):
        return None
    database = sa.engine.make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def create_sql_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the dashboard read while the supervisor writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # Every request thread may hold a connection (the limiter holds one while it
    # waits for its country's lock): a pool smaller than the threads would open and
    # close a connection per request beyond it, which costs more than the request.
    parsed = sa.engine.make_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.host in LOOPBACK_HOSTS and not any(name.startswith("ssl") for name in parsed.query):
        # TLS to this machine's own server protects nothing, and where it may be used the
        # driver builds a TLS context (every CA read again) for each new connection.
        connect_args["ssl_disabled"] = True
    engine = sa.create_engine(
        url,
        connect_args=connect_args,
        pool_recycle=3600,
        pool_size=SQL_POOL_SIZE,
        max_overflow=10,
        # Every use goes through a Connection, which ends its transaction itself (commit,
        # or a rollback on close): the pool's own rollback on return would be a third
        # round trip for each transaction.
        pool_reset_on_return=None,
        # Set once per connection. Every statement sees what was committed before it:
        # the limiter's decision, made under its country's row lock, must read the
        # grants committed by the one before, and a level set per transaction would be
        # a round trip more for each (REPEATABLE READ, the server's default, reads from
        # a snapshot).
        isolation_level="READ COMMITTED",
    )

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # A connection that sat idle may have been closed by the server (a restart, its
        # wait_timeout): asked first, and replaced if so. One in constant use is not
        # asked each time, a round trip per transaction otherwise.
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_CHECK_SECONDS:
            return
        try:
            dbapi_connection.ping(reconnect=False)
        except Exception as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc

    return engine


def database_identity(engine: Engine) -> str:
    """What names the database `engine` reaches, whatever the URL spells: its file on
    SQLite; the server's host name and port and the schema on MySQL. Every replica of a
    fleet reaches the same one."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ":memory:"
        return f"sqlite:{Path(database).resolve() if database != ':memory:' else database}"
    with engine.connect() as connection:
        host, port, schema = connection.execute(
            sa.text("SELECT @@hostname, @@port, DATABASE()")
        ).one()
    return f"mysql:{host}:{port}/{schema}"


def fleet_prefix(engine: Engine) -> str:
    """The prefix of a fleet's keys and channels in Redis, named after the metrics
    database `engine` reaches: the replicas of one fleet share them, another fleet (or
    test run) on the same Redis does not."""
    identity = database_identity(engine).encode()
    return f"smsfleet:{hashlib.sha256(identity).hexdigest()[:12]}"


def upgrade_config_schema(engine: Engine) -> None:
    """Apply the Alembic migrations of the config store up to head."""
    _upgrade(engine, MIGRATIONS_DIR, CONFIG_VERSION_TABLE)


def upgrade_metrics_schema(engine: Engine) -> None:
    """Apply the Alembic migrations of the metrics store up to head."""
    _upgrade(engine, METRICS_MIGRATIONS_DIR, METRICS_VERSION_TABLE)


@functools.cache
def _heads(directory: Path) -> frozenset[str]:
    """The head revisions of a migrations directory, its scripts read once a process."""
    return frozenset(ScriptDirectory(str(directory)).get_heads())


def _upgrade(engine: Engine, directory: Path, version_table: str) -> None:
    with engine.begin() as connection:
        migrated = MigrationContext.configure(connection, opts={"version_table": version_table})
        if frozenset(migrated.get_current_heads()) == _heads(directory):
            return  # at head already: every process after the first, each command run
        cfg = Config()
        cfg.set_main_option("script_location", str(directory))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def open_metrics_engine(url: str) -> Engine:
    """An engine on the metrics store, its schema migrated to head."""
    engine = create_sql_engine(url)
    try:
        upgrade_metrics_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def aware_utc(value: datetime) -> datetime:
    """What SQL columns hold (naive UTC), read back as aware UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The `owner_since` of a row written before rows said which account of their owner's name
# made them (usage rows, of which also those of no account: authentication failed; search
# jobs, each then taken for the account of that name made at or before it).
LEGACY_SINCE = datetime(1970, 1, 1)


@overload
def naive_utc(value: datetime) -> datetime: ...
@overload
def naive_utc(value: None) -> None: ...
@overload
def naive_utc(value: Any) -> Any: ...
def naive_utc(value: Any) -> Any:
    """What SQL columns hold: naive UTC (values of other types pass through)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


_RACE_TRIES = 3
_MYSQL_DEADLOCK = 1213
_T = TypeVar("_T")


def in_transaction_again_on_race(engine: Engine, work: Callable[[sa.Connection], _T]) -> _T:
    """`work` in one transaction; run again (three tries in all) when another process
    inserted one of its new keys meanwhile, since the next run reads that row, or when
    MariaDB chose this transaction as a deadlock's victim (rolled back whole: its advice
    is to run it again)."""
    for _ in range(_RACE_TRIES - 1):
        try:
            with engine.begin() as connection:
                return work(connection)
        except IntegrityError:
            continue
        except OperationalError as error:
            if not _is_deadlock(error):
                raise
    with engine.begin() as connection:
        return work(connection)


def _is_deadlock(error: OperationalError) -> bool:
    code = error.orig.args[0] if error.orig is not None and error.orig.args else None
    return code == _MYSQL_DEADLOCK


def _values(table: sa.Table, record: BaseModel) -> dict[str, Any]:
    """Column values of a record; JSON columns get JSON-ready values (dates as text)."""
    python, as_json = record.model_dump(), record.model_dump(mode="json")
    return {
        name: as_json[name] if isinstance(table.c[name].type, sa.JSON) else naive_utc(value)
        for name, value in python.items()
    }


def _value(column: sa.Column[Any], value: object) -> object:
    """What `column` holds for `value`, as `_values` writes it."""
    return to_jsonable_python(value) if isinstance(column.type, sa.JSON) else naive_utc(value)


def _millisecond_of(value: datetime) -> datetime:
    """The start of the millisecond `value` reads back as, as SQL columns hold it."""
    return naive_utc(value).replace(microsecond=value.microsecond - value.microsecond % 1000)


def _reads_as(column: sa.Column[Any], value: object) -> sa.ColumnElement[bool]:
    """`column` holds what reads back as `value`. A time is read to the millisecond
    (`Timestamp`), and a row written with a finer one (microseconds, as MariaDB and SQLite
    keep them) still reads as it: equal to that millisecond, not to the microsecond."""
    if not isinstance(value, datetime):
        return column == value
    start = _millisecond_of(value)
    return sa.and_(column >= start, column < start + timedelta(milliseconds=1))


def _reads_before(column: sa.Column[Any], value: object) -> sa.ColumnElement[bool]:
    """`column` holds what reads back as before `value` (a time: its millisecond)."""
    if not isinstance(value, datetime):
        return column < value
    return column < _millisecond_of(value)


def _reads_at_or_before(column: sa.Column[Any], value: object) -> sa.ColumnElement[bool]:
    """`column` holds what reads back as `value` or before it."""
    if not isinstance(value, datetime):
        return column <= value
    return column < _millisecond_of(value) + timedelta(milliseconds=1)


class SqlRecordStore(Generic[R]):
    """`RecordStore` over one table whose columns are the model's fields.

    Reads, one record or all, are served from the last full listing while the
    table's revision is unchanged (one indexed lookup instead of reading and
    validating rows), so the supervisor's tick, the dashboard's listings and every
    lease stay cheap at fleet scale.
    Records are values: callers change them with `model_copy`, never in place.
    """

    def __init__(
        self,
        engine: Engine,
        table: sa.Table,
        model: type[R],
        key: str,
        *,
        revisions: Revisions | None = None,
    ) -> None:
        self._engine = engine
        # Shared by the stores of one database, for their `one_read` blocks.
        self._revisions = revisions or Revisions()
        self._table = table
        self._model = model
        self._many = TypeAdapter(list[model])  # type: ignore[valid-type]
        self._key = table.c[key]
        self._key_name = key
        self._listing: Listing[R] = Listing(key)
        column = store_revisions_table.c
        self._look_up_all = sa.select(column.name, column.revision)
        self._revision_query = sa.select(column.revision).where(column.name == table.name)
        self._bump = (
            sa.update(store_revisions_table)
            .where(column.name == table.name)
            .values(revision=column.revision + 1)
        )

    @contextmanager
    def _lazily(self) -> Iterator[Callable[[], sa.Connection]]:
        """A connection opened at its first use, if any: a read served from memory (a
        block's young look, a kept listing) opens none."""
        with ExitStack() as stack:
            opened: list[sa.Connection] = []

            def connection() -> sa.Connection:
                if not opened:
                    may_block()
                    opened.append(stack.enter_context(self._engine.connect()))
                return opened[0]

            yield connection

    def _revision(self, connection: Callable[[], sa.Connection]) -> Revision | None:
        def look_up_all() -> dict[str, Revision]:
            return {name: revision for name, revision in connection().execute(self._look_up_all)}

        seen = self._revisions.in_block(look_up_all)
        if seen is not None:
            return seen.get(self._table.name)
        revision = connection().execute(self._revision_query).scalar()
        return None if revision is None else int(revision)

    def _write(
        self,
        connection: sa.Connection,
        statement: sa.Executable,
        rows: list[dict[str, Any]] | None = None,
    ) -> int:
        result = connection.execute(statement, rows)
        self._bump_revision(connection)
        return int(result.rowcount)

    def _bump_revision(self, connection: sa.Connection) -> None:
        if connection.execute(self._bump).rowcount == 0:
            connection.execute(
                sa.insert(store_revisions_table).values(name=self._table.name, revision=1)
            )

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write's transaction; once it ended, this process's reads look again (not
        before its commit: a lookup in between would keep the old revisions)."""
        try:
            with self._engine.begin() as connection:
                yield connection
        finally:
            self._revisions.written()

    def _current(self) -> Snapshot[R]:
        """Every record: the last listing while the table's revision is unchanged."""
        with self._lazily() as connection:

            def read_all() -> list[R]:
                query = sa.select(self._table).order_by(self._key)
                return self._many.validate_python(connection().execute(query).mappings().all())

            return self._listing.current(self._revision(connection), read_all)

    def get(self, key: str) -> R | None:
        # A listing, not the one row: the next gets (a lease reads its session and
        # its pair) are then one revision lookup each until something changes.
        return self._current().by_key.get(key)

    def list(self) -> list[R]:
        return list(self._current().records)

    def add(self, record: R) -> None:
        key = getattr(record, self._key_name)
        try:
            with self._writing() as connection:
                self._write(
                    connection, sa.insert(self._table).values(**_values(self._table, record))
                )
        except IntegrityError as exc:
            raise Conflict(f"{key!r} already exists", details={"key": key}) from exc

    def add_missing(self, records: Sequence[R]) -> int:
        def add(connection: sa.Connection) -> int:
            known = set(connection.execute(sa.select(self._key)).scalars())
            rows = [
                _values(self._table, record)
                for record in records
                if getattr(record, self._key_name) not in known
            ]
            if rows:
                self._write(connection, sa.insert(self._table), rows)
            return len(rows)

        try:
            return in_transaction_again_on_race(self._engine, add)
        finally:
            self._revisions.written()

    def replace(self, record: R) -> None:
        key = getattr(record, self._key_name)
        values = _values(self._table, record)
        with self._writing() as connection:
            changed = self._write(
                connection, sa.update(self._table).where(self._key == key).values(**values)
            )
        if changed == 0:
            raise NotFound(f"{key!r} does not exist", details={"key": key})

    def update(
        self, key: str, changes: Mapping[str, object], *, where: Mapping[str, object]
    ) -> bool:
        column = self._table.c
        statement = (
            sa.update(self._table)
            .where(self._key == key, *(_reads_as(column[name], v) for name, v in where.items()))
            .values({name: _value(column[name], value) for name, value in changes.items()})
        )
        with self._writing() as connection:
            return self._write(connection, statement) > 0

    def delete(self, key: str, *, where: Mapping[str, object] | None = None) -> bool:
        statement = sa.delete(self._table).where(self._key == key, *self._where(where))
        with self._writing() as connection:
            return self._write(connection, statement) > 0

    def _where(self, where: Mapping[str, object] | None) -> builtins.list[sa.ColumnElement[bool]]:
        column = self._table.c
        return [_reads_as(column[name], value) for name, value in (where or {}).items()]

    def first(
        self,
        count: int,
        *,
        order_by: str,
        descending: bool = False,
        where: Mapping[str, object] | None = None,
    ) -> builtins.list[R]:  # `list` in this class is its method
        order = [self._table.c[order_by], self._key]
        query = (
            sa.select(self._table)
            .where(*self._where(where))
            .order_by(*(column.desc() if descending else column for column in order))
            .limit(count)
        )
        may_block()
        with self._engine.connect() as connection:
            return self._many.validate_python(connection.execute(query).mappings().all())

    def delete_up_to(
        self,
        field: str,
        last: object,
        *,
        last_key: str | None = None,
        where: Mapping[str, object] | None = None,
    ) -> int:
        column = self._table.c[field]
        up_to = (
            _reads_at_or_before(column, last)
            if last_key is None
            else sa.or_(
                _reads_before(column, last),
                sa.and_(_reads_as(column, last), self._key <= last_key),
            )
        )
        statement = sa.delete(self._table).where(up_to, *self._where(where))
        with self._writing() as connection:
            removed = int(connection.execute(statement).rowcount)
            if removed:  # nothing removed: every reader's listing still holds
                self._bump_revision(connection)
        return removed


class SqlEventLog(Generic[E]):
    """`EventLog` over one table with `id` and `at` columns."""

    def __init__(self, engine: Engine, table: sa.Table, model: type[E]) -> None:
        self._engine = engine
        self._table = table
        self._model = model

    def append(self, event: E) -> None:
        with self._engine.begin() as connection:
            connection.execute(sa.insert(self._table).values(**_values(self._table, event)))

    def recent(
        self,
        *,
        limit: int,
        older_than: EventKey | None = None,
        since: datetime | None = None,
        **equals: str,
    ) -> list[E]:
        at, key = self._table.c.at, self._table.c.id
        query = sa.select(self._table)
        for name, value in equals.items():
            query = query.where(self._table.c[name] == value)
        if since is not None:
            query = query.where(sa.not_(_reads_before(at, since)))
        if older_than is not None:
            query = query.where(
                sa.or_(
                    _reads_before(at, older_than.at),
                    sa.and_(_reads_as(at, older_than.at), key < older_than.id),
                )
            )
        query = query.order_by(at.desc(), key.desc()).limit(limit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings()
            return [self._model.model_validate(dict(row)) for row in rows]

    def forget_before(self, at: datetime, *, limit: int) -> int:
        if limit <= 0:
            return 0
        when, key = self._table.c.at, self._table.c.id
        older = when < naive_utc(at)
        # The batch's keys, then one DELETE up to its last: MySQL has no LIMIT in a
        # subquery of IN, nor SQLite (as built by most) a DELETE with a LIMIT. None: no
        # write at all.
        batch = sa.select(when, key).where(older).order_by(when, key).limit(limit)
        with self._engine.begin() as connection:
            keys = connection.execute(batch).all()
            if not keys:
                return 0
            last = keys[-1]
            up_to = sa.or_(when < last.at, sa.and_(when == last.at, key <= last.id))
            statement = sa.delete(self._table).where(older, up_to)
            return int(connection.execute(statement).rowcount)


def pages_since(
    engine: Engine,
    select: sa.Select[Any],
    *,
    moment: sa.Column[Any],
    tiebreak: sa.Column[Any],
    since: datetime | None,
    size: int,
) -> Iterator[list[dict[str, Any]]]:
    """The rows of `select` with `moment` since then (None: all), oldest first, in pages
    of `size`, each page read after the last row of the one before (keyset paging)."""
    last: tuple[Any, Any] | None = None
    while True:
        query = select
        if since is not None:
            query = query.where(moment >= naive_utc(since))
        if last is not None:
            at, key = last
            query = query.where(sa.or_(moment > at, sa.and_(moment == at, tiebreak > key)))
        query = query.order_by(moment, tiebreak).limit(size)
        with engine.connect() as connection:
            rows = [dict(row) for row in connection.execute(query).mappings()]
        if not rows:
            return
        yield rows
        last = (rows[-1][moment.name], rows[-1][tiebreak.name])


def delete_oldest(
    engine: Engine,
    table: sa.Table,
    *,
    moment: sa.Column[Any],
    before: datetime,
    limit: int,
    where: sa.ColumnElement[bool] | None = None,
    then: Callable[[sa.Connection, list[Any]], object] | None = None,
) -> int:
    """Delete, in one transaction, the oldest `limit` rows of `table` (by `moment`, then by
    key) from before `before` that match `where`, then do `then` with their keys (rows of
    theirs elsewhere) if any: how many were deleted."""
    (key,) = table.primary_key.columns
    batch = sa.select(key).where(moment < naive_utc(before))
    if where is not None:
        batch = batch.where(where)
    with engine.begin() as connection:
        # The batch's keys, then a DELETE of those: MySQL reads no table in a subquery of
        # a DELETE from it, nor takes a LIMIT in a subquery of IN.
        keys = list(connection.execute(batch.order_by(moment, key).limit(limit)).scalars())
        if keys:
            connection.execute(sa.delete(table).where(key.in_(keys)))
            if then is not None:
                then(connection, keys)
    return len(keys)
