"""The audit log on every config store: read page by page, newest first, and its entries
past the retention deleted in batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsfleet.audit import service
from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.auth.models import Role
from smsfleet.core.errors import ValidationFailed
from smsfleet.core.retention import forget_old
from smsfleet.stores import ConfigStore
from tests.support.fakes import FakeClock

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ADMIN = Actor(username="admin", role=Role.admin)


def add_entries(
    store: ConfigStore, count: int, *, at_once: int = 4, start: datetime = START
) -> list[AuditEvent]:
    """`count` entries, `at_once` of them in each millisecond, newest first as the log
    reads them."""
    clock = FakeClock(start)
    made = []
    for n in range(count):
        clock.set_elapsed(n // at_once)
        target = f"pair-{n % 3}"
        made.append(
            service.record(
                store.audit, clock, ADMIN, AuditAction.pair_updated, target, before=None, after=None
            )
        )
    return sorted(made, key=lambda event: (event.at, event.id), reverse=True)


def read_all(
    store: ConfigStore, *, limit: int, target: str | None = None
) -> list[list[AuditEvent]]:
    pages = []
    before = None
    while True:
        page = service.recent(audit=store.audit, limit=limit, before=before, target=target)
        pages.append(page.events)
        if page.next_before is None:
            return pages
        before = page.next_before


def test_pages_give_every_entry_once_newest_first(config_store: ConfigStore) -> None:
    entries = add_entries(config_store, 25)
    pages = read_all(config_store, limit=10)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [event.id for page in pages for event in page] == [event.id for event in entries]


def test_a_page_ending_inside_a_millisecond_goes_on_with_the_rest_of_it(
    config_store: ConfigStore,
) -> None:
    entries = add_entries(config_store, 25, at_once=7)
    pages = read_all(config_store, limit=3)
    assert [event.id for page in pages for event in page] == [event.id for event in entries]
    assert len({event.at for event in entries}) == 4


def test_pages_keep_the_filters(config_store: ConfigStore) -> None:
    entries = add_entries(config_store, 25)
    pages = read_all(config_store, limit=2, target="pair-1")
    wanted = [event.id for event in entries if event.target == "pair-1"]
    assert [event.id for page in pages for event in page] == wanted
    assert len(wanted) == 8 and len(pages) == 4


def test_the_last_page_names_no_next_one(config_store: ConfigStore) -> None:
    add_entries(config_store, 10)
    page = service.recent(audit=config_store.audit, limit=10)
    assert len(page.events) == 10 and page.next_before is None
    assert service.recent(audit=config_store.audit, limit=11).next_before is None
    assert service.recent(audit=config_store.audit, limit=9).next_before is not None


def test_a_time_range_gives_entries_from_since_up_to_before_until_page_by_page(
    config_store: ConfigStore,
) -> None:
    # 30 entries, 3 in each millisecond: START + 0 ms .. START + 9 ms.
    entries = add_entries(config_store, 30, at_once=3)
    since, until = START + timedelta(milliseconds=2), START + timedelta(milliseconds=7)
    wanted = [event.id for event in entries if since <= event.at < until]
    assert len(wanted) == 15
    pages = []
    before = None
    while True:
        page = service.recent(
            audit=config_store.audit, limit=4, before=before, since=since, until=until
        )
        pages.append([event.id for event in page.events])
        if page.next_before is None:
            break
        before = page.next_before
    assert [len(page) for page in pages] == [4, 4, 4, 3]
    assert [key for page in pages for key in page] == wanted
    # Each bound alone, and with another filter.
    later = service.recent(audit=config_store.audit, limit=100, since=until, target="pair-0")
    assert [event.id for event in later.events] == [
        event.id for event in entries if event.at >= until and event.target == "pair-0"
    ]
    earlier = service.recent(audit=config_store.audit, limit=100, until=since)
    assert [event.id for event in earlier.events] == [
        event.id for event in entries if event.at < since
    ]


def test_a_time_range_ending_where_it_starts_is_refused_naming_until() -> None:
    for until in (START, START - timedelta(seconds=1)):
        with pytest.raises(ValidationFailed) as refused:
            service.recent(audit=None, limit=1, since=START, until=until)  # type: ignore[arg-type]
        assert [detail["field"] for detail in refused.value.details] == ["until"]


@pytest.mark.parametrize("cursor", ["", "x", "bm90IGEgY3Vyc29y", "MTIz", "LTEuYWJj", "=="])
def test_a_cursor_not_of_the_log_is_refused_naming_before(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.key_of(cursor)
    assert [detail["field"] for detail in refused.value.details] == ["before"]


def test_entries_past_the_retention_are_deleted_and_newer_ones_kept(
    config_store: ConfigStore,
) -> None:
    old = add_entries(config_store, 23, at_once=5, start=START - timedelta(days=400))
    edge = add_entries(config_store, 2, start=START - timedelta(days=365))
    new = add_entries(config_store, 6, start=START - timedelta(days=364))
    clock = FakeClock(START)
    removed = forget_old(
        config_store.audit.forget_before, clock=clock, retention=timedelta(days=365), batch=5
    )
    assert removed == len(old)
    left = config_store.audit.recent(limit=100)
    assert [event.id for event in left] == [event.id for event in new + edge]


def test_entries_are_forgotten_oldest_first_a_batch_at_a_time(
    config_store: ConfigStore,
) -> None:
    old = add_entries(config_store, 12, at_once=5, start=START - timedelta(days=30))
    assert config_store.audit.forget_before(START, limit=7) == 7
    assert [event.id for event in config_store.audit.recent(limit=100)] == [
        event.id for event in old[:5]
    ]
    assert config_store.audit.forget_before(START, limit=7) == 5
    assert config_store.audit.forget_before(START, limit=7) == 0
