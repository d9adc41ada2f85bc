"""Only an admin, signed in, defines what runs on the hosts, and only what was installed
in the program directories; every change is in the audit log."""

from __future__ import annotations

import os
import py_compile
import shutil
import stat
import sys
import time
import zipapp
from pathlib import Path
from typing import Any

import pytest

from smsfleet.auth.models import Role
from smsfleet.core.settings import Settings
from smsfleet.demo import DEMO_PROGRAMS
from smsfleet.programs.service import ProgramRules, check_command
from tests.support.api import Api
from tests.support.programs import install_program, store_program
from tests.support.security import HP_SESSION, Live
from tests.support.waiting import eventually


def api_key(api: Api, role: Role, scopes: list[str]) -> dict[str, str]:
    created = api.client.post(
        "/api/v1/auth/api-keys",
        json={"name": f"{role.value}-key", "scopes": scopes},
        headers=api.headers(role),
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


def audit(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get("/api/v1/audit", params=params, headers=api.headers(Role.admin))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_no_operator_or_api_key_defines_what_runs(live: Live, tmp_path: Path) -> None:
    api = live.api
    marker = tmp_path / "pwned"
    shell = {"name": "shell", "command": ["/bin/sh", "-c", f"touch {marker}; sleep 60"]}
    before = [program.model_dump() for program in api.store.programs.list()]
    callers = {
        "operator": live.headers(Role.operator),
        "operator's control key": api_key(api, Role.operator, ["read", "control"]),
        "admin's key": api_key(api, Role.admin, ["read", "control"]),
    }
    for who, headers in callers.items():
        created = api.client.post("/api/v1/programs", json=shell, headers=headers)
        assert created.status_code == 403, (who, created.text)
        assert created.json()["error"]["code"] == "forbidden"
        changed = api.client.patch(
            "/api/v1/programs/ticker", json={"command": shell["command"]}, headers=headers
        )
        assert changed.status_code == 403, (who, changed.text)
        deleted = api.client.delete("/api/v1/programs/ticker", headers=headers)
        assert deleted.status_code == 403, (who, deleted.text)
        pair = {"country": "UZ", "operator": "UzMobile", "programs": ["shell"]}
        refused = api.client.post("/api/v1/pairs", json=pair, headers=headers)
        assert refused.status_code in (403, 422), (who, refused.text)
    key_refusal = api.client.post("/api/v1/programs", json=shell, headers=callers["admin's key"])
    assert "API key" in key_refusal.json()["error"]["message"]
    assert [program.model_dump() for program in api.store.programs.list()] == before
    time.sleep(1)  # ten supervisor ticks
    assert [entry.name for entry in live.screens.list()] == [HP_SESSION]
    assert not marker.exists()
    assert audit(api, action="program.updated") == []


def test_an_admin_program_must_be_installed_in_the_program_directories(
    live: Live, tmp_path: Path
) -> None:
    api, admin = live.api, live.headers()
    outside = install_program(tmp_path / "elsewhere", "outside", "print('outside')")[1]
    (live.programs / "escape.py").symlink_to(outside)
    (live.programs / "sh").symlink_to("/bin/sh")
    # Copies of a shell and an interpreter, as a version names them, or renamed.
    for name, original in (("dash.static", "/bin/dash"), ("perl5.36", "/usr/bin/perl")):
        shutil.copy(original, live.programs / name)
    shutil.copy("/bin/bash", live.programs / "runner")
    no_exec = live.programs / "plain"
    no_exec.write_text("#!/bin/sh\necho plain\n")
    ticker = live.programs / "ticker.py"
    assert ticker.is_file()
    notes = live.programs / "NOTES.md"
    notes.write_text("# Programs\n\nInstalled by hand: ask before changing them.\n")
    nested = live.programs / "nested.py"
    nested.write_text("x = 1" + " + 1" * 200_000 + "\n")  # past what the compiler takes
    # Compiling it would hold the control plane's interpreter for seconds: not read.
    large = live.programs / "large.py"
    large.write_text("x = 1\n" * (1024 * 1024 // 6 + 1))
    refused = {
        "shell": (["/bin/sh", "-c", "id"], "command.0"),
        "python -c": ([sys.executable, "-c", "print(1)"], "command.1"),
        "python -m": ([sys.executable, "-m", "http.server"], "command.1"),
        "bare name": (["sleep", "60"], "command.0"),
        "dot-dot": ([sys.executable, f"{live.programs}/../elsewhere/outside.py"], "command.1"),
        "relative dot-dot": ([sys.executable, "../../etc/passwd"], "command.1"),
        # Each process reads these as its own: the checker's root or cwd, not the program's.
        "through /proc": ([sys.executable, f"/proc/self/root{ticker}"], "command.1"),
        "through /dev": ([sys.executable, "/dev/stdin"], "command.1"),
        "through //proc": ([sys.executable, f"//proc/self/root{ticker}"], "command.1"),
        "through /./proc": ([sys.executable, f"/./proc/self/root{ticker}"], "command.1"),
        "outside": ([sys.executable, outside], "command.1"),
        "symlink out": ([sys.executable, str(live.programs / "escape.py")], "command.1"),
        "symlink to a shell": ([str(live.programs / "sh"), "-c", "id"], "command.0"),
        "copy of a shell": ([str(live.programs / "dash.static"), "-c", "id"], "command.0"),
        "copy of perl": ([str(live.programs / "perl5.36"), "-e", "1"], "command.0"),
        "renamed shell": ([str(live.programs / "runner"), "-c", "id"], "command.0"),
        "directory": ([str(live.programs)], "command.0"),
        "missing": ([sys.executable, str(live.programs / "missing.py")], "command.1"),
        "not executable": ([str(no_exec)], "command.0"),
        "other python": (["python3", str(live.programs / "ticker.py")], "command.0"),
        # A Python runs it as a script: one that could never run is no program.
        "not python": ([sys.executable, str(notes)], "command.1"),
        "nested past the compiler": ([sys.executable, str(nested)], "command.1"),
        "over 1 MiB": ([sys.executable, str(large)], "command.1"),
    }
    for case, (command, field) in refused.items():
        response = api.client.post(
            "/api/v1/programs", json={"name": "evil", "command": command}, headers=admin
        )
        assert response.status_code == 422, (case, response.text)
        error = response.json()["error"]
        assert error["details"][0]["field"] == field, (case, error)
        changed = api.client.patch(
            "/api/v1/programs/ticker", json={"command": command}, headers=admin
        )
        assert changed.status_code == 422, (case, changed.text)
    assert api.store.programs.get("evil") is None
    assert [event["action"] for event in audit(api, target_kind="program")] == ["program.created"]

    app = live.programs / "app.pyz"
    install_program(tmp_path / "source", "__main__", "print('app')")
    zipapp.create_archive(tmp_path / "source", app)
    zipped = api.client.post(
        "/api/v1/programs",
        json={"name": "zipped", "command": [sys.executable, str(app)]},
        headers=admin,
    )
    assert zipped.status_code == 201, zipped.text
    compiled = py_compile.compile(str(ticker), cfile=str(live.programs / "ticker.pyc"))
    as_code = api.client.post(
        "/api/v1/programs",
        json={"name": "compiled", "command": [sys.executable, compiled]},
        headers=admin,
    )
    assert as_code.status_code == 201, as_code.text

    executable = live.programs / "direct"
    executable.write_text("#!/bin/sh\nexec sleep 60\n")
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    ok = api.client.post(
        "/api/v1/programs", json={"name": "direct", "command": [str(executable)]}, headers=admin
    )
    assert ok.status_code == 201, ok.text


def test_program_changes_are_audited_with_who_and_what(live: Live) -> None:
    api, admin = live.api, live.headers()
    command = install_program(live.programs, "other", "print('other')")
    assert (
        api.client.post(
            "/api/v1/programs", json={"name": "other", "command": command}, headers=admin
        ).status_code
        == 201
    )
    changed = api.client.patch(
        "/api/v1/programs/other", json={"description": "changed"}, headers=admin
    )
    assert changed.status_code == 200
    assert api.client.delete("/api/v1/programs/other", headers=admin).status_code == 204
    events = audit(api, target="other")
    assert [e["action"] for e in events] == [
        "program.deleted",
        "program.updated",
        "program.created",
    ]
    deleted, updated, created = events
    assert all(e["actor"] == "admin" and e["api_key_id"] is None for e in events)
    assert created["before"] is None and created["after"]["command"] == command
    assert updated["before"]["description"] == "" and updated["after"]["description"] == "changed"
    assert deleted["before"]["name"] == "other" and deleted["after"] is None
    assert audit(api, action="program.created", target="other") == [created]
    for role in (Role.viewer, Role.operator):
        refused = api.client.get("/api/v1/audit", headers=api.headers(role))
        assert refused.status_code == 403


def test_a_new_command_for_a_high_priority_program_takes_force(live: Live) -> None:
    api, admin = live.api, live.headers()
    command = install_program(live.programs, "ticker2", "import time\ntime.sleep(60)\n")
    refused = api.client.patch("/api/v1/programs/ticker", json={"command": command}, headers=admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "force_required"
    assert "IN_vi" in refused.json()["error"]["message"]
    forced = api.client.patch(
        "/api/v1/programs/ticker", params={"force": True}, json={"command": command}, headers=admin
    )
    assert forced.status_code == 200, forced.text
    (event,) = audit(api, action="program.updated")
    assert event["forced"] is True and event["after"]["command"] == command


def test_the_demo_programs_are_installed_programs() -> None:
    rules = ProgramRules.from_settings(Settings(_env_file=None))
    for program in DEMO_PROGRAMS:
        check_command(program.command, rules)


def test_relative_program_dirs_are_taken_from_where_the_control_plane_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    settings = Settings(_env_file=None, program_dirs="./mine, /opt/../opt")
    assert settings.program_dirs == [tmp_path / "mine", Path(os.path.realpath("/opt"))]


def test_a_stored_program_outside_the_program_directories_never_runs(
    live: Live, tmp_path: Path
) -> None:
    """A program kept from before these rules is checked again at every start."""
    api = live.api
    marker = tmp_path / "pwned"
    store_program(
        api.store.programs, api.clock, "legacy", ["/bin/sh", "-c", f"touch {marker}; sleep 60"]
    )
    pair = {
        "country": "UZ",
        "operator": "UzMobile",
        "is_high_priority": True,
        "phone_numbers": ["+998901234567"],  # a pair with none holds its sessions stopped
    }
    made = api.client.post(
        "/api/v1/pairs", json={**pair, "programs": ["legacy"]}, headers=live.headers()
    )
    assert made.status_code == 201, made.text
    name = "legacy_UZ_uzmobile"

    def refused() -> list[dict[str, Any]]:
        events = api.client.get(f"/api/v1/sessions/{name}/events", headers=live.headers())
        if events.status_code != 200:  # not seen by the supervisor yet
            return []
        return [e for e in events.json() if e["kind"] == "start_failed"]

    eventually(refused, timeout=15)
    assert "outside the program directories" in refused()[0]["reason"]
    assert live.screens.find(name) is None
    assert not marker.exists()
