"""`smsfleet pairs ls` from a shell, against the data dir's stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from smsfleet.cli import app
from smsfleet.core.clock import human_time
from smsfleet.core.sql import open_metrics_engine
from smsfleet.pairs.models import PairState
from smsfleet.pairs.service import set_state_unless_changed
from smsfleet.policy.models import POLICY_ACTOR, EvidenceBound, PolicyAction, PolicyDecision
from smsfleet.policy.store import PolicyStore
from smsfleet.sessions.models import DesiredState, SessionState, SessionStatus
from smsfleet.sessions.service import sync_specs
from tests.support.sessions import TICKING, Fleet

runner = CliRunner()
LS_HEADER = ["PAIR", "STATE", "SESSIONS", "NUMBERS", "NOTE"]
PAUSED = "paused by the policy: 12 of 40 delivered (30 %), confidently under the 50 % line"
# Not today (the command reads the wall clock): its moments are said with their date.
HELD_AT = datetime(2026, 1, 5, 11, 40, 7, tzinfo=UTC)


def stdout(data_dir: Path, *args: str) -> str:
    """What `pairs ls` prints on stdout when it succeeds (warnings go to stderr)."""
    result = runner.invoke(app, ["pairs", "ls", *args, "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.stdout


def rows(data_dir: Path, *args: str) -> dict[str, str]:
    """Each listed pair's line, by its key."""
    header, *lines = stdout(data_dir, *args).splitlines()
    assert header.split() == LS_HEADER
    return {line.split()[0]: line for line in lines}


def held(data_dir: Path, pair: str, at: datetime) -> None:
    """The policy's decision to hold `pair`, in the metrics database as it writes them."""
    engine = open_metrics_engine(f"sqlite:///{data_dir / 'metrics.db'}")
    try:
        PolicyStore(engine).add(
            PolicyDecision(
                id="1" * 32,
                at=at,
                pair=pair,
                country=pair[:2],
                action=PolicyAction.held,
                reason=f"{pair} held: high priority, so it keeps running: because",
                lower_bound=0.2,
                upper_bound=0.4,
                decided_on=EvidenceBound.upper_bound,
                success_ratio=0.3,
                samples=40,
                delivered=12,
                pause_threshold=0.5,
                resume_threshold=0.7,
                window="last 30 min, at most 50 attempts",
            )
        )
    finally:
        engine.dispose()


def pause_by_policy(fleet: Fleet, key: str) -> datetime:
    pair = fleet.store.pairs.get(key)
    assert pair is not None
    fleet.clock.advance(600)  # after it was made
    at = fleet.clock.now()
    paused = set_state_unless_changed(
        pairs=fleet.store.pairs,
        seen=pair,
        state=PairState.paused,
        reason=PAUSED,
        actor=POLICY_ACTOR,
        at=at,
    )
    assert paused is not None
    return at


def running(fleet: Fleet, name: str) -> None:
    """`name` running, as the supervisor last saw it."""
    status = SessionStatus(name=name, state=SessionState.running, updated_at=fleet.clock.now())
    fleet.store.session_status.add(status)


def test_pairs_ls_says_who_set_each_state_and_why_and_what_the_policy_holds(
    fleet: Fleet, tmp_path: Path
) -> None:
    normal = fleet.add_pair("uzmobile", TICKING)
    priority = fleet.add_pair(
        "beeline", TICKING, high_priority=True, numbers=("+998901234567", "+998901234568")
    )
    fleet.want(normal, DesiredState.running)
    running(fleet, priority)
    paused_at = pause_by_policy(fleet, "UZ_uzmobile")
    held(tmp_path, "UZ_beeline", HELD_AT)
    listed = rows(tmp_path)
    assert list(listed) == ["UZ_beeline", "UZ_uzmobile"]  # by key
    paused = listed["UZ_uzmobile"]
    assert paused.split()[1:6] == ["paused", "by", "policy", "0/1", "1"]
    assert f"  {PAUSED}; paused {human_time(paused_at)} (" in paused
    line = listed["UZ_beeline"]
    assert line.split()[1:7] == ["★", "enabled", "by", "admin", "1/1", "2"]
    assert f"held by the policy since {human_time(HELD_AT)} (" in line
    assert "): it keeps running" in line
    # The same, machine-readable.
    found: dict[str, Any] = {p["key"]: p for p in json.loads(stdout(tmp_path, "--json"))}
    assert found["UZ_uzmobile"]["state"] == "paused"
    assert found["UZ_uzmobile"]["state_actor"] == POLICY_ACTOR
    assert found["UZ_uzmobile"]["state_reason"] == PAUSED
    assert found["UZ_uzmobile"]["held_since"] is None
    assert datetime.fromisoformat(found["UZ_beeline"]["held_since"]) == HELD_AT
    counts = {
        key: (p["sessions"], p["sessions_wanted"], p["sessions_running"], p["numbers"])
        for key, p in found.items()
    }
    assert counts == {"UZ_uzmobile": (1, 1, 0, 1), "UZ_beeline": (1, 1, 1, 2)}


def test_a_hold_the_policy_let_go_of_is_not_shown(fleet: Fleet, tmp_path: Path) -> None:
    """A held pair back above its resume line (`recovered`) is held no longer; a normal
    pair is never held."""
    fleet.add_pair("beeline", TICKING, high_priority=True)
    fleet.add_pair("uzmobile", TICKING)
    held(tmp_path, "UZ_uzmobile", HELD_AT)  # a decision it could not have: ignored
    engine = open_metrics_engine(f"sqlite:///{tmp_path / 'metrics.db'}")
    try:
        store = PolicyStore(engine)
        for number, action in enumerate((PolicyAction.held, PolicyAction.recovered), start=2):
            decision = store.latest_decisions(["UZ_uzmobile"])["UZ_uzmobile"]
            store.add(
                decision.model_copy(
                    update={
                        "id": f"{number:032x}",
                        "pair": "UZ_beeline",
                        "action": action,
                        "at": HELD_AT + timedelta(minutes=number),
                    }
                )
            )
    finally:
        engine.dispose()
    assert all("held" not in line for line in rows(tmp_path).values())


def test_pairs_ls_counts_sessions_running_of_those_wanted(fleet: Fleet, tmp_path: Path) -> None:
    wanted = fleet.add_pair("uzmobile", TICKING)
    fleet.add_pair("beeline", TICKING, numbers=())
    stopped = fleet.add_pair("ucell", TICKING)
    sync_specs(store=fleet.store, clock=fleet.clock)
    fleet.want(wanted, DesiredState.running)
    fleet.want(stopped, DesiredState.stopped)
    running(fleet, wanted)
    running(fleet, stopped)  # as last seen: stopping, asked to stop
    columns = {key: line.split()[4:6] for key, line in rows(tmp_path).items()}
    assert columns == {
        "UZ_beeline": ["0/0", "0"],
        "UZ_ucell": ["1/0", "1"],
        "UZ_uzmobile": ["1/1", "1"],
    }
    # Those not wanted are said, so none goes unexplained.
    assert rows(tmp_path)["UZ_ucell"].endswith("1 of its 1 sessions stopped on purpose")
    assert "on purpose" not in rows(tmp_path)["UZ_uzmobile"]
    # Paused by the policy, its program finishes its sends in flight: said so, not "0/1"
    # alone, as if it were down.
    pause_by_policy(fleet, "UZ_uzmobile")
    stopping = SessionStatus(name=wanted, state=SessionState.stopping, updated_at=fleet.clock.now())
    fleet.store.session_status.replace(stopping)
    line = rows(tmp_path)["UZ_uzmobile"]
    assert line.split()[4:6] == ["0/1", "1"]
    assert line.endswith("1 of its sessions stopping, finishing their sends in flight")
    found = {p["key"]: p for p in json.loads(stdout(tmp_path, "--json"))}
    assert found["UZ_uzmobile"]["sessions_stopping"] == 1
    # A person's stop ends its program within the stop grace: stopping, and no more said.
    fleet.store.session_status.replace(stopping.model_copy(update={"name": stopped}))
    assert rows(tmp_path)["UZ_ucell"].endswith("; 1 of its sessions stopping")


def test_pairs_ls_of_a_country_lists_its_pairs_and_refuses_one_without(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.add_pair("uzmobile", TICKING)
    fleet.add_pair("beeline", TICKING)
    fleet.add_programless_pair("KZ", "Kcell", "kcell")
    assert list(rows(tmp_path)) == ["KZ_kcell", "UZ_beeline", "UZ_uzmobile"]  # country, key
    assert list(rows(tmp_path, "--country", "kz")) == ["KZ_kcell"]
    assert list(rows(tmp_path, "--country", "UZ")) == ["UZ_beeline", "UZ_uzmobile"]
    for output in ([], ["--json"]):  # an empty table would read as a country with none
        result = runner.invoke(
            app, ["pairs", "ls", "--country", "xx", *output, "--data-dir", str(tmp_path)]
        )
        assert result.exit_code == 1, result.output
        assert (
            result.stderr.strip() == "error: no pair of country XX (countries with pairs: KZ, UZ)"
        )
        assert result.stdout == ""


def test_pairs_ls_before_the_control_plane_first_ran(fleet: Fleet, tmp_path: Path) -> None:
    """No metrics database yet (the control plane makes it): the pairs are listed, none
    held, and none is made."""
    fleet.add_pair("beeline", TICKING, high_priority=True)
    fleet.add_pair("uzmobile", TICKING)
    listed = rows(tmp_path)
    assert list(listed) == ["UZ_beeline", "UZ_uzmobile"]
    assert listed["UZ_beeline"].split()[1:4] == ["★", "enabled", "by"]
    assert not (tmp_path / "metrics.db").exists()
    assert [p["held_since"] for p in json.loads(stdout(tmp_path, "--json"))] == [None, None]
