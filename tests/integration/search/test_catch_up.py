"""Nothing is lost to a restart: on start the control plane indexes again what the
search index lacks (since its newest document), from the attempts and the messages."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.auth.models import Role
from smsfleet.search.gateway import SearchFeeder
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock
from tests.support.search import SEARCH_TOKEN
from tests.support.servers import ThreadedServer
from tests.support.waiting import eventually


def report(api: Api, attempt_id: str, error_code: str) -> None:
    """As the dispatcher does: the attempt is kept in the ledger, then the feeder told."""
    attempt = Attempt(
        id=attempt_id,
        session="program3_UZ_uzmobile",
        pair="UZ_uzmobile",
        country="UZ",
        operator="uzmobile",
        program="program3",
        phone="+998901234567",
        leased_at=api.clock.now(),
        completed_at=api.clock.now(),
        outcome=Outcome.send_failed,
        error_code=error_code,
    )
    dispatcher = api.services.dispatcher
    dispatcher.attempts.add(attempt)
    assert dispatcher.on_report is not None  # wired: to the search feeder and metrics
    dispatcher.on_report(attempt)


def receive(api: Api, text: str) -> None:
    body = {
        "senderPhone": "+998901112233",
        "receiverPhone": "+998901234567",
        "messageText": text,
        "timestamp": api.clock.now().isoformat(),
        "uuid": str(uuid.uuid4()),
    }
    answer = api.client.post("/api/receive-sms", json=body, headers=api.headers(Role.operator))
    assert answer.status_code in (200, 201), answer.text


def found(api: Api, query: str) -> list[str]:
    headers = api.headers(Role.admin)

    def create() -> dict[str, Any] | None:
        # A search service busy indexing the backlog may not answer in the gateway's
        # time: a 503 with retry_after, as a client would see it, so ask again.
        answer = api.client.post(
            "/api/v1/search/jobs", json={"query": query, "algorithm": "fulltext"}, headers=headers
        )
        assert answer.status_code in (202, 503), answer.text
        job: dict[str, Any] = answer.json()
        return job if answer.status_code == 202 else None

    created = eventually(create, 30, "the search service to take the job")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.client.get(
            f"/api/v1/search/jobs/{created['id']}", headers=headers
        ).json()
        if job["status"] == "done":
            return sorted(m["text"] for m in job["results"])
        time.sleep(0.05)
    raise AssertionError("the job never finished")


def caught_up(api: Api) -> SearchFeeder:
    feeder: SearchFeeder = api.services.search_feeder
    deadline = time.monotonic() + 10
    while feeder.behind:
        assert time.monotonic() < deadline, "the feeder never caught up"
        time.sleep(0.05)
    return feeder


def test_what_search_missed_is_searchable_after_restarts(
    tmp_path: Path, search_server: ThreadedServer
) -> None:
    shared = {
        "search_url": search_server.url,
        "search_token": SEARCH_TOKEN,
        "breaker_reset_seconds": 0.2,
        "metrics_url": f"sqlite:///{tmp_path / 'metrics.db'}",
    }
    (tmp_path / "first").mkdir()
    with running_api(tmp_path / "first", **shared) as api:
        feeder = caught_up(api)
        report(api, "a" * 32, "BEFORE")
        feeder.flush()
        assert found(api, "BEFORE") == ["UZ_uzmobile program3 send_failed BEFORE"]
        assert isinstance(api.clock, FakeClock)
        api.clock.advance(3600)  # well past the overlap the catch-up starts before

        # Recorded while the search service is down: it stays in the feeder's queue...
        search_server.stop()
        report(api, "b" * 32, "WHILEDOWN")
        receive(api, "sent while search was down")
        time.sleep(1.2)  # the feeder tried (and waits)
        # ...and left there: the feeder stops before search is back.
        feeder.close()
        search_server.start()
        report(api, "c" * 32, "UNFLUSHED")
        receive(api, "still in the feeder at the stop")
    # The control plane stops with all of that unindexed; it comes back.
    (tmp_path / "second").mkdir()
    with running_api(tmp_path / "second", **shared) as api:
        caught_up(api)
        assert found(api, "WHILEDOWN") == ["UZ_uzmobile program3 send_failed WHILEDOWN"]
        assert found(api, "UNFLUSHED") == ["UZ_uzmobile program3 send_failed UNFLUSHED"]
        assert found(api, "search was down") == [
            "+998901112233 +998901234567 sent while search was down"
        ]
        assert found(api, "feeder stop") == [
            "+998901112233 +998901234567 still in the feeder at the stop"
        ]
        # Restarted again: caught up once more, each document indexed once (by id).
    (tmp_path / "third").mkdir()
    with running_api(tmp_path / "third", **shared) as api:
        caught_up(api)
        assert len(found(api, "UZ_uzmobile")) == 3


def test_the_search_service_down_at_start_is_caught_up_once_it_is_back(
    tmp_path: Path, search_server: ThreadedServer
) -> None:
    shared = {
        "search_url": search_server.url,
        "search_token": SEARCH_TOKEN,
        "breaker_reset_seconds": 0.2,
        "metrics_url": f"sqlite:///{tmp_path / 'metrics.db'}",
    }
    (tmp_path / "first").mkdir()
    with running_api(tmp_path / "first", **shared) as api:
        caught_up(api).close()
        report(api, "d" * 32, "EARLIER")  # left in the feeder
    search_server.stop()
    (tmp_path / "second").mkdir()
    with running_api(tmp_path / "second", **shared) as api:
        feeder: SearchFeeder = api.services.search_feeder
        time.sleep(1.2)
        assert feeder.behind  # it could not catch up yet
        search_server.start()
        caught_up(api)
        assert found(api, "EARLIER") == ["UZ_uzmobile program3 send_failed EARLIER"]


def test_without_a_search_service_no_document_is_made(tmp_path: Path) -> None:
    """Search off: a report feeds nothing (no document made and kept for no index), and
    its figures are recorded all the same."""
    with running_api(tmp_path) as api:
        report(api, uuid.uuid4().hex, "E_ROUTE")
        feeder: SearchFeeder = api.services.search_feeder
        assert feeder.queued == 0
        now = api.clock.now()
        window = {
            "start": (now - timedelta(minutes=5)).isoformat(),
            "end": (now + timedelta(minutes=1)).isoformat(),
        }
        summary = api.client.get(
            "/api/v1/metrics/summary", params=window, headers=api.headers(Role.viewer)
        )
        assert summary.status_code == 200, summary.text
        assert summary.json()["totals"]["send_failed"] == 1
