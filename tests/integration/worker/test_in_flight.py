"""Attempts in flight, for real: a program carrying five, killed with -9 and restarted.

`smsfleet serve` and the gateway simulator run in subprocesses, the program in GNU screen.
The route delivers after 3 s, so a session at 600/min holds one attempt per test number
(five) while it waits for their codes. The program is killed with SIGKILL mid-wait; the
supervisor restarts it, and the restarted program picks its attempts up from its
in-flight journal: each still gets the outcome the gateway gave it, none is given up as
expired, and no SMS is sent twice.
"""

from __future__ import annotations

import json
import os
import signal

from tests.integration.worker.one_pair import SESSION, open_attempts, start_one_pair
from tests.support.fleet import (
    STOP_TIMEOUT,
    Rig,
    rig,
    stop_sessions,
)
from tests.support.waiting import START_TIMEOUT, eventually

__all__ = ["rig"]  # the fixture

PHONES = [f"+99899123450{n}" for n in range(5)]


SLOW = {
    "latency": {"distribution": "uniform", "min_seconds": 3.0, "max_seconds": 3.2},
    "delivery_probability": 1.0,
    "send_error_rate": 0.0,
    "give_up_after_seconds": 30.0,
}


def sent_by_journal(rig: Rig) -> set[str]:
    """The attempts the program's in-flight journal holds as sent, awaiting their codes."""
    sent = set()
    for path in (rig.data_dir / "spool" / SESSION / "in-flight").glob("*.json"):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # gone as its report was spooled
            continue
        if entry.get("sent_at"):
            sent.add(entry["grant"]["trigger_id"])
    return sent


def unsent(rig: Rig, attempts: set[str]) -> set[str]:
    """Those of `attempts` neither sent by the journal nor reported yet."""
    not_sent = attempts - sent_by_journal(rig)
    return not_sent & open_attempts(rig) if not_sent else not_sent


def told_sent(rig: Rig, *, still_open: bool = False) -> set[str]:
    """The attempts the control plane knows the SMS of left; `still_open`: only those
    not reported yet (told by a heartbeat)."""
    return {
        a["id"]
        for a in rig.attempts()
        if a["sent_at"] is not None and not (still_open and a["outcome"] is not None)
    }


def test_a_program_killed_with_five_in_flight_loses_and_doubles_nothing(rig: Rig) -> None:
    with rig.admin() as client:
        start_one_pair(client, rig.simulator_url, SLOW, PHONES)
        eventually(lambda: len(open_attempts(rig)) == len(PHONES), START_TIMEOUT, "five in flight")
        in_flight = open_attempts(rig)
        # Once sent, an attempt waits 3 s for its code: kill while all five wait, each sent
        # as its journal says (one killed during its send is told `interrupted`, rightly).
        eventually(lambda: not unsent(rig, in_flight), 10, "five sent")
        # Each send is told with a heartbeat at once, before its report: should the run
        # never report them, their attempts are known to have left.
        eventually(lambda: told_sent(rig) >= in_flight, 10, "the five told sent")
        assert told_sent(rig, still_open=True) & in_flight, "none told sent before its report"
        pid = client.get(f"/api/v1/sessions/{SESSION}").json()["pid"]
        assert pid, "the session's program has no pid"
        os.kill(pid, signal.SIGKILL)

        def restarted() -> bool:
            session = client.get(f"/api/v1/sessions/{SESSION}").json()
            return bool(session["state"] == "running" and session["pid"] not in (None, pid))

        eventually(restarted, START_TIMEOUT, "the program restarted")
        eventually(
            lambda: not (in_flight & open_attempts(rig)), 30, "the killed run's attempts reported"
        )
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
