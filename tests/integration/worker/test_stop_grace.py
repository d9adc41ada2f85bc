"""A session stopped with SMS awaiting their codes, for real: its program ends on its own,
and its next run reports what became of them.

`smsfleet serve` (with a 3 s stop grace) and the gateway simulator run in subprocesses, the
program in GNU screen. The route delivers after 20 s, so the program carries one attempt
per test number (five) when the session is stopped. The control plane tells the program
its grace; the program waits for the codes for part of it, keeps the five SMS in its
journal (reported as broken off, the slowest SMS would leave the success rates) and exits
with its own code (0), before the supervisor's SIGKILL. Started again, it waits for their
codes and reports them delivered, sending none again.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.worker.one_pair import SESSION, open_attempts, start_one_pair
from tests.support.fleet import AT_REST, started_rig
from tests.support.waiting import START_TIMEOUT, eventually

PHONES = [f"+99899123460{n}" for n in range(5)]
GRACE_SECONDS = 3


DELIVERED_AFTER_20_SECONDS = {
    "latency": {"distribution": "uniform", "min_seconds": 20.0, "max_seconds": 21.0},
    "delivery_probability": 1.0,
    "send_error_rate": 0.0,
    "give_up_after_seconds": 120.0,
}


def test_a_session_stopped_with_sms_awaiting_codes_exits_and_its_next_run_reports_them(
    tmp_path: Path,
) -> None:
    env = {"SMSFLEET_STOP_GRACE_SECONDS": str(GRACE_SECONDS)}
    with started_rig(tmp_path, env) as rig, rig.admin() as client:
        start_one_pair(client, rig.simulator_url, DELIVERED_AFTER_20_SECONDS, PHONES)
        eventually(lambda: len(open_attempts(rig)) == len(PHONES), START_TIMEOUT, "five in flight")
        in_flight = open_attempts(rig)
        response = client.post(f"/api/v1/sessions/{SESSION}/stop", json={"reason": "test"})
        assert response.status_code == 200, response.text

        def at_rest() -> dict[str, object] | None:
            session: dict[str, object] = client.get(f"/api/v1/sessions/{SESSION}").json()
            return session if session["state"] in AT_REST else None

        def lines() -> str:
            log = client.get(f"/api/v1/sessions/{SESSION}/logs", params={"lines": 300}).json()
            return "\n".join(log["lines"])

        # The supervisor's stop takes the grace at most (then SIGKILL): 20 s is margin.
        session = eventually(at_rest, 20, "the session to stop")
        stopped_log = lines()
        # Its own exit within the grace, not the supervisor's SIGKILL at its end (-9).
        assert (session["state"], session["last_exit_code"]) == ("stopped", 0), stopped_log
        assert "killed by signal" not in stopped_log
        assert "exited with code 0" in stopped_log
        # None said broken off: each still open, kept in the journal, no report spooled.
        assert open_attempts(rig) == in_flight
        assert rig.kept_for_next_run() == in_flight
        spool = rig.data_dir / "spool" / SESSION
        assert not any(spool.glob("*.json")), "reports left in the spool"
        assert "stopping; 5 attempt(s) in flight wait up to" in stopped_log
        assert "5 SMS kept awaiting their codes; the next run waits for them" in stopped_log

        # The next run: its leases carry the five (not closed as lost), their codes come.
        response = client.post(f"/api/v1/sessions/{SESSION}/start", json={"reason": "test"})
        assert response.status_code == 200, response.text
        eventually(
            lambda: (
                {a["id"]: a["outcome"] for a in rig.attempts() if a["id"] in in_flight}
                == dict.fromkeys(in_flight, "delivered")
            ),
            60,
            "the next run to report the five delivered",
        )
        assert lines().count("still awaits its code; waiting for it again") == 5
        assert rig.kept_for_next_run().isdisjoint(in_flight)  # it carries new ones now
        sent = [record["trigger_id"] for record in rig.truth()]
    assert in_flight <= set(sent)
    assert len(sent) == len(set(sent)), "an SMS was sent twice"
