"""A session stopped with attempts in flight, for real: its program ends on its own.

`smsfleet serve` (with a 3 s stop grace) and the gateway simulator run in subprocesses, the
program in GNU screen. The route delivers after a minute, so the program carries one
attempt per test number (five) when the session is stopped. The control plane tells the
program its grace; the program waits for the codes for part of it, reports every attempt
as interrupted and exits with its own code (0), before the supervisor's SIGKILL.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.worker.one_pair import SESSION, open_attempts, start_one_pair
from tests.support.fleet import AT_REST, started_rig
from tests.support.waiting import START_TIMEOUT, eventually

PHONES = [f"+99899123460{n}" for n in range(5)]
GRACE_SECONDS = 3


NEVER_IN_TIME = {
    "latency": {"distribution": "uniform", "min_seconds": 60.0, "max_seconds": 61.0},
    "delivery_probability": 1.0,
    "send_error_rate": 0.0,
    "give_up_after_seconds": 120.0,
}


def test_a_session_stopped_with_attempts_in_flight_exits_on_its_own(tmp_path: Path) -> None:
    env = {"SMSFLEET_STOP_GRACE_SECONDS": str(GRACE_SECONDS)}
    with started_rig(tmp_path, env) as rig, rig.admin() as client:
        start_one_pair(client, rig.simulator_url, NEVER_IN_TIME, PHONES)
        eventually(lambda: len(open_attempts(rig)) == len(PHONES), START_TIMEOUT, "five in flight")
        in_flight = open_attempts(rig)
        response = client.post(f"/api/v1/sessions/{SESSION}/stop", json={"reason": "test"})
        assert response.status_code == 200, response.text

        def at_rest() -> dict[str, object] | None:
            session: dict[str, object] = client.get(f"/api/v1/sessions/{SESSION}").json()
            return session if session["state"] in AT_REST else None

        # The supervisor's stop takes the grace at most (then SIGKILL): 20 s is margin.
        session = eventually(at_rest, 20, "the session to stop")
        log = client.get(f"/api/v1/sessions/{SESSION}/logs", params={"lines": 200}).json()

    lines = "\n".join(log["lines"])
    # Its own exit within the grace, not the supervisor's SIGKILL at its end (-9).
    assert (session["state"], session["last_exit_code"]) == ("stopped", 0), lines
    assert "killed by signal" not in lines
    assert "exited with code 0" in lines
    # Every attempt it carried was reported, as what is known: its code had not come.
    attempts = {a["id"]: a for a in rig.attempts()}
    for trigger_id in in_flight:
        attempt = attempts[trigger_id]
        assert (attempt["outcome"], attempt["error_code"]) == ("error", "interrupted"), attempt
    spool = rig.data_dir / "spool" / SESSION
    assert not any(spool.glob("*.json")), "reports left in the spool"
    assert not any(spool.glob("in-flight/*.json")), "attempts left in the journal"
    # The log says what happened: cut off after part of the grace, reported, exited.
    assert "stopping; 5 attempt(s) in flight wait up to" in lines
    assert "every attempt reported" in lines
