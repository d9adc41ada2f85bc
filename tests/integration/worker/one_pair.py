"""One pair run by one real program, for the tests of attempts in flight: UZ_uzmobile with
five test numbers and program1, its route's delivery set on the simulator, its country's cap
raised so that its session carries one attempt per number, and its session started."""

from __future__ import annotations

import sys
from typing import Any

import httpx

from tests.support.fleet import REPO, Rig
from tests.support.waiting import eventually

SESSION = "program1_UZ_uzmobile"


def start_one_pair(
    client: httpx.Client, simulator_url: str, route: dict[str, Any], phones: list[str]
) -> None:
    httpx.patch(
        f"{simulator_url}/admin/routes/UZ_uzmobile", json=route, timeout=10
    ).raise_for_status()
    response = client.post(
        "/api/v1/programs",
        json={
            "name": "program1",
            "command": [sys.executable, str(REPO / "programs" / "program1.py")],
            "provider": "provider1",
        },
    )
    assert response.status_code == 201, response.text
    assert client.patch("/api/v1/countries/UZ?force=true", json={"cap": 600}).status_code == 200
    response = client.post(
        "/api/v1/pairs",
        json={
            "country": "UZ",
            "operator": "UzMobile",
            "slug": "uzmobile",
            "phone_numbers": phones,
            "programs": ["program1"],
        },
    )
    assert response.status_code == 201, response.text
    eventually(
        lambda: client.get(f"/api/v1/sessions/{SESSION}").status_code == 200, 10, "the session"
    )
    response = client.post(f"/api/v1/sessions/{SESSION}/start", json={"reason": "test"})
    assert response.status_code == 200, response.text


def open_attempts(rig: Rig) -> set[str]:
    return {a["id"] for a in rig.attempts() if a["outcome"] is None}
