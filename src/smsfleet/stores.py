"""The config store: every feature's records on the backend the URL names."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from smsfleet.apikeys.models import ApiKey
from smsfleet.apikeys.store import API_KEYS_COLLECTION, api_keys_table
from smsfleet.audit.models import AuditEvent
from smsfleet.audit.store import (
    AUDIT_EVENTS_COLLECTION,
    AUDIT_EVENTS_INDEXES,
    audit_events_table,
)
from smsfleet.auth.models import Login, RevokedSession, User
from smsfleet.auth.store import (
    LOGINS_COLLECTION,
    LOGINS_INDEXES,
    REVOKED_SESSIONS_COLLECTION,
    USERS_COLLECTION,
    logins_table,
    revoked_sessions_table,
    users_table,
)
from smsfleet.core.errors import ConfigurationError
from smsfleet.core.mongo import (
    MongoEventLog,
    MongoRecordStore,
    open_mongo_database,
    start_revisions,
)
from smsfleet.core.records import E, EventLog, R, RecordStore
from smsfleet.core.revisions import Revisions
from smsfleet.core.sql import (
    SqlEventLog,
    SqlRecordStore,
    create_sql_engine,
    upgrade_config_schema,
)
from smsfleet.messages.models import Template
from smsfleet.messages.store import TEMPLATES_COLLECTION, templates_table
from smsfleet.pairs.models import Country, Pair
from smsfleet.pairs.store import (
    COUNTRIES_COLLECTION,
    PAIRS_COLLECTION,
    PAIRS_INDEXES,
    countries_table,
    pairs_table,
)
from smsfleet.programs.models import Program
from smsfleet.programs.store import PROGRAMS_COLLECTION, programs_table
from smsfleet.sessions.models import SessionEvent, SessionSpec, SessionStatus
from smsfleet.sessions.store import (
    SESSION_EVENTS_COLLECTION,
    SESSION_EVENTS_INDEXES,
    SESSION_SPECS_COLLECTION,
    SESSION_STATUS_COLLECTION,
    session_events_table,
    session_specs_table,
    session_status_table,
)

__all__ = ["ConfigStore", "open_config_store"]


class OneRead(Protocol):
    def __call__(self, max_age: float = 0.0) -> AbstractContextManager[None]: ...


@dataclass(frozen=True)
class ConfigStore:
    backend: str
    users: RecordStore[User]
    revoked_sessions: RecordStore[RevokedSession]
    logins: RecordStore[Login]
    countries: RecordStore[Country]
    pairs: RecordStore[Pair]
    programs: RecordStore[Program]
    session_specs: RecordStore[SessionSpec]
    session_status: RecordStore[SessionStatus]
    session_events: EventLog[SessionEvent]
    api_keys: RecordStore[ApiKey]
    templates: RecordStore[Template]
    audit: EventLog[AuditEvent]
    ping: Callable[[], None]
    close: Callable[[], None]
    # A block of reads that look for changes once, together: `with store.one_read():`;
    # `one_read(max_age)` may reuse this process's look of up to `max_age` seconds ago.
    one_read: OneRead


def backend_name(url: str) -> str:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    names = {"sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql", "mongodb": "mongodb"}
    if scheme not in names:
        raise ConfigurationError(
            f"unsupported store URL scheme {scheme!r}: use sqlite:///…, "
            "mysql+pymysql://… or mongodb://…"
        )
    return names[scheme]


class _Records(Protocol):
    def __call__(
        self, table: sa.Table, collection: str, model: type[R], key: str, /
    ) -> RecordStore[R]: ...


class _Events(Protocol):
    def __call__(self, table: sa.Table, collection: str, model: type[E], /) -> EventLog[E]: ...


def _config_store(
    backend: str,
    *,
    records: _Records,
    events: _Events,
    ping: Callable[[], None],
    close: Callable[[], None],
    one_read: OneRead,
) -> ConfigStore:
    """Every feature's store, each made by the backend's `records` or `events` from its
    SQL table and its MongoDB collection."""
    return ConfigStore(
        backend=backend,
        users=records(users_table, USERS_COLLECTION, User, "username"),
        revoked_sessions=records(
            revoked_sessions_table, REVOKED_SESSIONS_COLLECTION, RevokedSession, "session"
        ),
        logins=records(logins_table, LOGINS_COLLECTION, Login, "session"),
        countries=records(countries_table, COUNTRIES_COLLECTION, Country, "code"),
        pairs=records(pairs_table, PAIRS_COLLECTION, Pair, "key"),
        programs=records(programs_table, PROGRAMS_COLLECTION, Program, "name"),
        session_specs=records(session_specs_table, SESSION_SPECS_COLLECTION, SessionSpec, "name"),
        session_status=records(
            session_status_table, SESSION_STATUS_COLLECTION, SessionStatus, "name"
        ),
        session_events=events(session_events_table, SESSION_EVENTS_COLLECTION, SessionEvent),
        api_keys=records(api_keys_table, API_KEYS_COLLECTION, ApiKey, "id"),
        templates=records(templates_table, TEMPLATES_COLLECTION, Template, "id"),
        audit=events(audit_events_table, AUDIT_EVENTS_COLLECTION, AuditEvent),
        ping=ping,
        close=close,
        one_read=one_read,
    )


def open_config_store(url: str, *, upgrade: bool = True) -> ConfigStore:
    """Connect to the config store; with `upgrade`, bring its schema or indexes up to date."""
    backend = backend_name(url)
    if backend == "mongodb":
        return _open_mongo(url, upgrade=upgrade)
    engine = create_sql_engine(url)
    if upgrade:
        upgrade_config_schema(engine)

    def ping() -> None:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    revisions = Revisions()

    def records(table: sa.Table, _: str, model: type[R], key: str) -> RecordStore[R]:
        return SqlRecordStore(engine, table, model, key, revisions=revisions)

    def events(table: sa.Table, _: str, model: type[E]) -> EventLog[E]:
        return SqlEventLog(engine, table, model)

    return _config_store(
        backend,
        records=records,
        events=events,
        ping=ping,
        close=engine.dispose,
        one_read=revisions.one_read,
    )


def _open_mongo(url: str, *, upgrade: bool) -> ConfigStore:
    client, database = open_mongo_database(url)
    if upgrade:
        database[PAIRS_COLLECTION].create_index(PAIRS_INDEXES)
        # MongoDB drops a revoked session itself once its tokens would have expired. That
        # leaves the revision as it was: a kept listing may still hold the session until
        # the next revocation, which is harmless, as its tokens are refused as expired.
        database[REVOKED_SESSIONS_COLLECTION].create_index("expires_at", expireAfterSeconds=0)
        database[LOGINS_COLLECTION].create_index("expires_at", expireAfterSeconds=0)
        for keys in LOGINS_INDEXES:
            database[LOGINS_COLLECTION].create_index(keys)
        for keys in SESSION_EVENTS_INDEXES:
            database[SESSION_EVENTS_COLLECTION].create_index(keys)
        for keys in AUDIT_EVENTS_INDEXES:
            database[AUDIT_EVENTS_COLLECTION].create_index(keys)

    def ping() -> None:
        client.admin.command("ping")

    revisions = Revisions()
    collections: list[str] = []

    def records(_: sa.Table, name: str, model: type[R], key: str) -> RecordStore[R]:
        collections.append(name)
        return MongoRecordStore(database[name], model, key, revisions=revisions)

    def events(_: sa.Table, name: str, model: type[E]) -> EventLog[E]:
        return MongoEventLog(database[name], model)

    store = _config_store(
        "mongodb",
        records=records,
        events=events,
        ping=ping,
        close=client.close,
        one_read=revisions.one_read,
    )
    if upgrade:
        start_revisions(database, collections)
    return store
