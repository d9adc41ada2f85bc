"""`smsfleet countries cap/ls` and `smsfleet pairs pause/resume` from a shell, against
the data dir's store, audited as the host's admin."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from smsfleet.audit.models import AuditAction, AuditEvent
from smsfleet.auth.models import Role
from smsfleet.cli import app
from smsfleet.pairs.models import Country, Pair, PairState
from smsfleet.sessions.models import SessionState
from tests.support.sessions import TICKING, Fleet

runner = CliRunner()
LOCAL_ADMIN = f"cli:{getpass.getuser()}"
NO_CONTROL_PLANE = "warning: no control plane has carried out changes ever"


def invoke(data_dir: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--data-dir", str(data_dir)])


def succeeds(data_dir: Path, *args: str) -> str:
    """What a command that succeeds prints on stdout (warnings go to stderr)."""
    result = invoke(data_dir, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(data_dir: Path, *args: str) -> str:
    """The error a refused command prints on stderr; it prints nothing on stdout."""
    result = invoke(data_dir, *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr.strip()


def country(fleet: Fleet, code: str) -> Country:
    found = fleet.store.countries.get(code)
    assert found is not None
    return found


def pair(fleet: Fleet, key: str) -> Pair:
    found = fleet.store.pairs.get(key)
    assert found is not None
    return found


def audited(fleet: Fleet, action: AuditAction) -> list[AuditEvent]:
    """The audit log's entries of `action`, newest first."""
    return [event for event in fleet.store.audit.recent(limit=100) if event.action is action]


# --- countries cap -----------------------------------------------------------


def test_countries_cap_sets_the_cap_audited_as_the_local_admin(
    fleet: Fleet, tmp_path: Path
) -> None:
    said = succeeds(tmp_path, "countries", "cap", "uz", "5", "--reason", "carrier asked")
    assert said == "UZ: cap 10 → 5 (carrier asked)\n"
    uz = country(fleet, "UZ")
    assert (uz.cap, uz.previous_cap) == (5, 10)
    assert uz.cap_changed_at is not None
    assert abs(datetime.now(UTC) - uz.cap_changed_at) < timedelta(minutes=1)
    [event] = audited(fleet, AuditAction.country_updated)
    assert (event.target, event.actor, event.actor_role) == ("UZ", LOCAL_ADMIN, Role.admin)
    assert event.reason == "carrier asked"
    assert event.before is not None and event.before["cap"] == 10
    assert event.after is not None and event.after["cap"] == 5
    # The same cap again: nothing written, nothing audited.
    assert succeeds(tmp_path, "countries", "cap", "UZ", "5") == (
        "UZ: cap already 5: nothing changed\n"
    )
    assert country(fleet, "UZ") == uz
    assert len(audited(fleet, AuditAction.country_updated)) == 1
    # Raised again, without a reason.
    assert succeeds(tmp_path, "countries", "cap", "UZ", "12") == "UZ: cap 5 → 12\n"
    latest = audited(fleet, AuditAction.country_updated)[0]
    assert latest.reason is None and latest.after is not None and latest.after["cap"] == 12


def test_countries_cap_0_says_the_country_is_halted(fleet: Fleet, tmp_path: Path) -> None:
    said = succeeds(tmp_path, "countries", "cap", "UZ", "0", "--reason", "regulator")
    assert said == "UZ: cap 10 → 0 (regulator); halted: nothing is sent until it is raised\n"
    assert country(fleet, "UZ").cap == 0
    again = succeeds(tmp_path, "countries", "cap", "UZ", "0")
    assert again.startswith("UZ: cap already 0: nothing changed; halted")
    # Its pairs say so too, in the listing's note and its JSON.
    fleet.add_pair("uzmobile", TICKING)
    listed = succeeds(tmp_path, "pairs", "ls").splitlines()[1]
    assert listed.endswith(
        "; country UZ is halted (its cap is 0): nothing is sent until an admin raises it"
    ), listed
    [pair] = json.loads(succeeds(tmp_path, "pairs", "ls", "--json"))
    assert pair["country_halted"] is True


def test_countries_cap_far_above_the_usual_takes_force(fleet: Fleet, tmp_path: Path) -> None:
    error = refused(tmp_path, "countries", "cap", "UZ", "600")
    assert error == (
        "error: a cap of 600 a minute for UZ is above 60, the most set without force:"
        " repeat with force to set it (--force)"
    )
    assert country(fleet, "UZ").cap == 10
    said = succeeds(tmp_path, "countries", "cap", "UZ", "600", "--force")
    assert said == "UZ: cap 10 → 600\n"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["XX", "5"], "error: unknown country 'XX': use an ISO 3166-1 alpha-2 code"),
        (["UZB", "5"], "error: unknown country 'UZB': use an ISO 3166-1 alpha-2 code"),
        (["UZ", "-1"], "error: cap -1 is out of range: 0..10000 SMS per minute"),
        (["UZ", "10001"], "error: cap 10001 is out of range: 0..10000 SMS per minute"),
        (["UZ", "5", "--reason", "two\nlines"], "error: reason: "),
    ],
)
def test_countries_cap_refuses_bad_input_and_writes_nothing(
    fleet: Fleet, tmp_path: Path, args: list[str], error: str
) -> None:
    before = fleet.store.countries.list()
    assert refused(tmp_path, "countries", "cap", *args).startswith(error)
    assert fleet.store.countries.list() == before
    assert audited(fleet, AuditAction.country_updated) == []


# --- countries ls ------------------------------------------------------------


def test_countries_ls_lists_the_countries_with_pairs_and_all_with_all(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.add_pair("uzmobile", TICKING)
    fleet.add_pair("beeline", TICKING)
    fleet.add_programless_pair("KZ", "Kcell", "kcell")
    succeeds(tmp_path, "countries", "cap", "UZ", "0", "--reason", "regulator")
    listed: list[dict[str, Any]] = json.loads(succeeds(tmp_path, "countries", "ls", "--json"))
    assert [c["code"] for c in listed] == ["KZ", "UZ"]  # by code; none without a pair
    kz, uz = listed
    assert kz == {
        "code": "KZ",
        "name": "Kazakhstan",
        "cap": 10,
        "previous_cap": None,
        "cap_changed_at": None,
        "pairs": 1,
    }
    assert (uz["name"], uz["cap"], uz["previous_cap"], uz["pairs"]) == ("Uzbekistan", 0, 10, 2)
    changed_at = datetime.fromisoformat(uz["cap_changed_at"])
    assert abs(datetime.now(UTC) - changed_at) < timedelta(minutes=1)
    # The table: one line each, the halted one said so.
    header, *lines = succeeds(tmp_path, "countries", "ls").splitlines()
    assert header.split() == ["CODE", "NAME", "CAP", "PREVIOUS", "PAIRS", "CHANGED"]
    assert [line.split()[:5] for line in lines] == [
        ["KZ", "Kazakhstan", "10", "-", "1"],
        ["UZ", "Uzbekistan", "0", "10", "2"],
    ]
    assert lines[0].endswith("  -")
    assert lines[1].endswith(" s ago); halted")
    # --all: every country, those without pairs too.
    every = json.loads(succeeds(tmp_path, "countries", "ls", "--all", "--json"))
    assert len(every) == len(fleet.store.countries.list()) > 200
    assert {c["code"]: c["pairs"] for c in every}["FR"] == 0
    assert len(succeeds(tmp_path, "countries", "ls", "--all").splitlines()) == len(every) + 1


# --- pairs pause / resume ----------------------------------------------------


def test_pairs_pause_and_resume_change_its_state_audited_with_the_reason(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.add_pair("uzmobile", TICKING)
    result = invoke(tmp_path, "pairs", "pause", "UZ_uzmobile", "--reason", "provider maintenance")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"UZ_uzmobile: enabled → paused by {LOCAL_ADMIN} (provider maintenance)\n"
    )
    # Written, as the API writes it: the supervisor stops its sessions, when one runs.
    assert result.stderr.startswith(NO_CONTROL_PLANE)
    paused = pair(fleet, "UZ_uzmobile")
    assert (paused.state, paused.state_actor) == (PairState.paused, LOCAL_ADMIN)
    assert paused.state_reason == "provider maintenance"
    [event] = audited(fleet, AuditAction.pair_updated)
    assert (event.target, event.actor, event.actor_role) == ("UZ_uzmobile", LOCAL_ADMIN, Role.admin)
    assert (event.reason, event.forced) == ("provider maintenance", False)
    assert event.before is not None and event.before["state"] == "enabled"
    assert event.after is not None and event.after["state"] == "paused"
    # Paused again without a reason: nothing changes, nothing is audited, and it says so.
    assert succeeds(tmp_path, "pairs", "pause", "UZ_uzmobile") == (
        "UZ_uzmobile: already paused (provider maintenance): nothing changed\n"
    )
    assert len(audited(fleet, AuditAction.pair_updated)) == 1
    # With another reason, the reason changes, and it says so.
    assert succeeds(tmp_path, "pairs", "pause", "UZ_uzmobile", "--reason", "still down") == (
        f"UZ_uzmobile: paused again by {LOCAL_ADMIN} (still down)\n"
    )
    # The key in any case is the pair's.
    said = succeeds(tmp_path, "pairs", "resume", "uz_UZMOBILE", "--reason", "provider back")
    assert said == f"UZ_uzmobile: paused → enabled by {LOCAL_ADMIN} (provider back)\n"
    resumed = pair(fleet, "UZ_uzmobile")
    assert (resumed.state, resumed.state_reason) == (PairState.enabled, "provider back")
    latest = audited(fleet, AuditAction.pair_updated)[0]
    assert (latest.actor, latest.reason) == (LOCAL_ADMIN, "provider back")
    assert latest.after is not None and latest.after["state"] == "enabled"


def test_a_high_priority_pairs_pause_needs_force(fleet: Fleet, tmp_path: Path) -> None:
    name = fleet.add_pair("beeline", TICKING, high_priority=True)
    supervisor = fleet.supervisor()
    supervisor.reconcile_once()
    assert fleet.screens() == [name]  # high priority: running without being asked
    error = refused(tmp_path, "pairs", "pause", "UZ_beeline", "--reason", "maintenance")
    assert error == ("error: UZ_beeline is high priority: repeat with force to pause it (--force)")
    assert pair(fleet, "UZ_beeline").state is PairState.enabled  # nothing written
    assert audited(fleet, AuditAction.pair_updated) == []
    said = succeeds(tmp_path, "pairs", "pause", "UZ_beeline", "--force", "--reason", "maintenance")
    assert said == f"UZ_beeline: enabled → paused by {LOCAL_ADMIN} (maintenance)\n"
    [event] = audited(fleet, AuditAction.pair_updated)
    assert (event.actor, event.reason, event.forced) == (LOCAL_ADMIN, "maintenance", True)
    # No bus reaches the control plane from a shell: its supervisor reads the pair at its
    # next tick and stops the session, then starts it again once resumed (no --force).
    supervisor.reconcile_once()
    assert fleet.state(name) is SessionState.stopped
    assert fleet.screens() == []
    succeeds(tmp_path, "pairs", "resume", "UZ_beeline")
    assert pair(fleet, "UZ_beeline").state is PairState.enabled
    supervisor.reconcile_once()
    assert fleet.screens() == [name]


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_pairs_pause_and_resume_of_an_unknown_pair_are_refused(
    fleet: Fleet, tmp_path: Path, command: str
) -> None:
    fleet.add_pair("uzmobile", TICKING)
    error = refused(tmp_path, "pairs", command, "UZ_nope", "--reason", "typo")
    assert error == "error: pair 'UZ_nope' does not exist"
    assert pair(fleet, "UZ_uzmobile").state is PairState.enabled
    assert audited(fleet, AuditAction.pair_updated) == []
