"""Changes through the API are bounded per user: an operator's or a `control` key's loop
re-saving a template of 68 KB wrote 300 audit entries (20 MB) in 3.5 s, a loop of pair
edits 100 in 7 s, stops and starts 80 entries and 81 session events in 1.2 s, each kept
a year. One user, with their API keys, makes at most `SMSFLEET_CHANGES_PER_MINUTE`
changes in any minute; the next is a 429 with `Retry-After`, and nothing of it is
written. Reads and logging out spend nothing."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest
from limits import RateLimitItemPerSecond

from smsfleet.auth.changes import ChangeBudget
from smsfleet.auth.models import Role
from smsfleet.core.errors import Throttled
from tests.security.test_programs_trust import api_key, audit
from tests.support.api import running_api

BUDGET = 5
URL = "/api/v1/pairs/UZ_uzmobile"


def test_one_user_makes_at_most_so_many_changes_a_minute(tmp_path: Path) -> None:
    with running_api(tmp_path, changes_per_minute=BUDGET) as api:
        admin = api.headers(Role.admin)
        made = api.client.post(
            "/api/v1/pairs", json={"country": "UZ", "operator": "Uzmobile"}, headers=admin
        )
        assert made.status_code == 201, made.text
        operator = api.headers(Role.operator)
        # The person and their key share one budget.
        key = api_key(api, Role.operator, ["read", "control"])  # a change of its own
        for index, headers in enumerate([operator, key, operator, key]):
            edited = api.client.patch(URL, json={"region": f"r{index}"}, headers=headers)
            assert edited.status_code == 200, edited.text
        for headers in (operator, key):
            refused = api.client.patch(URL, json={"region": "past it"}, headers=headers)
            assert refused.status_code == 429, refused.text
            error = refused.json()["error"]
            assert error["code"] == "too_many_requests"
            assert error["message"] == (
                f"you made {BUDGET} changes in the last 60 s, the most one user may"
                " (SMSFLEET_CHANGES_PER_MINUTE)"
            )
            assert 0 < int(refused.headers["Retry-After"]) <= 60
        # Nothing refused was written: neither the change nor its audit entry.
        assert api.client.get(URL, headers=operator).json()["region"] == "r3"
        assert len(audit(api, action="pair.updated")) == BUDGET - 1
        # Session actions and the seed routes are changes too.
        assert api.client.post("/api/v1/sessions/actions", json={}, headers=key).status_code == 429
        # A change on a path that ends as a logout's is no logout: refused too.
        tricked = api.client.put(
            "/api/v1/messages/templates/logout", json={"name": "x", "body": "y"}, headers=key
        )
        assert tricked.status_code == 429, tricked.text
        # Reads spend nothing; another user has a budget of their own.
        assert api.client.get("/api/v1/pairs", headers=key).status_code == 200
        assert api.client.patch(URL, json={"region": "admin's"}, headers=admin).is_success
        # Logging oneself out everywhere ends a stolen login: never refused. Logging another
        # out is an admin's change, audited every time: counted.
        assert api.client.post("/api/v1/auth/logout-all", headers=operator).status_code == 204
        for _ in range(BUDGET):
            api.client.post("/api/v1/users/viewer/logout", headers=admin)
        refused = api.client.post("/api/v1/users/viewer/logout", headers=admin)
        assert refused.status_code == 429, refused.text


def test_a_budget_frees_a_change_as_the_oldest_leaves_the_window() -> None:
    budget = ChangeBudget(per_minute=2, item=RateLimitItemPerSecond(2))
    budget.spend("alice")
    budget.spend("alice")
    with pytest.raises(Throttled) as refused:
        budget.spend("alice")
    assert refused.value.retry_after == 1
    budget.spend("bob")  # a budget per user
    time.sleep(1.05)
    budget.spend("alice")


def test_replicas_share_one_budget_in_redis(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    one, other = (
        ChangeBudget(per_minute=3, storage_url=redis_url, key_prefix=prefix) for _ in range(2)
    )
    one.spend("alice")
    other.spend("alice")
    one.spend("alice")
    with pytest.raises(Throttled):
        other.spend("alice")


@pytest.mark.parametrize("answers", ["refused", "silent"])
def test_a_redis_that_does_not_answer_lets_changes_through_and_rests(
    caplog: pytest.LogCaptureFixture, answers: str
) -> None:
    """Refused at once, or connected and silent: a second at most, once; the next changes
    go uncounted without asking it again, said once in the log."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections queue, and no one ever answers them
        port = silent.getsockname()[1] if answers == "silent" else 1
        budget = ChangeBudget(per_minute=1, storage_url=f"redis://127.0.0.1:{port}/0")
        started = time.monotonic()
        budget.spend("alice")
        assert time.monotonic() - started < 2.5
        started = time.monotonic()
        for _ in range(5):
            budget.spend("alice")
        assert time.monotonic() - started < 0.1
    assert caplog.text.count("changes not counted for 30 s") == 1


def test_a_template_saved_again_as_it_is_writes_and_audits_nothing(tmp_path: Path) -> None:
    """Each save of a 68 KB template audited it whole, before and after, changed or not."""
    with running_api(tmp_path) as api:
        operator = api.headers(Role.operator)
        body = {"name": "otp", "body": "code {token}", "provider_bodies": {"p1": "c {token}"}}
        made = api.client.post(
            "/api/v1/messages/templates", json={"id": "otp", **body}, headers=operator
        )
        assert made.status_code == 201, made.text
        url = "/api/v1/messages/templates/otp"
        for _ in range(3):
            again = api.client.put(url, json=body, headers=operator)
            assert again.status_code == 200, again.text
            assert again.json() == made.json()
        assert audit(api, action="template.updated") == []
        changed = api.client.put(url, json={**body, "body": "your code {token}"}, headers=operator)
        assert changed.status_code == 200, changed.text
        assert len(audit(api, action="template.updated")) == 1
