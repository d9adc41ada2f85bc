"""Integers and times out of a store's range are a 422 naming the parameter, never a 5xx.

The search service and its gateway first, then every other route that takes a time,
a day or an offset in its query.
"""

from __future__ import annotations

import httpx
import pytest

from smsfleet.auth.models import Role
from tests.integration.api.conftest import Api
from tests.integration.search.conftest import SEARCH_TOKEN
from tests.support.servers import ThreadedServer

HUGE = str(2**70)  # past SQLite's INTEGER (2**63 - 1)
FIRST_DAY, LAST_DAY = "0001-01-01", "9999-12-31"

SEARCH = [
    ({"offset": HUGE}, "offset"),
    ({"offset": str(2**63)}, "offset"),
    ({"limit": HUGE}, "limit"),
    ({"since": f"{FIRST_DAY}T00:00:00Z"}, "since"),
    ({"since": f"{LAST_DAY}T23:59:59Z"}, "since"),
    ({"since": f"{FIRST_DAY}T00:00:00+14:00"}, "since"),
]


@pytest.mark.parametrize(("params", "field"), SEARCH)
def test_the_gateway_refuses_what_the_search_store_cannot_hold(
    gateway_api: Api, params: dict[str, str], field: str
) -> None:
    answer = gateway_api.client.get(
        "/api/v1/search/jobs", params=params, headers=gateway_api.headers(Role.viewer)
    )
    assert answer.status_code == 422, answer.text
    assert field in {d["field"] for d in answer.json()["error"]["details"]}


@pytest.mark.parametrize(("params", "field"), SEARCH)
def test_the_search_service_refuses_it_too(
    search_server: ThreadedServer, params: dict[str, str], field: str
) -> None:
    answer = httpx.get(
        f"{search_server.url}/v1/jobs",
        params=params,
        headers={"Authorization": f"Bearer {SEARCH_TOKEN}"},
    )
    assert answer.status_code == 422, answer.text
    assert field in {d["field"] for d in answer.json()["error"]["details"]}


def test_a_page_far_out_but_in_range_is_empty(gateway_api: Api) -> None:
    answer = gateway_api.client.get(
        "/api/v1/search/jobs", params={"offset": 1_000_000}, headers=gateway_api.headers()
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == []


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/alerts", {"since": f"{FIRST_DAY}T00:00:00Z"}, "since"),
        ("/api/v1/alerts", {"since": f"{LAST_DAY}T23:59:59Z"}, "since"),
        ("/api/v1/analytics/usage", {"end_date": FIRST_DAY}, "end_date"),
        ("/api/v1/analytics/usage/daily", {"start_date": LAST_DAY}, "start_date"),
        ("/api/v1/metrics/summary", {"end": f"{FIRST_DAY}T00:00:00"}, "end"),
        ("/api/v1/metrics/timeseries", {"end": f"{FIRST_DAY}T00:00:00"}, "end"),
        ("/api/v1/metrics/export", {"end": f"{FIRST_DAY}T00:00:00"}, "end"),
        ("/api/v1/metrics/summary", {"start": f"{FIRST_DAY}T00:00:00+01:00"}, "start"),
        (
            "/api/v1/metrics/summary",
            {"start": f"{LAST_DAY}T00:00:00", "end": f"{LAST_DAY}T23:00:00"},
            "start",
        ),
    ],
)
def test_times_and_days_out_of_range_are_refused_everywhere(
    api: Api, path: str, params: dict[str, str], field: str
) -> None:
    answer = api.client.get(path, params=params, headers=api.headers())
    assert answer.status_code == 422, answer.text
    assert field in {d["field"] for d in answer.json()["error"]["details"]}
