"""`ConfigStore.one_read`: a block of reads looks for changes once, for every table
(collection, on MongoDB)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from smsfleet.core.nonblocking import WouldBlock, nonblocking
from smsfleet.pairs.models import Country
from smsfleet.programs.models import Program
from smsfleet.stores import ConfigStore, open_config_store
from tests.support.statements import after_revision_lookups, revision_lookups


@pytest.fixture
def other(config_store_url: str, config_store: ConfigStore) -> Iterator[ConfigStore]:
    """Another process's store on the same database (`config_store` migrated it)."""
    opened = open_config_store(config_store_url, upgrade=False)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def lookups() -> Iterator[list[int]]:
    with revision_lookups() as seen:
        yield seen


def program(name: str) -> Program:
    at = datetime(2026, 12, 3, tzinfo=UTC)
    return Program(name=name, command=["/bin/true"], created_at=at, updated_at=at)


def seed(config_store: ConfigStore) -> None:
    config_store.countries.add(Country(code="UZ", name="Uzbekistan", cap=10))
    config_store.programs.add(program("program1"))


def test_a_block_looks_the_revisions_up_once_for_all_its_reads(
    config_store: ConfigStore, lookups: list[int]
) -> None:
    seed(config_store)
    lookups.clear()
    config_store.countries.get("UZ")
    config_store.programs.get("program1")
    config_store.countries.list()
    assert len(lookups) == 3  # outside a block: one for each read

    lookups.clear()
    with config_store.one_read():
        assert config_store.countries.get("UZ") is not None
        assert config_store.programs.get("program1") is not None
        with config_store.one_read():  # nested: the outer block's lookup
            assert [c.code for c in config_store.countries.list()] == ["UZ"]
    assert len(lookups) == 1


def test_a_block_sees_its_own_writes_and_others_in_the_next_block(
    config_store: ConfigStore, other: ConfigStore
) -> None:
    seed(config_store)
    with config_store.one_read():
        assert config_store.countries.get("UZ") == Country(code="UZ", name="Uzbekistan", cap=10)
        other.countries.replace(Country(code="UZ", name="Uzbekistan", cap=20))
        other.programs.add(program("program2"))
        # A table the block has read stays as it read it: another process's changes
        # wait for the next block.
        assert config_store.countries.get("UZ").cap == 10  # type: ignore[union-attr]
        # Its own write is seen at once, and so is what changed before it.
        config_store.programs.add(program("program3"))
        assert config_store.programs.get("program3") is not None
        assert config_store.countries.get("UZ").cap == 20  # type: ignore[union-attr]
    with config_store.one_read():
        assert config_store.programs.get("program2") is not None
    # Outside a block, every read sees the latest.
    other.countries.replace(Country(code="UZ", name="Uzbekistan", cap=30))
    assert config_store.countries.get("UZ").cap == 30  # type: ignore[union-attr]


def _in_a_thread(read: Any) -> None:
    thread = threading.Thread(target=read)
    thread.start()
    thread.join()


def test_a_block_with_a_max_age_reuses_the_process_look_while_it_is_younger(
    config_store: ConfigStore, other: ConfigStore, lookups: list[int]
) -> None:
    seed(config_store)

    def look() -> None:
        with config_store.one_read(60):
            assert config_store.countries.get("UZ").cap == 10  # type: ignore[union-attr]

    _in_a_thread(look)  # another thread's block, a moment ago
    other.countries.replace(Country(code="UZ", name="Uzbekistan", cap=20))
    lookups.clear()
    with config_store.one_read(60):
        # Its look is reused: another process's change waits until the look ages.
        assert config_store.countries.get("UZ").cap == 10  # type: ignore[union-attr]
    assert lookups == []

    # A change made by this process is seen at once, with what changed before it.
    config_store.programs.add(program("program2"))
    with config_store.one_read(60):
        assert config_store.programs.get("program2") is not None
        assert config_store.countries.get("UZ").cap == 20  # type: ignore[union-attr]
    assert len(lookups) == 1

    # Once the look is older than a block's max age, that block looks again.
    other.countries.replace(Country(code="UZ", name="Uzbekistan", cap=30))
    time.sleep(0.05)
    with config_store.one_read(0.01):
        assert config_store.countries.get("UZ").cap == 30  # type: ignore[union-attr]
    assert len(lookups) == 2


def test_a_look_that_raced_a_write_of_this_process_is_not_reused(
    config_store: ConfigStore, lookups: list[int]
) -> None:
    """The look read the revisions before the write committed: kept as the latest, it
    would hide this process's own change for the whole max age."""
    seed(config_store)
    wrote: list[str] = []

    def write_meanwhile() -> None:
        if not wrote:
            wrote.append("program2")
            config_store.programs.add(program("program2"))

    with after_revision_lookups(write_meanwhile), config_store.one_read(60):
        config_store.countries.get("UZ")
    assert wrote
    lookups.clear()
    with config_store.one_read(60):
        assert config_store.programs.get("program2") is not None
    assert len(lookups) == 1


def test_a_nonblocking_block_reads_from_memory_or_refuses_before_any_query(
    config_store: ConfigStore, lookups: list[int]
) -> None:
    """The event loop's reads: served from a young look and the kept listings, or refused
    (`WouldBlock`) where a query would come, so the caller reads in a thread instead."""
    seed(config_store)
    with config_store.one_read(60):  # a look, and the listings read and kept
        config_store.countries.get("UZ")
        config_store.programs.get("program1")
    lookups.clear()
    with nonblocking(), config_store.one_read(60):
        assert config_store.countries.get("UZ").cap == 10  # type: ignore[union-attr]
        assert [p.name for p in config_store.programs.list()] == ["program1"]
    assert lookups == []

    config_store.programs.add(program("program2"))  # drops this process's look
    with pytest.raises(WouldBlock), nonblocking(), config_store.one_read(60):
        config_store.countries.get("UZ")
    assert lookups == []
    with config_store.one_read(60):  # a thread's block looks again ...
        config_store.countries.get("UZ")
    with pytest.raises(WouldBlock), nonblocking(), config_store.one_read(60):
        config_store.programs.get("program2")  # ... but its listing changed: a query
    with nonblocking(), pytest.raises(WouldBlock):
        config_store.countries.get("UZ")  # outside a block, each read looks: a query
