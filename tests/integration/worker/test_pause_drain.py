"""A pair paused by the policy with attempts in flight, for real: its session drains.

`smsfleet serve` (with a 3 s stop grace) and the gateway simulator run in subprocesses, the
program in GNU screen. The pause is written as the policy writes it. The program learns
of it at its next lease, lets its attempts in flight wait for their codes as long as ever,
reports them and exits on its own; the supervisor waits for that, for at most
`SMSFLEET_PAUSE_DRAIN_SECONDS`, and only then stops it as any session is stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from smsfleet.attempts.models import GRANT_STALE
from smsfleet.pairs.models import PairState
from smsfleet.pairs.service import set_state_unless_changed
from smsfleet.policy.models import POLICY_ACTOR
from smsfleet.stores import open_config_store
from tests.integration.worker.one_pair import SESSION, open_attempts, start_one_pair
from tests.support.fleet import AT_REST, Rig, started_rig
from tests.support.waiting import START_TIMEOUT, eventually

PHONES = [f"+99899123470{n}" for n in range(5)]
GRACE_SECONDS = 3

# Codes come 4-10 s after the send: longer than the part of the grace a SIGTERM leaves
# them, and spread, so that some still await theirs when the program leases again, as the
# first one comes (together, a loaded machine could report all five before that lease).
CODES_IN_FOUR_TO_TEN_SECONDS = {
    "latency": {"distribution": "uniform", "min_seconds": 4.0, "max_seconds": 10.0},
    "delivery_probability": 0.6,
    "send_error_rate": 0.0,
    "give_up_after_seconds": 10.0,
}
# Codes later than the program waits for one (150 s): its attempts stay in flight for as
# long as a test lasts, however slowly a loaded machine runs it.
NEVER_IN_TIME = {
    "latency": {"distribution": "uniform", "min_seconds": 600.0, "max_seconds": 601.0},
    "delivery_probability": 1.0,
    "send_error_rate": 0.0,
    "give_up_after_seconds": 900.0,
}


def pause_as_the_policy(rig: Rig) -> None:
    store = open_config_store(f"sqlite:///{rig.data_dir / 'config.db'}")
    try:
        pair = store.pairs.get("UZ_uzmobile")
        assert pair is not None
        written = set_state_unless_changed(
            pairs=store.pairs,
            seen=pair,
            state=PairState.paused,
            reason="paused by the policy: success rate 40% below 80%",
            actor=POLICY_ACTOR,
            at=datetime.now(UTC),
        )
        assert written is not None
    finally:
        store.close()


def outcomes(rig: Rig, trigger_ids: Iterable[str]) -> list[tuple[str | None, str | None]]:
    """What became of each of `trigger_ids` whose SMS left: its outcome and error code. A
    grant its program gave up unsent (`grant_stale`: too late, on a loaded machine) is not
    among them; some must have left."""
    attempts = {a["id"]: a for a in rig.attempts()}
    sent = [
        (attempt["outcome"], attempt["error_code"])
        for attempt in (attempts[t] for t in trigger_ids)
        if attempt["error_code"] != GRANT_STALE
    ]
    assert sent, "none of them was sent"
    return sent


def running_pid(client: httpx.Client) -> int:
    """The session's program's pid once it runs (while starting, the pid is its runner's)."""

    def running() -> dict[str, Any] | None:
        session: dict[str, Any] = client.get(f"/api/v1/sessions/{SESSION}").json()
        return session if session["state"] == "running" else None

    pid: int = eventually(running, START_TIMEOUT, "the session to run")["pid"]
    return pid


def at_rest(client: httpx.Client) -> dict[str, Any] | None:
    session: dict[str, Any] = client.get(f"/api/v1/sessions/{SESSION}").json()
    return session if session["state"] in AT_REST else None


def events(client: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/api/v1/sessions/{SESSION}/events").json()
    return found[::-1]  # oldest first


def test_a_policy_pause_lets_the_attempts_in_flight_finish(tmp_path: Path) -> None:
    env = {"SMSFLEET_STOP_GRACE_SECONDS": str(GRACE_SECONDS)}
    with started_rig(tmp_path, env) as rig, rig.admin() as client:
        start_one_pair(client, rig.simulator_url, CODES_IN_FOUR_TO_TEN_SECONDS, PHONES)
        eventually(lambda: len(open_attempts(rig)) == len(PHONES), START_TIMEOUT, "five in flight")
        in_flight = open_attempts(rig)
        pause_as_the_policy(rig)
        session = eventually(lambda: at_rest(client), 30, "the session to drain and stop")
        time.sleep(2)  # a few ticks more: nothing starts it again while the pair is paused
        again = client.get(f"/api/v1/sessions/{SESSION}").json()
        kinds = [(e["kind"], e["reason"]) for e in events(client)]
        log = client.get(f"/api/v1/sessions/{SESSION}/logs", params={"lines": 200}).json()

    lines = "\n".join(log["lines"])
    assert (session["state"], session["last_exit_code"]) == ("stopped", 0), lines
    assert (again["state"], again["restarts"]) == ("stopped", 0), again
    # Each SMS sent before the pause is reported as the gateway decided it, none cut off.
    for outcome, error_code in outcomes(rig, in_flight):
        assert outcome in ("delivered", "not_delivered") and error_code is None, (
            outcome,
            error_code,
        )
    assert "killed by signal" not in lines
    assert "the control plane asked it to stop (pair UZ_uzmobile is paused" in lines
    assert "attempt(s) in flight finish first" in lines
    assert "every attempt reported" in lines
    drain = "pair UZ_uzmobile is paused: its attempts in flight finish first, at most 150 s"
    assert ("stopping", drain) in kinds, kinds
    # Its exit recorded as a stop asked for (both at the same moment, in either order).
    assert sorted(kinds[-2:]) == [
        ("exited", "stopped"),
        ("stopped", "pair UZ_uzmobile is paused"),
    ], kinds


def test_a_program_still_running_when_its_drain_ends_is_stopped(tmp_path: Path) -> None:
    # A stop grace within which the program reports its five attempts interrupted and
    # exits even on a machine busy with the whole suite (3 s was seen to run out there).
    env = {"SMSFLEET_STOP_GRACE_SECONDS": "8", "SMSFLEET_PAUSE_DRAIN_SECONDS": "3"}
    with started_rig(tmp_path, env) as rig, rig.admin() as client:
        start_one_pair(client, rig.simulator_url, NEVER_IN_TIME, PHONES)
        eventually(lambda: len(open_attempts(rig)) == len(PHONES), START_TIMEOUT, "five in flight")
        in_flight = open_attempts(rig)
        paused = time.monotonic()
        pause_as_the_policy(rig)
        session = eventually(lambda: at_rest(client), 20, "the session to stop")
        took = time.monotonic() - paused
        kinds = [(e["kind"], e["reason"]) for e in events(client)]

    # Waited out its drain, then stopped as any session is: SIGTERM, and the stop grace.
    assert took >= 3, took
    assert (session["state"], session["last_exit_code"]) == ("stopped", 0), session
    assert (
        "stopping",
        "its program still ran 3 s after its pair's pause",
    ) in kinds, kinds
    assert set(outcomes(rig, in_flight)) == {("error", "interrupted")}


def test_a_pair_resumed_while_its_session_drains_runs_it_again(tmp_path: Path) -> None:
    env = {"SMSFLEET_STOP_GRACE_SECONDS": str(GRACE_SECONDS)}
    with started_rig(tmp_path, env) as rig, rig.admin() as client:
        start_one_pair(client, rig.simulator_url, CODES_IN_FOUR_TO_TEN_SECONDS, PHONES)
        eventually(lambda: len(open_attempts(rig)) == len(PHONES), START_TIMEOUT, "five in flight")
        in_flight = open_attempts(rig)
        pid = running_pid(client)
        pause_as_the_policy(rig)

        def told_to_stop() -> bool:
            log = client.get(f"/api/v1/sessions/{SESSION}/logs", params={"lines": 200}).json()
            return any("the control plane asked it to stop" in line for line in log["lines"])

        eventually(told_to_stop, 30, "the program to be told to stop")
        response = client.patch("/api/v1/pairs/UZ_uzmobile", json={"state": "enabled"})
        assert response.status_code == 200, response.text

        def running_again() -> dict[str, Any] | None:
            session: dict[str, Any] = client.get(f"/api/v1/sessions/{SESSION}").json()
            return session if session["state"] == "running" and session["pid"] != pid else None

        session = eventually(running_again, 30, "the session to run again")
        kinds = [(e["kind"], e["reason"]) for e in events(client)]

    # Started again once its program ended as the pause asked: neither a crash nor a restart.
    assert (session["restarts"], session["requested_restarts"]) == (0, 0), session
    assert ("exited", "stopped") in kinds, kinds
    assert not any(kind in ("backoff", "fatal") for kind, _ in kinds), kinds
    for outcome, _ in outcomes(rig, in_flight):
        assert outcome in ("delivered", "not_delivered"), outcome


def test_a_pair_resumed_while_its_attempts_are_in_flight_goes_on_with_the_same_program(
    tmp_path: Path,
) -> None:
    """Held while its attempts in flight finish, asking again meanwhile: resumed, the
    program sends again as it was, neither stopped nor restarted nor counted a crash."""
    env = {"SMSFLEET_STOP_GRACE_SECONDS": str(GRACE_SECONDS)}
    with started_rig(tmp_path, env) as rig, rig.admin() as client:
        start_one_pair(client, rig.simulator_url, NEVER_IN_TIME, PHONES)
        eventually(lambda: len(open_attempts(rig)) == len(PHONES), START_TIMEOUT, "five in flight")
        pid = running_pid(client)
        pause_as_the_policy(rig)

        def logged(text: str) -> bool:
            log = client.get(f"/api/v1/sessions/{SESSION}/logs", params={"lines": 200}).json()
            return any(text in line for line in log["lines"])

        eventually(lambda: logged("nothing new is sent"), 30, "the program to be held")
        response = client.patch("/api/v1/pairs/UZ_uzmobile", json={"state": "enabled"})
        assert response.status_code == 200, response.text
        eventually(lambda: logged("no longer held back"), 30, "the program to go on")
        time.sleep(2)  # a few ticks more: nothing stops it
        session = client.get(f"/api/v1/sessions/{SESSION}").json()
        kinds = [(e["kind"], e["reason"]) for e in events(client)]

    assert (session["state"], session["pid"], session["restarts"]) == ("running", pid, 0)
    called_off = "its pair runs again before its program was told to stop: it runs on"
    assert kinds[-1] == ("running", called_off), kinds
    assert not any(kind in ("exited", "backoff", "fatal") for kind, _ in kinds), kinds
