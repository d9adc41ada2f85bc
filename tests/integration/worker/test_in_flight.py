"""Attempts in flight, for real: a program carrying five, killed with -9 and restarted.

`smsfleet serve` and the gateway simulator run in subprocesses, the program in GNU screen.
The route delivers after 3 s, so a session at 600/min holds one attempt per test number
(five) while it waits for their codes. The program is killed with SIGKILL mid-wait; the
supervisor restarts it, and the restarted program picks its attempts up from its
in-flight journal: each still gets the outcome the gateway gave it, none is given up as
expired, and no SMS is sent twice.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import httpx

from tests.support.fleet import (
    REPO,
    STOP_TIMEOUT,
    Rig,
    rig,
    stop_sessions,
)
from tests.support.waiting import START_TIMEOUT, eventually

__all__ = ["rig"]  # the fixture

PHONES = [f"+99899123450{n}" for n in range(5)]
SESSION = "program1_UZ_uzmobile"


def _seed(client: httpx.Client, simulator_url: str) -> None:
    slow = {
        "latency": {"distribution": "uniform", "min_seconds": 3.0, "max_seconds": 3.2},
        "delivery_probability": 1.0,
        "send_error_rate": 0.0,
        "give_up_after_seconds": 30.0,
    }
    httpx.patch(
        f"{simulator_url}/admin/routes/UZ_uzmobile", json=slow, timeout=10
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
    assert client.patch("/api/v1/countries/UZ", json={"cap": 600}).status_code == 200
    response = client.post(
        "/api/v1/pairs",
        json={
            "country": "UZ",
            "operator": "UzMobile",
            "slug": "uzmobile",
            "phone_numbers": PHONES,
            "programs": ["program1"],
        },
    )
    assert response.status_code == 201, response.text
    eventually(
        lambda: client.get(f"/api/v1/sessions/{SESSION}").status_code == 200, 10, "the session"
    )
    response = client.post(f"/api/v1/sessions/{SESSION}/start", json={"reason": "test"})
    assert response.status_code == 200, response.text


def _open(rig: Rig) -> set[str]:
    return {a["id"] for a in rig.attempts() if a["outcome"] is None}


def test_a_program_killed_with_five_in_flight_loses_and_doubles_nothing(rig: Rig) -> None:
    with rig.admin() as client:
        _seed(client, rig.simulator_url)
        eventually(lambda: len(_open(rig)) == len(PHONES), START_TIMEOUT, "five in flight")
        # Once sent, an attempt waits 3 s for its code: kill while all five wait.
        time.sleep(0.5)
        in_flight = _open(rig)
        pid = client.get(f"/api/v1/sessions/{SESSION}").json()["pid"]
        assert pid, "the session's program has no pid"
        os.kill(pid, signal.SIGKILL)

        def restarted() -> bool:
            session = client.get(f"/api/v1/sessions/{SESSION}").json()
            return bool(session["state"] == "running" and session["pid"] not in (None, pid))

        eventually(restarted, START_TIMEOUT, "the program restarted")
        eventually(lambda: not (in_flight & _open(rig)), 30, "the killed run's attempts reported")
        stop_sessions(client, timeout=STOP_TIMEOUT)

    attempts = {a["id"]: a for a in rig.attempts()}
    truth = rig.truth()
    triggers = [record["trigger_id"] for record in truth]
    assert len(triggers) == len(set(triggers)), "an SMS was sent twice"
    assert set(triggers) <= set(attempts), "an SMS was sent without a lease"
    for trigger_id in in_flight:
        attempt = attempts[trigger_id]
        # Sent before the kill: its code arrived and the restarted program reported it.
        assert (attempt["outcome"], attempt["error_code"]) == ("delivered", None), attempt
    spool = rig.data_dir / "spool" / SESSION
    assert not any(spool.glob("*.json")), "reports left in the spool"
    assert not any(spool.glob("rejected/*")), "a report was refused"
    assert not any(spool.glob("in-flight/*.json")), "attempts left in the journal"
