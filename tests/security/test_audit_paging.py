"""The audit log's pages are an admin's only: a cursor opens nothing to anyone else, and
says nothing of the log to them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsfleet.audit import service
from smsfleet.audit.models import Actor, AuditAction
from smsfleet.auth.models import Role
from tests.support.api import Api
from tests.support.fakes import FakeClock


@pytest.mark.parametrize("role", [Role.viewer, Role.operator])
def test_a_cursor_gets_no_one_but_an_admin_a_page(api: Api, role: Role) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    admin = Actor(username="admin", role=Role.admin)
    for _ in range(3):
        clock.advance(1)
        service.record(
            api.store.audit,
            clock,
            admin,
            AuditAction.country_updated,
            "IN",
            before=None,
            after=None,
        )
    first = api.client.get("/api/v1/audit", params={"limit": 1}, headers=api.headers())
    assert first.status_code == 200, first.text
    cursor = first.headers["X-Next-Before"]
    for before in (cursor, "not-a-cursor", "x" * 500):
        refused = api.client.get(
            "/api/v1/audit", params={"limit": 1, "before": before}, headers=api.headers(role)
        )
        assert refused.status_code == 403, (before, refused.text)
        assert refused.json()["error"]["code"] == "forbidden"
        assert "Link" not in refused.headers and "X-Next-Before" not in refused.headers
    anonymous = api.client.get("/api/v1/audit", params={"before": cursor})
    assert anonymous.status_code == 401
