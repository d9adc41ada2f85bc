"""GET /api/v1/audit page by page: the body stays a list of entries, and the `Link` and
`X-Next-Before` headers say where the next page starts; the retention job, as the
control plane runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from smsfleet.audit import service
from smsfleet.audit.models import Actor, AuditAction
from smsfleet.auth.models import Role
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock

ADMIN = Actor(username="admin", role=Role.admin)


def add_entries(api: Api, count: int, *, start: datetime, at_once: int = 4) -> list[str]:
    """`count` country entries, `at_once` in each millisecond: their ids, newest first."""
    clock = FakeClock(start)
    made = []
    for n in range(count):
        clock.set_elapsed(n // at_once)
        made.append(
            service.record(
                api.store.audit,
                clock,
                ADMIN,
                AuditAction.country_updated,
                "IN",
                before=None,
                after=None,
            )
        )
    return [e.id for e in sorted(made, key=lambda e: (e.at, e.id), reverse=True)]


def read_pages(api: Api, url: str) -> list[list[dict[str, Any]]]:
    """Every page, following each answer's `Link` to the next."""
    pages = []
    next_url: str | None = url
    while next_url is not None:
        response = api.client.get(next_url, headers=api.headers())
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("Link")
        cursor = response.headers.get("X-Next-Before")
        if link is None:
            assert cursor is None
            next_url = None
        else:
            target, _, rel = link.partition(";")
            assert rel.strip() == 'rel="next"'
            next_url = target.strip().removeprefix("<").removesuffix(">")
            assert next_url.startswith("/api/v1/audit?") and f"before={cursor}" in next_url
    return pages


def test_pages_of_ten_give_all_25_entries_once_in_order(api: Api) -> None:
    wanted = add_entries(api, 25, start=datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    pages = read_pages(api, "/api/v1/audit?limit=10&target_kind=country")
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [entry["id"] for page in pages for entry in page] == wanted
    assert all(entry["target_kind"] == "country" for page in pages for entry in page)


def test_a_page_with_no_older_entry_names_no_next(api: Api) -> None:
    add_entries(api, 3, start=datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    response = api.client.get("/api/v1/audit", headers=api.headers())
    assert response.status_code == 200, response.text
    assert len(response.json()) == 3
    assert "Link" not in response.headers and "X-Next-Before" not in response.headers


def test_a_time_range_is_kept_page_after_page(api: Api) -> None:
    start = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    ids = add_entries(api, 24, start=start)  # 4 a millisecond: start + 0 .. 5 ms
    # Offsets of any zone, and no offset read as UTC.
    since = (start + timedelta(milliseconds=1)).astimezone(timezone(timedelta(hours=5)))
    until = (start + timedelta(milliseconds=5)).replace(tzinfo=None)
    query = urlencode({"limit": 5, "since": since.isoformat(), "until": until.isoformat()})
    pages = read_pages(api, f"/api/v1/audit?{query}")
    assert [len(page) for page in pages] == [5, 5, 5, 1]
    # Newest first: the 4 of 5 ms are out, as are the 4 of 0 ms.
    assert [entry["id"] for page in pages for entry in page] == ids[4:20]


def test_a_time_range_out_of_order_or_out_of_bounds_is_a_422_naming_it(api: Api) -> None:
    for params, field in (
        ({"since": "2026-01-05T12:00:00Z", "until": "2026-01-05T11:00:00Z"}, "until"),
        ({"since": "2026-01-05T12:00:00Z", "until": "2026-01-05T12:00:00Z"}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"until": "9999-01-01T00:00:00Z"}, "until"),
    ):
        response = api.client.get("/api/v1/audit", params=params, headers=api.headers())
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert field in [detail["field"] for detail in error["details"]], (params, error)


def test_a_bad_cursor_is_a_422_naming_before(api: Api) -> None:
    for cursor in ("nonsense", "MTIz", "x" * 200):
        response = api.client.get("/api/v1/audit", params={"before": cursor}, headers=api.headers())
        assert response.status_code == 422, (cursor, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert "before" in [detail["field"] for detail in error["details"]], error


def test_the_retention_job_deletes_only_entries_past_the_retention(tmp_path: Path) -> None:
    with running_api(tmp_path, audit_retention_days=30) as api:
        now = api.clock.now()
        old = add_entries(api, 7, start=now - timedelta(days=31))
        kept = add_entries(api, 5, start=now - timedelta(days=29))
        api.services.retention["audit"].job.run_once()
        left = api.client.get("/api/v1/audit", headers=api.headers()).json()
        assert [entry["id"] for entry in left] == kept
        assert not set(old) & {entry["id"] for entry in left}
