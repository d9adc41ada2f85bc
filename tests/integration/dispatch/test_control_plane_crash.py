"""The control plane killed (SIGKILL) under a running fleet: nothing lost, nothing doubled.

Everything is real: `smsfleet serve` in a subprocess with its own data dir and a private
screen directory, the gateway simulator in another (`python -m smsfleet.simulator`, with
a fast configuration and a ground-truth log), and the programs in GNU screen, started
through the API. The fleet runs a few seconds; the control plane is killed with -9; the
programs keep running for `OUTAGE_SECONDS` (they must send nothing without a grant and
keep their reports in their spools); the control plane starts again on the same port and
data dir, adopts the sessions, and the programs replay their spools. After a few more
seconds the sessions are stopped through the API and finish.

Then the simulator's ground truth and the attempts the control plane recorded (the
metrics SQLite database, table `attempts`) must agree exactly: the same trigger ids, the
same outcome for every completed attempt, none lost, none counted twice, and no SMS in the
truth without a lease.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.support.fleet import (
    REPORTED_AS,
    SESSIONS,
    STOP_TIMEOUT,
    Rig,
    rig,
    seed,
    sessions_running,
    stop_sessions,
)
from tests.support.waiting import START_TIMEOUT, eventually

__all__ = ["rig"]  # the fixture

OUTAGE_SECONDS = 20.0
RUN_BEFORE_SECONDS = 5.0
RUN_AFTER_SECONDS = 5.0


def _at(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def test_a_killed_control_plane_loses_and_doubles_nothing(rig: Rig) -> None:
    started = time.monotonic()
    with rig.admin() as client:
        seed(client)
        eventually(lambda: sessions_running(client), START_TIMEOUT, "both sessions running")
    eventually(
        lambda: {a["session"] for a in rig.attempts()} == set(SESSIONS),
        START_TIMEOUT,
        "an attempt of each session",
    )
    time.sleep(RUN_BEFORE_SECONDS)

    def both_in_flight() -> bool:
        """Each session holds a grant it has not reported yet: the kill catches both with
        an SMS under way, whose reports must then wait in their spools (on a busy machine
        a fixed moment may find a program between two leases)."""
        return {a["session"] for a in rig.attempts() if a["outcome"] is None} == set(SESSIONS)

    eventually(both_in_flight, 20, "an SMS of each session under way")
    rig.control_plane.kill()
    killed_at = datetime.now(UTC)
    leased_before_kill = {a["id"] for a in rig.attempts()}
    time.sleep(OUTAGE_SECONDS)
    # The programs kept running through the outage, with their reports on disk.
    spools = rig.data_dir / "spool"
    spooled = {p.name for p in spools.glob("*/*.json")}
    restarted_at = datetime.now(UTC)
    sent_during_outage = [
        r for r in rig.truth() if killed_at < _at(r["triggered_at"]) <= restarted_at
    ]

    rig.control_plane.start()
    with rig.admin() as client:
        # Adopted, not started anew: the same processes go on.
        eventually(lambda: sessions_running(client), 10, "both sessions adopted")
        sessions = {s["name"]: s for s in client.get("/api/v1/sessions").json()}
        assert all(sessions[name]["restarts"] == 0 for name in SESSIONS), sessions

        def leased_again() -> bool:
            fresh = {a["session"] for a in rig.attempts() if a["id"] not in leased_before_kill}
            return fresh == set(SESSIONS)

        # A program retries with a backoff of up to ~12 s: wait for both to lease again.
        eventually(leased_again, 20, "an attempt of each session after the restart")
        time.sleep(RUN_AFTER_SECONDS)
        stop_sessions(client, timeout=STOP_TIMEOUT)
    eventually(lambda: not any(spools.glob("*/*.json")), 10, "the programs to empty their spools")
    assert not any(spools.glob("*/rejected/*")), "a report was refused"

    truth = rig.truth()
    attempts = {a["id"]: a for a in rig.attempts()}
    # Only granted SMS were sent, including while the control plane was away (an SMS
    # granted just before the kill may be sent right after it, so the first second
    # of the outage is allowed a send that has a lease).
    late = [
        r for r in sent_during_outage if (_at(r["triggered_at"]) - killed_at).total_seconds() >= 1
    ]
    assert late == [], f"sent during the outage: {late}"
    assert all(r["trigger_id"] in leased_before_kill for r in sent_during_outage)
    assert spooled, "no report had to wait in a spool during the outage"

    # One SMS per trigger id (program1 never retries a send), each with a lease.
    triggers = [r["trigger_id"] for r in truth]
    assert None not in triggers
    assert len(triggers) == len(set(triggers)), "an SMS was sent twice"
    without_lease = set(triggers) - set(attempts)
    assert without_lease == set(), f"sent without a lease: {without_lease}"

    completed = {i: a for i, a in attempts.items() if a["outcome"] is not None}
    # The only attempts without an SMS: a grant whose answer the kill swallowed, so no
    # program ever saw it (at most one per session) and no SMS was sent for it. The
    # session's next lease, which lists what the program carries, closed it as lost.
    swallowed = set(attempts) - set(completed)
    swallowed |= {i for i, a in completed.items() if a["error_code"] == "lease_lost"}
    assert swallowed <= leased_before_kill
    assert len(swallowed) <= len(SESSIONS)
    assert swallowed.isdisjoint(triggers)
    completed = {i: a for i, a in completed.items() if i not in swallowed}
    # Nor one its program gave up unsent, its grant answered too late to send within the
    # cap's margin (a busy machine): recorded as such, with no SMS.
    given_up = {i for i, a in completed.items() if a["error_code"] == "grant_stale"}
    assert given_up.isdisjoint(triggers)
    completed = {i: a for i, a in completed.items() if i not in given_up}
    # Every SMS the simulator saw is recorded, with the outcome it really had.
    assert set(completed) == set(triggers)
    for record in truth:
        attempt = completed[record["trigger_id"]]
        assert attempt["provider"] == record["provider"]
        if attempt["outcome"] == "error":
            # Stopped before the gateway knew: reported as such, never as a guess.
            assert attempt["error_code"] == "interrupted", attempt
            continue
        expected = REPORTED_AS.get(record["outcome"], "send_failed")
        assert attempt["outcome"] == expected, (record, attempt)
    assert len(completed) >= 10, "the fleet hardly ran"
    assert time.monotonic() - started < 90
