"""What the Alembic migrations build on SQL backends, read back by inspection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from pydantic import BaseModel
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine

from smsfleet.auth.models import User
from smsfleet.core.sql import MIGRATIONS_DIR
from smsfleet.pairs.models import Country, Pair
from smsfleet.programs.models import Program
from smsfleet.stores import open_config_store

TABLES: dict[str, tuple[type[BaseModel], str]] = {
    "users": (User, "username"),
    "countries": (Country, "code"),
    "pairs": (Pair, "key"),
    "programs": (Program, "name"),
}
NULLABLE = {
    "countries": {"previous_cap", "cap_changed_at"},
    "pairs": {
        "region",
        "state_reason",
        "state_actor",
        "state_changed_at",
        "pause_threshold",
        "resume_threshold",
    },
}
DATETIME_COLUMNS = {
    "users": {"created_at", "updated_at"},
    "countries": {"cap_changed_at"},
    "pairs": {"state_changed_at", "created_at", "updated_at"},
    "programs": {"created_at", "updated_at"},
}
JSON_COLUMNS = {"pairs": {"phone_numbers", "programs"}, "programs": {"command"}}


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@pytest.fixture(params=["sqlite", "mariadb"])
def migrated_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a fresh SQL database that `open_config_store` has just migrated."""
    fixture = "sqlite_url" if request.param == "sqlite" else "empty_mariadb_url"
    url: str = request.getfixturevalue(fixture)
    store = open_config_store(url)
    store.close()
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_tables_and_version(migrated_engine: Engine) -> None:
    inspector = sa.inspect(migrated_engine)
    # Later revisions add other features' tables; these are the contract's own.
    assert {"alembic_version", *TABLES} <= set(inspector.get_table_names())
    with migrated_engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    assert [row[0] for row in versions] == [head_revision()]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_columns_match_the_model(migrated_engine: Engine, table: str) -> None:
    model, key = TABLES[table]
    inspector = sa.inspect(migrated_engine)
    columns = {column["name"]: column for column in inspector.get_columns(table)}
    assert set(columns) == set(model.model_fields)
    nullable = {name for name, column in columns.items() if column["nullable"]}
    assert nullable == NULLABLE.get(table, set())
    assert inspector.get_pk_constraint(table)["constrained_columns"] == [key]


def test_pairs_reference_countries(migrated_engine: Engine) -> None:
    inspector = sa.inspect(migrated_engine)
    foreign_keys = inspector.get_foreign_keys("pairs")
    assert [
        (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
        for fk in foreign_keys
    ] == [(["country"], "countries", ["code"])]
    indexes = {index["name"]: index for index in inspector.get_indexes("pairs")}
    assert indexes["ix_pairs_country"]["column_names"] == ["country"]


def test_ended_logins_and_revoked_sessions_are_found_by_index(migrated_engine: Engine) -> None:
    """A login or logout removes those that ended, and a login counts its user's, each
    through an index, not by reading the table."""
    inspector = sa.inspect(migrated_engine)
    logins = {index["name"]: index["column_names"] for index in inspector.get_indexes("logins")}
    assert logins["ix_logins_expires_at"] == ["expires_at"]
    assert logins["ix_logins_username_expires_at"] == ["username", "expires_at"]
    revoked = {
        index["name"]: index["column_names"] for index in inspector.get_indexes("revoked_sessions")
    }
    assert revoked["ix_revoked_sessions_expires_at"] == ["expires_at"]


def test_mariadb_column_types(empty_mariadb_url: str) -> None:
    open_config_store(empty_mariadb_url).close()
    engine = sa.create_engine(empty_mariadb_url)
    try:
        inspector = sa.inspect(engine)
        for table in TABLES:
            options = inspector.get_table_options(table)
            # Keys compare exactly (no case folding, no padding) and sort by code point.
            assert options["mysql_collate"] == "utf8mb4_nopad_bin", table
            assert options["mysql_default charset"] == "utf8mb4", table
            types = {column["name"]: column["type"] for column in inspector.get_columns(table)}
            for name in DATETIME_COLUMNS.get(table, set()):
                column_type = types[name]
                assert isinstance(column_type, mysql.DATETIME), (table, name)
                assert column_type.fsp == 6, (table, name)
            for name in JSON_COLUMNS.get(table, set()):
                # MariaDB's JSON is LONGTEXT checked by JSON_VALID.
                assert isinstance(types[name], mysql.LONGTEXT | sa.JSON), (table, name)
        pair_types = {column["name"]: column["type"] for column in inspector.get_columns("pairs")}
        assert isinstance(pair_types["pause_threshold"], mysql.DOUBLE)
        assert isinstance(pair_types["resume_threshold"], mysql.DOUBLE)
        assert isinstance(pair_types["is_high_priority"], mysql.TINYINT | sa.Boolean)

        with engine.connect() as connection:
            checks = connection.execute(
                sa.text(
                    "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
                    " WHERE CONSTRAINT_SCHEMA = DATABASE()"
                )
            ).all()
        clauses = {(str(table), str(clause).replace("`", "")) for table, clause in checks}
        for table, names in JSON_COLUMNS.items():
            for name in names:
                assert (table, f"json_valid({name})") in clauses, (table, name, clauses)
    finally:
        engine.dispose()
