"""`ConfigStore.one_read`: a block of reads looks for changes once, for every table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from smsfleet.pairs.models import Country
from smsfleet.programs.models import Program
from smsfleet.stores import ConfigStore, open_config_store


@pytest.fixture(params=["sqlite", "mariadb"])
def url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "empty_mariadb_url"
    found: str = request.getfixturevalue(fixture)
    return found


@pytest.fixture
def store(url: str) -> Iterator[ConfigStore]:
    opened = open_config_store(url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def other(url: str, store: ConfigStore) -> Iterator[ConfigStore]:
    """Another process's store on the same database (`store` migrated it)."""
    opened = open_config_store(url, upgrade=False)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def revision_lookups() -> Iterator[list[str]]:
    """Every statement that reads the revisions, on any engine, while the test runs."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "store_revisions" in statement:
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", note)


def program(name: str) -> Program:
    at = datetime(2026, 12, 3, tzinfo=UTC)
    return Program(name=name, command=["/bin/true"], created_at=at, updated_at=at)


def seed(store: ConfigStore) -> None:
    store.countries.add(Country(code="UZ", name="Uzbekistan", cap=10))
    store.programs.add(program("program1"))


def test_a_block_looks_the_revisions_up_once_for_all_its_reads(
    store: ConfigStore, revision_lookups: list[str]
) -> None:
    seed(store)
    revision_lookups.clear()
    store.countries.get("UZ")
    store.programs.get("program1")
    store.countries.list()
    assert len(revision_lookups) == 3  # outside a block: one for each read

    revision_lookups.clear()
    with store.one_read():
        assert store.countries.get("UZ") is not None
        assert store.programs.get("program1") is not None
        with store.one_read():  # nested: the outer block's lookup
            assert [c.code for c in store.countries.list()] == ["UZ"]
    assert len(revision_lookups) == 1


def test_a_block_sees_its_own_writes_and_others_in_the_next_block(
    store: ConfigStore, other: ConfigStore
) -> None:
    seed(store)
    with store.one_read():
        assert store.countries.get("UZ") == Country(code="UZ", name="Uzbekistan", cap=10)
        other.countries.replace(Country(code="UZ", name="Uzbekistan", cap=20))
        other.programs.add(program("program2"))
        # A table the block has read stays as it read it: another process's changes
        # wait for the next block.
        assert store.countries.get("UZ").cap == 10  # type: ignore[union-attr]
        # Its own write is seen at once, and so is what changed before it.
        store.programs.add(program("program3"))
        assert store.programs.get("program3") is not None
        assert store.countries.get("UZ").cap == 20  # type: ignore[union-attr]
    with store.one_read():
        assert store.programs.get("program2") is not None
    # Outside a block, every read sees the latest.
    other.countries.replace(Country(code="UZ", name="Uzbekistan", cap=30))
    assert store.countries.get("UZ").cap == 30  # type: ignore[union-attr]
