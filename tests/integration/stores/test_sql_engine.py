"""The SQL engine's connections to MariaDB on this machine."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from smsfleet.core.sql import (
    IDLE_CHECK_SECONDS,
    create_sql_engine,
    database_identity,
    in_transaction_again_on_race,
)

_COUNTERS = "SHOW SESSION STATUS WHERE Variable_name IN ('Com_commit', 'Com_rollback')"


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


def _own_counters(engine: sa.Engine) -> tuple[int, dict[str, int]]:
    with engine.begin() as connection:
        identity = connection.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one()
        counters = {name: int(value) for name, value in connection.execute(sa.text(_COUNTERS))}
    return identity, counters


def _failing_work(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("SELECT 1"))
        raise RuntimeError("the work failed")


def test_a_transaction_costs_its_statements_and_a_commit_and_nothing_more(
    empty_mariadb_url: str,
) -> None:
    """A connection back in the pool after its commit is not rolled back again (a round
    trip per transaction, for nothing)."""
    engine = create_sql_engine(empty_mariadb_url)
    try:
        identity, before = _own_counters(engine)
        for _ in range(5):
            with engine.begin() as connection:
                connection.execute(sa.text("SELECT 1"))
        same, after = _own_counters(engine)
        assert same == identity  # one pooled connection did all of it
        assert after["Com_commit"] - before["Com_commit"] == 6  # the five and one reading
        assert after["Com_rollback"] == before["Com_rollback"]
        # A transaction that fails is still rolled back, by the connection itself.
        with pytest.raises(RuntimeError):
            _failing_work(engine)
        assert _own_counters(engine)[1]["Com_rollback"] == before["Com_rollback"] + 1
    finally:
        engine.dispose()


def test_a_connection_the_server_closed_while_idle_is_replaced_unseen(
    empty_mariadb_url: str,
) -> None:
    engine, killer = create_sql_engine(empty_mariadb_url), create_sql_engine(empty_mariadb_url)
    try:
        first, _ = _own_counters(engine)
        with killer.begin() as connection:  # as a server restart or its wait_timeout would
            connection.execute(sa.text(f"KILL CONNECTION {int(first)}"))
        time.sleep(IDLE_CHECK_SECONDS + 0.2)
        second, _ = _own_counters(engine)  # no error: asked before use, and replaced
        assert second != first
    finally:
        engine.dispose()
        killer.dispose()


def test_each_statement_sees_what_was_committed_before_it(empty_mariadb_url: str) -> None:
    """READ COMMITTED, set once per connection: the limiter's decision under its
    country's lock must read the grants the decision before it committed, and no
    transaction spends a round trip setting its level."""
    engine, other = create_sql_engine(empty_mariadb_url), create_sql_engine(empty_mariadb_url)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        with other.begin() as connection:
            connection.execute(sa.text("CREATE TABLE grants (id INT PRIMARY KEY)"))
        with engine.begin() as connection:
            count = sa.text("SELECT COUNT(*) FROM grants")
            assert connection.execute(count).scalar_one() == 0
            with other.begin() as writer:
                writer.execute(sa.text("INSERT INTO grants VALUES (1)"))
            # Under REPEATABLE READ (the server's default) this read the first one's snapshot.
            assert connection.execute(count).scalar_one() == 1
        assert not [s for s in statements if "ISOLATION" in s.upper()]
    finally:
        engine.dispose()
        other.dispose()


def test_a_transaction_chosen_as_a_deadlocks_victim_is_run_again(empty_mariadb_url: str) -> None:
    """MariaDB rolls back the lighter of two transactions locking rows in opposite orders
    (1213); the work is run again, not lost."""
    engine = create_sql_engine(empty_mariadb_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE rows_ (id INT PRIMARY KEY, v INT NOT NULL)"))
        connection.execute(
            sa.text("INSERT INTO rows_ VALUES (:id, 0)"), [{"id": i} for i in range(1, 51)]
        )
    first_row_locked = threading.Event()
    tries: list[int] = []

    def light(connection: sa.Connection) -> None:
        tries.append(len(tries) + 1)
        connection.execute(sa.text("UPDATE rows_ SET v = v + 10 WHERE id = 2"))
        if len(tries) == 1:
            first_row_locked.set()
        connection.execute(sa.text("UPDATE rows_ SET v = v + 10 WHERE id = 1"))

    errors: list[BaseException] = []

    def run_light() -> None:
        try:
            in_transaction_again_on_race(engine, light)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run_light)
    try:
        with engine.connect() as heavy:
            heavy.execute(sa.text("UPDATE rows_ SET v = v + 1 WHERE id <> 2"))
            thread.start()
            assert first_row_locked.wait(10)
            # Mostly the light one waits for row 1 by now; if not yet (a busy server), this
            # update waits for its row 2 first: either way the two deadlock, and the light
            # one is the victim.
            deadline = time.monotonic() + 2
            while not _a_lock_wait(engine) and time.monotonic() < deadline:
                time.sleep(0.01)
            heavy.execute(sa.text("UPDATE rows_ SET v = v + 1 WHERE id = 2"))
            heavy.commit()
        thread.join(10)
        assert not errors, errors[0]
        assert tries == [1, 2]
        with engine.connect() as connection:
            values = {
                row.id: row.v for row in connection.execute(sa.text("SELECT id, v FROM rows_"))
            }
        assert values[1] == values[2] == 11 and values[3] == 1
    finally:
        thread.join(10)
        engine.dispose()


def _a_lock_wait(engine: sa.Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            sa.text(
                "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"
            )
        ).scalar_one()
    return bool(waiting)
