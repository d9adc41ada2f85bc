"""The metrics reads run on a few threads of their own, and one user has only so many of
them under way: a flood of 30-day heatmaps waits its turn there, not in the threads every
other route shares, and one user's flood does not hold another's reads back without end."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI

from smsfleet.auth.models import Role
from smsfleet.core.heavy_reads import HeavyReads, Place
from smsfleet.sessions.views import LOG_READ_THREADS
from tests.support.api import Api, running_api

HEATMAP = "/api/v1/metrics/heatmap?window=30d"
WAIT = 10.0


def _heavy_reads(api: Api) -> HeavyReads:
    app = api.client.app
    assert isinstance(app, FastAPI), app
    reads: HeavyReads = app.state.heavy_reads
    return reads


def _waiting(api: Api) -> int:
    portal = api.client.portal
    assert portal is not None
    statistics = portal.call(_heavy_reads(api).threads.statistics)
    return int(statistics.tasks_waiting)


def _until_waiting(api: Api, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while _waiting(api) < count:
        assert time.monotonic() < deadline, f"{count} reads never came to wait"
        time.sleep(0.01)


def _until_under_way(api: Api, user: str, count: int) -> None:
    portal = api.client.portal
    assert portal is not None
    deadline = time.monotonic() + WAIT
    while portal.call(_under_way, _heavy_reads(api), user) < count:
        assert time.monotonic() < deadline, f"{user} never had {count} reads under way"
        time.sleep(0.01)


async def _under_way(reads: HeavyReads, user: str) -> int:
    return reads.under_way(user)


def test_reads_wait_for_their_own_threads_and_a_user_past_their_share_is_refused(
    tmp_path: Path,
) -> None:
    with running_api(tmp_path, metrics_read_threads=1, metrics_reads_per_user=2) as api:
        viewer = api.headers(Role.viewer)
        made = api.client.post(
            "/api/v1/auth/api-keys", json={"name": "the viewer's"}, headers=viewer
        )
        assert made.status_code == 201, made.text
        viewer_key = {"X-API-Key": made.json()["key"]}
        expected = api.client.get(HEATMAP, headers=viewer)
        assert expected.status_code == 200, expected.text

        portal = api.client.portal
        assert portal is not None
        threads = _heavy_reads(api).threads
        holder = object()  # a read that takes long: the reads' only thread
        portal.call(threads.acquire_on_behalf_of, holder)
        answers: dict[str, Any] = {}

        def read(name: str, headers: dict[str, str]) -> None:
            answers[name] = api.client.get(HEATMAP, headers=headers)

        asking = [
            threading.Thread(target=read, args=(name, headers), daemon=True)
            for name, headers in (
                ("viewer's token", viewer),
                ("viewer's key", viewer_key),
                ("admin", api.headers(Role.admin)),
            )
        ]
        try:
            for thread in asking[:2]:
                thread.start()
            # One read of the viewer's waits for the thread, the other behind it.
            _until_under_way(api, Role.viewer.value, 2)
            assert _waiting(api) == 1
            # The viewer has two under way (token and key alike): a third is refused.
            refused = api.client.get(HEATMAP, headers=viewer)
            assert refused.status_code == 429, refused.text
            assert refused.headers["Retry-After"] == "1"
            error = refused.json()["error"]
            assert error["code"] == "too_many_requests"
            assert (
                "2 heavy reads of yours (metrics, templates, the policy's standing) are under way"
                in error["message"]
            )
            # Another user's read waits its turn; the other routes are answered meanwhile.
            asking[2].start()
            _until_waiting(api, 2)  # the viewer's first and the admin's
            assert api.client.get("/api/v1/pairs", headers=viewer).status_code == 200
            assert api.client.get("/api/v1/sessions", headers=viewer).status_code == 200
            assert answers == {}, "a read did not wait for the heavy reads' threads"
        finally:
            portal.call(threads.release_on_behalf_of, holder)
        for thread in asking:
            thread.join(WAIT)
        assert {name: answer.status_code for name, answer in answers.items()} == {
            "viewer's token": 200,
            "viewer's key": 200,
            "admin": 200,
        }
        # The answer is the one the route gave before, byte for byte.
        assert {answer.content for answer in answers.values()} == {expected.content}
        assert answers["admin"].headers["content-type"] == "application/json"
        # Answered, the viewer's places are theirs again.
        assert api.client.get(HEATMAP, headers=viewer).status_code == 200


def test_an_answer_not_read_holds_its_users_place_until_sent(tmp_path: Path) -> None:
    """A reader that does not read its answers pins at most their share of them: each
    holds a place until the answer is sent, and one more read is refused meanwhile."""
    with running_api(tmp_path, metrics_read_threads=1, metrics_reads_per_user=1) as api:
        viewer = api.headers(Role.viewer)
        app = api.client.app
        portal = api.client.portal
        assert portal is not None
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/v1/metrics/heatmap",
            "raw_path": b"/api/v1/metrics/heatmap",
            "query_string": b"window=30d",
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"authorization", viewer["Authorization"].encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent: list[dict[str, Any]] = []
        reading = threading.Event()  # the reader reads: the body's send returns

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body":
                while not reading.is_set():  # as a send waits for a full socket to drain
                    await anyio.sleep(0.01)

        async def ask() -> None:
            await app(scope, receive, send)  # type: ignore[arg-type]

        asked = portal.start_task_soon(ask)
        try:
            deadline = time.monotonic() + WAIT
            while not any(m["type"] == "http.response.body" for m in sent):
                assert time.monotonic() < deadline, "the answer was never sent"
                time.sleep(0.01)
            # Made, not read: the viewer's only place is held, another user is answered.
            refused = api.client.get(HEATMAP, headers=viewer)
            assert refused.status_code == 429, refused.text
            assert api.client.get(HEATMAP, headers=api.headers(Role.admin)).status_code == 200
        finally:
            reading.set()
        asked.result(WAIT)
        assert sent[0]["status"] == 200
        assert api.client.get(HEATMAP, headers=viewer).status_code == 200


@pytest.mark.parametrize(
    "listing",
    [
        # Up to 500 templates of 21 bodies each: megabytes.
        "/api/v1/messages/templates",
        # Each pair's window read and judged: tens of milliseconds of CPU each.
        "/api/v1/policy/standing",
    ],
)
def test_the_heavy_listings_are_heavy_reads(tmp_path: Path, listing: str) -> None:
    """A viewer's flood of them waits on the heavy reads' threads and is refused past their
    share, as metrics are, rather than starve the programs' leases of the process."""
    with running_api(tmp_path, metrics_read_threads=1, metrics_reads_per_user=1) as api:
        viewer = api.headers(Role.viewer)
        assert api.client.get(listing, headers=viewer).json() == []
        portal = api.client.portal
        assert portal is not None
        place = portal.call(_admit, _heavy_reads(api), Role.viewer.value)
        try:
            refused = api.client.get(listing, headers=viewer)
            assert refused.status_code == 429, refused.text
            assert "1 heavy reads of yours" in refused.json()["error"]["message"]
        finally:
            portal.call(_release, place)
        assert api.client.get(listing, headers=viewer).status_code == 200


async def _admit(reads: HeavyReads, user: str) -> Place:
    return reads.admit(user)


async def _release(place: Place) -> None:
    place.release()


def test_session_logs_are_read_on_threads_of_their_own_two_at_once_per_user(
    tmp_path: Path,
) -> None:
    """A log on another host is an ssh round trip and an agent started there: a viewer's
    flood of log reads (45 agents at once, the API 20 s slow) waits on the log reads' own
    threads, two of theirs at a time, the rest refused, while every other route answers."""
    logs = "/api/v1/sessions/program1_UZ_ucell/logs?lines=5000"
    with running_api(tmp_path) as api:
        viewer, admin = api.headers(Role.viewer), api.headers(Role.admin)
        assert api.client.get(logs, headers=viewer).status_code == 404  # no such session
        app = api.client.app
        assert isinstance(app, FastAPI), app
        reads: HeavyReads = app.state.log_reads
        portal = api.client.portal
        assert portal is not None
        places = [portal.call(_admit, reads, Role.viewer.value) for _ in range(2)]
        try:
            refused = api.client.get(logs, headers=viewer)
            assert refused.status_code == 429, refused.text
            assert (
                "2 session log reads of yours are under way" in (refused.json()["error"]["message"])
            )
        finally:
            for place in places:
                portal.call(_release, place)
        # Every log thread taken: a read waits for one, the other routes are answered.
        holders = [object() for _ in range(LOG_READ_THREADS)]
        for holder in holders:
            portal.call(reads.threads.acquire_on_behalf_of, holder)
        answers: list[int] = []
        asking = threading.Thread(
            target=lambda: answers.append(api.client.get(logs, headers=admin).status_code),
            daemon=True,
        )
        try:
            asking.start()
            deadline = time.monotonic() + WAIT
            while int(portal.call(reads.threads.statistics).tasks_waiting) < 1:
                assert time.monotonic() < deadline, "the log read never came to wait"
                time.sleep(0.01)
            assert api.client.get("/api/v1/pairs", headers=viewer).status_code == 200
            assert answers == [], "a log read did not wait for the log reads' threads"
        finally:
            for holder in holders:
                portal.call(reads.threads.release_on_behalf_of, holder)
        asking.join(WAIT)
        assert answers == [404]
