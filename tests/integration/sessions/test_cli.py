"""`smsfleet sessions` and `smsfleet users` from a shell, against the data dir's store."""

from __future__ import annotations

import getpass
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from smsfleet import cli
from smsfleet.api import create_app
from smsfleet.audit.models import AuditAction
from smsfleet.auth.models import Role
from smsfleet.cli import app
from smsfleet.core.clock import human_time
from smsfleet.core.security import verify_password
from smsfleet.core.settings import Settings
from smsfleet.core.sql import open_metrics_engine
from smsfleet.dispatch.store import HeartbeatStore
from smsfleet.pairs.models import PairState
from smsfleet.sessions.models import DesiredState, SessionState, SessionStatus
from smsfleet.sessions.service import sync_specs
from smsfleet.sessions.ticks import SupervisorTicks
from smsfleet.stores import open_config_store
from tests.support.fleet import clean_environment, smsfleet_command
from tests.support.sessions import TICKING, Fleet
from tests.support.waiting import eventually

runner = CliRunner()
# The columns of `sessions ls`, as a table with no row reads.
LS_HEADER = ["NAME", "STATE", "DESIRED", "PID", "UPTIME", "RESTARTS", "ASKED", "EXIT", "NOTE"]


def run(data_dir: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)], input=input)
    return result.exit_code, result.output


def stdout(data_dir: Path, *args: str) -> str:
    """What a command that succeeds prints on stdout (warnings go to stderr)."""
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_sessions_commands_write_desired_state_and_read_logs(fleet: Fleet, tmp_path: Path) -> None:
    normal = fleet.add_pair("uzmobile", TICKING)
    priority = fleet.add_pair("beeline", TICKING, high_priority=True)
    fleet.want(normal, DesiredState.stopped)
    listed = {s["name"]: s for s in json.loads(stdout(tmp_path, "sessions", "ls", "--json"))}
    assert set(listed) == {normal, priority}
    assert listed[priority]["desired"] == "running"
    code, output = run(tmp_path, "sessions", "start", normal, "--reason", "from the shell")
    assert code == 0
    assert f"{normal}: start asked; it was stopped, and is wanted running from now" in output
    spec = fleet.store.session_specs.get(normal)
    assert spec is not None
    assert spec.desired == DesiredState.running
    assert spec.desired_actor is not None and spec.desired_actor.startswith("cli:")
    for action in ("restart", "stop"):  # each would end the program a while
        code, output = run(tmp_path, "sessions", action, priority)
        assert code == 1, action
        assert "repeat with force (--force)" in output
        assert output.count(priority) == 1, output  # named once
    code, _ = run(tmp_path, "sessions", "restart", priority, "--force")
    assert code == 0
    code, output = run(tmp_path, "sessions", "stop", priority)
    assert code == 1
    assert "repeat with force (--force)" in output
    code, _ = run(tmp_path, "sessions", "stop", priority, "--force")
    assert code == 0
    code, output = run(tmp_path, "sessions", "logs", "x;rm -rf /")
    assert code == 2
    assert "invalid" in output.lower()


def test_logs_of_a_session_that_does_not_exist_say_so(fleet: Fleet, tmp_path: Path) -> None:
    """As `start` and `stop` say, with or without -f: nothing printed and exit 0 would read
    as an empty log."""
    fleet.add_pair("uzmobile", TICKING)
    missing = "program9_UZ_uzmobile"
    for follow in ([], ["-f"]):
        code, output = run(tmp_path, "sessions", "logs", missing, *follow)
        assert code == 1, (follow, output)
        assert output.strip() == f"error: session {missing!r} does not exist"
    code, output = run(tmp_path, "sessions", "stop", missing)
    assert code == 1
    assert f"session {missing!r} does not exist" in output


def test_starting_a_paused_pairs_session_says_when_it_will_run(
    fleet: Fleet, tmp_path: Path
) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    fleet.want(name, DesiredState.stopped)
    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    paused = {"state": PairState.paused, "state_reason": "low success"}
    fleet.store.pairs.replace(pair.model_copy(update=paused))
    for _ in range(2):  # asked, then asked again: both say why it does not run
        assert stdout(tmp_path, "sessions", "start", name).strip() == (
            f"{name}: start asked; it was stopped, and is wanted running from now"
            " (its pair UZ_uzmobile"
            " runs no sessions"
            " (low success); it runs when the pair does again)"
        )


def test_users_commands(tmp_path: Path) -> None:
    code, output = run(tmp_path, "db", "upgrade")  # a control plane's data dir
    assert code == 0, output
    code, output = run(
        tmp_path,
        "users",
        "add",
        "alice",
        "--role",
        "operator",
        input="alice-long-password\nalice-long-password\n",
    )
    assert code == 0, output
    code, output = run(tmp_path, "users", "add", "bob", input="short\nshort\n")
    assert code == 1
    assert "password refused" in output
    code, output = run(
        tmp_path, "users", "passwd", "alice", input="another-long-password\nanother-long-password\n"
    )
    assert code == 0, output
    code, output = run(tmp_path, "users", "set", "alice", "--role", "viewer", "--disable")
    assert (code, output.strip()) == (0, "user alice: viewer, disabled")
    code, output = run(tmp_path, "users", "ls")
    assert code == 0, output
    assert [line.split() for line in output.splitlines()] == [
        ["USERNAME", "ROLE", "DISABLED"],
        ["alice", "viewer", "yes"],
    ]
    code, output = run(tmp_path, "users", "set", "alice")
    assert code == 2 and "give --role, --disable or --enable" in output
    code, output = run(tmp_path, "users", "set", "nobody", "--enable")
    assert code == 1 and "nobody" in output
    code, output = run(tmp_path, "db", "upgrade")
    assert code == 0
    assert "config store up to date (sqlite)" in output  # again: nothing to change
    # Whoever ran them on the host is in the audit log, and no password is.
    store = open_config_store(Settings(data_dir=tmp_path).resolved_config_url)
    try:
        events = store.audit.recent(limit=10)
    finally:
        store.close()
    assert [(e.action, e.target, e.actor, e.actor_role) for e in events] == [
        (AuditAction.user_updated, "alice", f"cli:{getpass.getuser()}", Role.admin),
        (AuditAction.user_updated, "alice", f"cli:{getpass.getuser()}", Role.admin),
        (AuditAction.user_created, "alice", f"cli:{getpass.getuser()}", Role.admin),
    ]
    assert events[0].after is not None and events[0].after["disabled"] is True
    assert events[1].after is not None and events[1].after["password_changed"] is True
    assert "long-password" not in repr(events)
    # The last active admin stays one: no one could manage users after.
    code, output = run(
        tmp_path,
        "users",
        "add",
        "root-admin",
        "--role",
        "admin",
        input="root-admin-long-pass\nroot-admin-long-pass\n",
    )
    assert code == 0, output
    for change in (["--role", "viewer"], ["--disable"]):
        code, output = run(tmp_path, "users", "set", "root-admin", *change)
        assert code == 1 and "root-admin is the last active admin" in output, output


def test_a_password_is_asked_for_unseen_with_no_default_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(tmp_path, "db", "upgrade")[0] == 0
    monkeypatch.setattr(cli, "_stdin_is_a_terminal", lambda: True)
    # An empty answer is asked again; the answers are not echoed.
    answers = "\nalice-long-password\nalice-long-password\n"
    code, output = run(tmp_path, "users", "add", "alice", input=answers)
    assert code == 0, output
    assert output.splitlines() == [
        "Password: ",
        "Password: ",
        "Repeat for confirmation: ",
        "user alice added (viewer)",
    ]
    assert "[]" not in output and "long-password" not in output
    code, output = run(tmp_path, "users", "passwd", "alice", input="\nanother-long-pw\n" * 2)
    assert code == 0, output
    assert output.splitlines()[0] == "Password: " and "another" not in output


def test_a_password_piped_in_is_its_first_line(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade")[0] == 0
    data_dir = ["--data-dir", str(tmp_path)]

    def piped(text: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [smsfleet_command(), "users", *args, *data_dir],
            input=text,
            capture_output=True,
            text=True,
            env=clean_environment(),
            check=False,
        )

    added = piped("bob-long-password\n", "add", "bob", "--role", "operator")
    assert (added.returncode, added.stdout, added.stderr) == (0, "user bob added (operator)\n", "")
    changed = piped("bob-other-password\r\nignored\n", "passwd", "bob")
    assert (changed.returncode, changed.stdout) == (0, "password of bob changed\n"), changed.stderr
    empty = piped("", "passwd", "bob")
    assert empty.returncode == 2
    assert "no password on the first line of stdin" in empty.stderr
    store = open_config_store(Settings(data_dir=tmp_path).resolved_config_url)
    try:
        bob = store.users.get("bob")
    finally:
        store.close()
    assert bob is not None
    assert verify_password("bob-other-password", bob.password_hash)


def test_a_command_against_a_data_dir_without_a_control_plane_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commands read the control plane's stores directly: pointed at the wrong data
    dir, they say where they looked rather than make empty databases there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSFLEET_DATA_DIR", raising=False)
    monkeypatch.delenv("SMSFLEET_CONFIG_URL", raising=False)
    monkeypatch.delenv("SMSFLEET_METRICS_URL", raising=False)
    elsewhere = tmp_path / "elsewhere"
    commands = [
        ["sessions", "ls"],
        ["sessions", "start", "program1_UZ_uzmobile"],
        ["sessions", "logs", "program1_UZ_uzmobile"],
        ["pairs", "ls"],
        ["users", "ls"],
        ["users", "set", "alice", "--disable"],
    ]
    for command in commands:
        for given, where in (([], tmp_path / "var"), (["--data-dir", str(elsewhere)], elsewhere)):
            result = runner.invoke(app, [*command, *given])
            assert result.exit_code == 2, (command, result.output)
            assert (
                f"error: no control plane data in {where}: pass --data-dir or set "
                "SMSFLEET_DATA_DIR" in result.output
            ), (command, result.output)
    code, output = run(elsewhere, "users", "add", "alice", input="alice-long-password\n" * 2)
    assert code == 2 and "no control plane data" in output
    monkeypatch.setenv("SMSFLEET_DATA_DIR", str(elsewhere))
    assert runner.invoke(app, ["sessions", "ls"]).exit_code == 2
    assert sorted(tmp_path.iterdir()) == []  # nothing made, here or there

    # `db upgrade` makes the stores on purpose; then the commands read them.
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert (elsewhere / "config.db").exists()
    listed = runner.invoke(app, ["sessions", "ls"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split() == LS_HEADER


def test_the_command_starts_without_loading_the_control_plane() -> None:
    """`smsfleet --help` and the light commands must not wait seconds for the server's
    imports: only the commands that run it (serve, demo, openapi) load it."""
    probe = (
        "import sys; from smsfleet.cli import app;"
        " print(sorted(m for m in ('smsfleet.api', 'smsfleet.stores', 'fastapi', 'sqlalchemy',"
        " 'pymongo', 'uvicorn') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_sessions_ls_of_a_country_or_program_no_session_has_says_so(
    fleet: Fleet, tmp_path: Path
) -> None:
    """An empty table would read as none running there: a filter naming a country or a
    program no session has is refused with the ones that have some, as an unknown name is."""
    name = fleet.add_pair("uzmobile", TICKING)
    fleet.want(name, DesiredState.stopped)
    program = name.partition("_")[0]
    for filters, said in (
        (["--country", "xx"], "no session of country XX (countries with sessions: UZ)"),
        (
            ["--program", "program9"],
            f"no session of program program9 (programs with sessions: {program})",
        ),
    ):
        for output in ([], ["--json"]):
            result = runner.invoke(
                app, ["sessions", "ls", *filters, *output, "--data-dir", str(tmp_path)]
            )
            assert result.exit_code == 1, result.output
            assert result.stderr.strip() == f"error: {said}"
            assert result.stdout == ""
    # One the sessions have, with none in the state asked for: an empty table, exit 0.
    listed = stdout(
        tmp_path, "sessions", "ls", "--country", "uz", "--program", program, "--state", "fatal"
    )
    assert listed.split() == LS_HEADER


def test_sessions_ls_tells_each_sessions_last_heartbeat(fleet: Fleet, tmp_path: Path) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    fleet.want(name, DesiredState.stopped)  # its session written

    def listed() -> dict[str, Any]:
        output = stdout(tmp_path, "sessions", "ls", "--json")
        found: dict[str, Any] = {s["name"]: s for s in json.loads(output)}[name]
        return found

    assert listed()["last_heartbeat"] is None  # no control plane has run: no metrics yet
    beat = datetime(2026, 12, 4, 7, 30, tzinfo=UTC)
    engine = open_metrics_engine(f"sqlite:///{tmp_path / 'metrics.db'}")
    heartbeats = HeartbeatStore(engine)
    heartbeats.beat(name, beat)
    heartbeats.close()  # written
    engine.dispose()
    assert datetime.fromisoformat(listed()["last_heartbeat"]) == beat


def test_sessions_ls_tells_the_supervisors_restarts_from_the_ones_asked_for(
    fleet: Fleet, tmp_path: Path
) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    fleet.want(name, DesiredState.stopped)
    fleet.store.session_status.add(
        SessionStatus(name=name, restarts=4, requested_restarts=1, updated_at=fleet.clock.now())
    )
    header, line = stdout(tmp_path, "sessions", "ls").splitlines()
    assert header.split()[-4:] == ["RESTARTS", "ASKED", "EXIT", "NOTE"]
    assert line.startswith(name) and line.split()[-4:] == ["4", "1", "-", "-"]


def test_sessions_ls_tells_how_the_last_run_ended(fleet: Fleet, tmp_path: Path) -> None:
    """Killed, and killed when the supervisor stopped it for a hang: whole in the EXIT
    column, as wide as it takes, and in --json."""
    name = fleet.add_pair("uzmobile", TICKING)
    fleet.want(name, DesiredState.running)
    fleet.store.session_status.add(
        SessionStatus(
            name=name,
            state=SessionState.fatal,
            last_exit_code=-9,
            last_exit_at=fleet.clock.now(),
            stopped_for="no heartbeat",
            updated_at=fleet.clock.now(),
        )
    )
    header, line = stdout(tmp_path, "sessions", "ls").splitlines()
    column = header.index("EXIT")
    said = "killed by signal 9 (SIGKILL) when stopped (no heartbeat)"
    assert line[column:].startswith(f"{said}  gave up")
    assert header[column:].startswith(f"EXIT{' ' * (len(said) - 4)}  NOTE")
    [listed] = json.loads(stdout(tmp_path, "sessions", "ls", "--json"))
    assert listed["last_exit"] == said


def test_sessions_ls_says_why_a_session_wanted_running_does_not_run(
    fleet: Fleet, tmp_path: Path
) -> None:
    """Its pair paused by the policy, as `sessions start` says it, or without a test
    number: held, not desired running, as /metrics has it; or it crashed and waits for
    its retry, still desired running."""
    held = fleet.add_pair("uzmobile", TICKING)
    crashed = fleet.add_pair("beeline", TICKING)
    numberless = fleet.add_pair("ucell", TICKING, numbers=())
    for name in (held, crashed, numberless):
        fleet.want(name, DesiredState.running)
    pair = fleet.store.pairs.get("UZ_uzmobile")
    assert pair is not None
    reason = "paused by the policy: 12% delivered"
    paused = {"state": PairState.paused, "state_actor": "policy", "state_reason": reason}
    fleet.store.pairs.replace(pair.model_copy(update=paused))
    retry_at = datetime(2026, 1, 5, 21, 34, 56, tzinfo=UTC)
    fleet.store.session_status.add(
        SessionStatus(
            name=crashed,
            state=SessionState.backoff,
            backoff_until=retry_at,
            last_exit_code=-9,
            updated_at=fleet.clock.now(),
        )
    )
    output = stdout(tmp_path, "sessions", "ls")
    lines = {line.split()[0]: line for line in output.splitlines()[1:]}
    note = f"its pair UZ_uzmobile runs no sessions ({reason}); it runs when the pair does again"
    assert lines[held].split()[1:3] == ["stopped", "held"]
    assert lines[held].endswith(f"  {note}")
    assert lines[numberless].split()[1:3] == ["stopped", "held"]
    assert lines[numberless].endswith(
        "  pair UZ_ucell has no test phone number: it sends nothing until one is added"
    )
    assert lines[crashed].split()[1:3] == ["backoff", "running"]
    assert lines[crashed].endswith("  retry at 2026-01-05 21:34:56 UTC")
    output = stdout(tmp_path, "sessions", "start", held)
    assert (
        output.strip()
        == f"{held}: start asked; it was stopped, and is wanted running from now ({note})"
    )
    listed = {s["name"]: s for s in json.loads(stdout(tmp_path, "sessions", "ls", "--json"))}
    # As the API lists it: its own wish, and the note saying why it does not run.
    assert (listed[held]["desired"], listed[held]["note"]) == ("running", note)
    assert listed[held]["retry_at"] is None
    assert listed[crashed]["note"] is None
    assert datetime.fromisoformat(listed[crashed]["retry_at"]) == retry_at


def test_sessions_ls_says_a_session_was_given_up_on_and_a_pair_is_probed(
    fleet: Fleet, tmp_path: Path
) -> None:
    given_up = fleet.add_pair("uzmobile", TICKING)
    probed = fleet.add_pair("beeline", TICKING)
    for name in (given_up, probed):
        fleet.want(name, DesiredState.running)
    # As the supervisor leaves it at 5 quick failures (`SupervisorPolicy`'s default).
    fleet.store.session_status.add(
        SessionStatus(
            name=given_up, state=SessionState.fatal, quick_failures=5, updated_at=fleet.clock.now()
        )
    )
    pair = fleet.store.pairs.get("UZ_beeline")
    assert pair is not None
    fleet.store.pairs.replace(pair.model_copy(update={"state": PairState.probing}))
    output = stdout(tmp_path, "sessions", "ls")
    lines = {line.split()[0]: line for line in output.splitlines()[1:]}
    assert lines[given_up].endswith("  gave up after 5 quick failures: start it again")
    assert lines[probed].endswith(
        "  pair probed after a pause: at most one send per probe interval"
    )


def test_hosts_tells_the_operator_at_the_console_what_ssh_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API names a host that does not answer and no more; the console, which only the
    control plane's own user reaches, says how it was reached and what ssh said."""
    closed = {"ssh": "fleet@127.0.0.1", "port": 1, "connect_timeout_seconds": 2}
    monkeypatch.setenv("SMSFLEET_HOSTS", json.dumps({"edge1": closed}))
    code, output = run(tmp_path, "sessions", "hosts")
    assert code == 1
    (line,) = [line for line in output.splitlines() if line.startswith("edge1")]
    assert "unreachable" in line
    assert "host edge1 does not answer: fleet@127.0.0.1:1: " in line
    assert "refused" in line.lower()


def test_hosts_names_the_screen_directory_it_looked_in_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Screens run under another directory are not seen: `local ok 0` alone would read as
    none running, so the line says where it looked, and what chose that directory."""
    monkeypatch.delenv("SMSFLEET_HOSTS", raising=False)
    chosen = tmp_path / "screens"
    monkeypatch.setenv("SMSFLEET_SCREEN_DIR", str(chosen))
    monkeypatch.setenv("SCREENDIR", str(tmp_path / "ignored"))

    def local_line() -> str:
        code, output = run(tmp_path, "sessions", "hosts")
        assert code == 0, output
        (line,) = [line for line in output.splitlines() if line.startswith("local ")]
        return line.split("ok", 1)[1].strip()

    assert local_line() == f"0 in {chosen} (SMSFLEET_SCREEN_DIR)"
    monkeypatch.delenv("SMSFLEET_SCREEN_DIR")
    other = tmp_path / "other"
    monkeypatch.setenv("SCREENDIR", str(other))
    assert local_line() == f"0 in {other} (SCREENDIR; SMSFLEET_SCREEN_DIR is not set)"
    monkeypatch.delenv("SCREENDIR")
    default = r"\d+ in /\S+ \(screen's default; SMSFLEET_SCREEN_DIR is not set\)"
    assert re.fullmatch(default, local_line()), local_line()


def test_hosts_says_when_sessions_seen_running_are_not_where_it_looked(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run without the control plane's screen directory, `local ok 0` would read as its
    sessions all gone: the line says those it last saw running are not among them."""
    monkeypatch.delenv("SMSFLEET_HOSTS", raising=False)
    monkeypatch.delenv("SMSFLEET_SCREEN_DIR", raising=False)
    monkeypatch.setenv("SCREENDIR", str(tmp_path / "elsewhere"))
    name = fleet.add_pair("uzmobile", TICKING)
    sync_specs(store=fleet.store, clock=fleet.clock)
    fleet.store.session_status.add(
        SessionStatus(name=name, state=SessionState.running, updated_at=fleet.clock.now())
    )
    code, output = run(tmp_path, "sessions", "hosts")
    assert code == 0, output
    (line,) = [line for line in output.splitlines() if line.startswith("local ")]
    assert line.endswith(
        "(SCREENDIR; SMSFLEET_SCREEN_DIR is not set); 1 the control plane last saw running"
        " here not among them: run this with its SMSFLEET_SCREEN_DIR (or SCREENDIR)"
    ), line


NO_CONTROL_PLANE = "warning: no control plane has carried out changes"
TAKES_EFFECT = "this takes effect when one runs (`smsfleet serve` or `make run`)"


def record_tick(data_dir: Path, holder: str, at: datetime) -> None:
    """As a control plane's supervisor records its ticks in the data dir's metrics store."""
    engine = open_metrics_engine(f"sqlite:///{data_dir / 'metrics.db'}")
    try:
        assert SupervisorTicks(engine).ticked(holder, at)
    finally:
        engine.dispose()


def test_changes_no_control_plane_carries_out_are_said_so(fleet: Fleet, tmp_path: Path) -> None:
    """The desired state is written (exit 0) and the command says on stderr that nothing
    acts on it, nor has ever: no supervisor ran."""
    name = fleet.add_pair("uzmobile", TICKING)
    fleet.want(name, DesiredState.stopped)
    for action in ("start", "restart", "stop"):
        result = runner.invoke(app, ["sessions", action, name, "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"{name}: {action} asked"), result.stdout
        assert result.stderr == f"{NO_CONTROL_PLANE} ever: {TAKES_EFFECT}\n"
    listed = runner.invoke(app, ["sessions", "ls", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert listed.stderr == (
        f"{NO_CONTROL_PLANE} ever: changes take effect when one runs (`smsfleet serve` or"
        " `make run`); the states below are as last seen\n"
    )
    assert listed.output.index(NO_CONTROL_PLANE) < listed.output.index("NAME")  # above


def test_changes_a_supervisor_carries_out_are_not_warned_of(fleet: Fleet, tmp_path: Path) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    fleet.want(name, DesiredState.stopped)
    record_tick(tmp_path, "web1", datetime.now(UTC) - timedelta(seconds=2))
    for command in (["start", name], ["ls"], ["ls", "--json"]):
        result = runner.invoke(app, ["sessions", *command, "--data-dir", str(tmp_path)])
        assert (result.exit_code, result.stderr) == (0, ""), (command, result.output)


def test_changes_since_the_last_tick_long_ago_name_its_time(fleet: Fleet, tmp_path: Path) -> None:
    name = fleet.add_pair("uzmobile", TICKING)
    fleet.want(name, DesiredState.stopped)
    last = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=12, seconds=30)
    record_tick(tmp_path, "web1:0a1b", last)
    result = runner.invoke(app, ["sessions", "stop", name, "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    since = human_time(last, now=datetime.now(UTC))
    assert result.stderr == (
        f"{NO_CONTROL_PLANE} since {since} (12 min ago, by web1:0a1b): {TAKES_EFFECT}\n"
    )
    listed = runner.invoke(app, ["sessions", "ls", "--data-dir", str(tmp_path)])
    assert f"{NO_CONTROL_PLANE} since {since} (12 min ago, by web1:0a1b)" in listed.stderr
    # A refused change wrote nothing: it is not warned of.
    priority = fleet.add_pair("beeline", TICKING, high_priority=True)
    fleet.want(priority, DesiredState.running)
    refused = runner.invoke(app, ["sessions", "stop", priority, "--data-dir", str(tmp_path)])
    assert refused.exit_code == 1
    assert NO_CONTROL_PLANE not in refused.stderr


def test_a_running_control_plane_silences_the_warning_until_it_stops(tmp_path: Path) -> None:
    """While its supervisor ticks, no warning; once it stopped, at once, not a few ticks
    later: a command given right after a stop is carried out by nothing either."""
    settings = Settings(
        data_dir=tmp_path,
        web_dir=tmp_path / "no-web",
        screen_dir=tmp_path / "screens",
        supervisor_interval_seconds=0.1,
    )
    with TestClient(create_app(settings)):
        engine = open_metrics_engine(settings.resolved_metrics_url)
        try:
            eventually(
                lambda: SupervisorTicks(engine).last() is not None,
                what="the supervisor to record a tick",
            )
        finally:
            engine.dispose()
        listed = runner.invoke(app, ["sessions", "ls", "--data-dir", str(tmp_path)])
    assert (listed.exit_code, listed.stderr) == (0, ""), listed.output
    after = runner.invoke(app, ["sessions", "ls", "--data-dir", str(tmp_path)])
    assert after.exit_code == 0, after.output
    assert after.stderr.startswith(f"{NO_CONTROL_PLANE} since "), after.stderr
    assert ", which stopped then): changes take effect when one runs" in after.stderr
