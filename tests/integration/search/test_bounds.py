"""Integers and times out of a store's range are a 422 naming the parameter, never a 5xx.

The search service and its gateway first, then every other route that takes a time,
a day or an offset in its query.
"""

from __future__ import annotations

import httpx
import httpx2

from smsfleet.auth.models import Role
from tests.support.api import Api
from tests.support.search import SEARCH_TOKEN
from tests.support.servers import ThreadedServer

HUGE = str(2**70)  # past SQLite's INTEGER (2**63 - 1)
FIRST_DAY, LAST_DAY = "0001-01-01", "9999-12-31"
CONVERSATION = "/api/v1/messages/conversations/+998901234567"

SEARCH = [
    ({"offset": HUGE}, "offset"),
    ({"offset": str(2**63)}, "offset"),
    ({"limit": HUGE}, "limit"),
    ({"since": f"{FIRST_DAY}T00:00:00Z"}, "since"),
    ({"since": f"{LAST_DAY}T23:59:59Z"}, "since"),
    ({"since": f"{FIRST_DAY}T00:00:00+14:00"}, "since"),
]


def refused(answer: httpx.Response | httpx2.Response, field: str) -> bool:
    """A 422 naming `field`; `answer` from httpx, or httpx2 that Starlette's TestClient uses."""
    fields = {d["field"] for d in answer.json()["error"]["details"]}
    return answer.status_code == 422 and field in fields


def test_the_gateway_and_the_search_service_refuse_what_the_store_cannot_hold(
    gateway_api: Api, search_server: ThreadedServer
) -> None:
    service = {"Authorization": f"Bearer {SEARCH_TOKEN}"}
    for params, field in SEARCH:
        answer = gateway_api.client.get(
            "/api/v1/search/jobs", params=params, headers=gateway_api.headers(Role.viewer)
        )
        assert refused(answer, field), (params, answer.text)
        direct = httpx.get(f"{search_server.url}/v1/jobs", params=params, headers=service)
        assert refused(direct, field), (params, direct.text)
    far = gateway_api.client.get(
        "/api/v1/search/jobs", params={"offset": 1_000_000}, headers=gateway_api.headers()
    )
    assert (far.status_code, far.json()["items"]) == (200, []), far.text


def test_times_and_days_out_of_range_are_refused_everywhere(api: Api) -> None:
    for path, params, field in [
        ("/api/v1/alerts", {"since": f"{FIRST_DAY}T00:00:00Z"}, "since"),
        ("/api/v1/alerts", {"since": f"{LAST_DAY}T23:59:59Z"}, "since"),
        ("/api/v1/analytics/usage", {"end_date": FIRST_DAY}, "end_date"),
        ("/api/v1/analytics/usage/daily", {"start_date": LAST_DAY}, "start_date"),
        ("/api/v1/metrics/summary", {"end": f"{FIRST_DAY}T00:00:00"}, "end"),
        ("/api/v1/metrics/timeseries", {"end": f"{FIRST_DAY}T00:00:00"}, "end"),
        ("/api/v1/metrics/export", {"end": f"{FIRST_DAY}T00:00:00"}, "end"),
        ("/api/v1/metrics/summary", {"start": f"{FIRST_DAY}T00:00:00+01:00"}, "start"),
        (CONVERSATION, {"before": f"{LAST_DAY}T23:59:59-14:00"}, "before"),
        (CONVERSATION, {"before": f"{FIRST_DAY}T00:00:00+14:00"}, "before"),
        (CONVERSATION, {"before": f"{LAST_DAY}T23:59:59Z"}, "before"),
        ("/api/v1/policy/decisions", {"since": f"{LAST_DAY}T23:59:59Z"}, "since"),
        ("/api/v1/policy/decisions", {"since": f"{FIRST_DAY}T00:00:00Z"}, "since"),
        (
            "/api/v1/metrics/summary",
            {"start": f"{LAST_DAY}T00:00:00", "end": f"{LAST_DAY}T23:00:00"},
            "start",
        ),
    ]:
        answer = api.client.get(path, params=params, headers=api.headers())
        assert refused(answer, field), (path, params, answer.text)
