"""The SQL engine's connections to MariaDB on this machine."""

from __future__ import annotations

from smsfleet.core.sql import create_sql_engine, database_identity


def test_a_server_on_this_machine_is_reached_without_tls(empty_mariadb_url: str) -> None:
    """No TLS context per connection for a server on the loopback: it protects nothing."""
    engine = create_sql_engine(empty_mariadb_url)
    try:
        connection = engine.raw_connection()
        try:
            driver = connection.driver_connection
            assert driver is not None
            assert driver.ssl is False and not hasattr(driver, "ctx")
        finally:
            connection.close()
    finally:
        engine.dispose()


def test_the_database_is_named_the_same_whatever_the_url_spells(empty_mariadb_url: str) -> None:
    engines = [
        create_sql_engine(empty_mariadb_url),
        create_sql_engine(empty_mariadb_url.replace("127.0.0.1", "localhost")),
    ]
    try:
        first, second = (database_identity(engine) for engine in engines)
        assert first == second and first.startswith("mysql:")
        assert first.endswith("/" + empty_mariadb_url.rsplit("/", 1)[1].split("?")[0])
    finally:
        for engine in engines:
            engine.dispose()
