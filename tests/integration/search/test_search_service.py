"""The search service itself: its token, indexing, the three algorithms, jobs and their owners."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support.search import SEARCH_TOKEN
from tests.support.servers import ThreadedServer

DOCUMENTS = [
    {
        "id": "a1",
        "kind": "attempt",
        "phone": "+998901234567",
        "text": "UZ_uzmobile program1 delivered",
        "at": "2026-01-05T10:00:00Z",
    },
    {
        "id": "a2",
        "kind": "attempt",
        "phone": "+998901234568",
        "text": "UZ_uzmobile program2 send_failed ROUTE_ERROR provider2",
        "at": "2026-01-05T10:01:00Z",
    },
    {
        "id": "m1",
        "kind": "message",
        "phone": "+998901234567",
        "text": "Your verification code is 4242",
        "at": "2026-01-05T10:02:00Z",
    },
    {
        "id": "m2",
        "kind": "message",
        "phone": "+380912345678",
        "text": "Ваш код подтверждения 1111",
        "at": "2026-01-05T10:03:00Z",
    },
]


def client(server: ThreadedServer, owner: str | None = "alice") -> httpx.Client:
    headers = {"Authorization": f"Bearer {SEARCH_TOKEN}"}
    if owner is not None:
        headers["X-Owner"] = owner
    return httpx.Client(base_url=server.url, headers=headers, timeout=5)


def run(http: httpx.Client, **body: Any) -> dict[str, Any]:
    created = http.post("/v1/jobs", json=body)
    assert created.status_code == 202, created.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(f"/v1/jobs/{created.json()['id']}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job never finished")


def test_the_token_is_required(search_server: ThreadedServer) -> None:
    assert httpx.get(f"{search_server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{search_server.url}/v1/jobs").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(f"{search_server.url}/v1/jobs", headers=wrong).status_code == 401


def test_three_algorithms(search_server: ThreadedServer) -> None:
    with client(search_server) as http:
        assert http.post("/v1/documents", json={"documents": DOCUMENTS}).json() == {"indexed": 4}
        exact = run(http, query="4242", algorithm="exact")
        assert [m["document_id"] for m in exact["results"]] == ["m1"]
        assert exact["matched"] == 1 and exact["owner"] == "alice"
        fulltext = run(http, query="send_failed provider2", algorithm="fulltext")
        assert [m["document_id"] for m in fulltext["results"]] == ["a2"]
        # Typos still find it, best first.
        fuzzy = run(http, query="verifcation cod", algorithm="fuzzy")
        assert fuzzy["results"][0]["document_id"] == "m1"
        assert 0.8 <= fuzzy["results"][0]["score"] < 1.0
        only_attempts = run(http, query="+998901234567", algorithm="exact", kinds=["attempt"])
        assert [m["document_id"] for m in only_attempts["results"]] == ["a1"]
        unicode = run(http, query="код", algorithm="fulltext")
        assert [m["document_id"] for m in unicode["results"]] == ["m2"]


def test_jobs_belong_to_their_owner_and_page(search_server: ThreadedServer) -> None:
    with client(search_server, "alice") as alice, client(search_server, "bob") as bob:
        ids = [run(alice, query=f"q{n}", algorithm="exact")["id"] for n in range(5)]
        mine = run(bob, query="bob's", algorithm="exact")
        assert alice.get(f"/v1/jobs/{mine['id']}").status_code == 404
        page = alice.get("/v1/jobs", params={"limit": 2, "offset": 1}).json()
        assert page["total"] == 5 and [j["id"] for j in page["items"]] == ids[::-1][1:3]
        found = alice.get("/v1/jobs", params={"q": "q3"}).json()
        assert [j["id"] for j in found["items"]] == [ids[3]]
        assert "results" not in found["items"][0]
        with client(search_server, None) as everyone:
            assert everyone.get("/v1/jobs").json()["total"] == 6
        done = alice.post(f"/v1/jobs/{ids[0]}/cancel")
        assert done.status_code == 409
        retried = alice.post(f"/v1/jobs/{ids[0]}/retry")
        assert retried.status_code == 409  # only failed or cancelled jobs run again
        bad = alice.post("/v1/jobs", json={"query": "", "algorithm": "psychic"})
        assert bad.status_code == 422
