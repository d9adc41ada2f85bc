"""Programs run as an unprivileged user (`SMSFLEET_RUN_AS`): they reach their own spool
folder and nothing else of the control plane's, neither its files nor its /proc.

A real control plane with its supervisor on GNU screen (as root, as the tests run),
programs as `nobody`. The program is a probe that reports what it could reach.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.auth.models import Role
from smsfleet.core.clock import SystemClock
from smsfleet.core.settings import Settings
from smsfleet.sessions.screen import RUNNER_PATH
from smsfleet.stores import open_config_store
from tests.support.api import Api, add_users
from tests.support.fleet import short_dir
from tests.support.sessions import require_screen
from tests.support.sqlite_schemas import migrated_stores
from tests.support.waiting import eventually

SYSTEM_PYTHON = "/usr/bin/python3"
SESSION = "probe_UZ_uzmobile"
# What a program of another user could try: read the stores and the key, list the data
# dir, read the control plane's environment; and write its own spool.
PROBE = f"""#!{SYSTEM_PYTHON}
import json, os, pathlib, sys

data, control_plane = pathlib.Path(sys.argv[1]), sys.argv[2]

def readable(path):
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        return True
    except OSError:
        return False

def listable(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False

spool = pathlib.Path(os.environ["SMSFLEET_SPOOL_DIR"])
(spool / "probe.json").write_text("{{}}")
found = {{
    "uid": os.getuid(),
    "home": os.environ.get("HOME"),
    "config_db": readable(data / "config.db"),
    "metrics_db": readable(data / "metrics.db"),
    "secret_key": readable(data / "secret_key"),
    "session_log": readable(data / "sessions" / "{SESSION}.log"),
    "data_dir_listed": listable(data),
    "control_plane_environ": readable(f"/proc/{{control_plane}}/environ"),
}}
print("PROBE " + json.dumps(found), flush=True)
import time
time.sleep(600)
"""


@pytest.fixture
def world_reachable() -> Iterator[Path]:
    """A folder others may pass through (pytest's own temporary folders are closed)."""
    base = Path(tempfile.mkdtemp(prefix="sf-runas-", dir="/tmp"))
    base.chmod(0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def _programs_as_nobody(base: Path, probe: str, source: str, **extra: Any) -> Iterator[Api]:
    """A control plane on GNU screen whose programs run as `nobody` (`extra`: more
    settings), with the probe `source` installed as the program file `probe`. What it
    writes is private (umask 077), as every `smsfleet` command (and the systemd unit) runs."""
    require_screen()
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.fail(f"{SYSTEM_PYTHON} is missing: install Debian's python3")
    programs = base / "programs"
    programs.mkdir()
    programs.chmod(0o755)  # whatever umask an earlier test of this process left
    (programs / probe).write_text(source)
    (programs / probe).chmod(0o755)
    data_dir = base / "data"
    screen_dir = short_dir("sf-runas-")
    settings = Settings(
        data_dir=data_dir,
        web_dir=data_dir / "no-web",
        screen_dir=screen_dir,
        supervisor_interval_seconds=0.1,
        start_seconds=0.2,
        stop_grace_seconds=1,
        program_dirs=[programs],
        programs_dir=programs,
        run_as="nobody",
        **extra,
    )
    umask = os.umask(0o077)
    store = open_config_store(migrated_stores(settings).resolved_config_url)
    clock = SystemClock()
    add_users(store, clock)
    try:
        with TestClient(create_app(settings, store=store, clock=clock)) as client:
            yield Api(client=client, store=store, clock=clock, settings=settings)
    finally:
        os.umask(umask)
        store.close()
        shutil.rmtree(screen_dir, ignore_errors=True)


def _add(api: Api, programs: dict[str, list[str]]) -> None:
    """Programs by name (their argv), and the pair UZ_uzmobile that runs them all."""
    admin = api.headers(Role.admin)
    for name, command in programs.items():
        body = {"name": name, "command": command}
        made = api.client.post("/api/v1/programs", json=body, headers=admin)
        assert made.status_code == 201, made.text
    pair = {
        "country": "UZ",
        "operator": "UzMobile",
        "programs": list(programs),
        "phone_numbers": ["+998901234567"],  # without one, its sessions are held stopped
    }
    assert api.client.post("/api/v1/pairs", json=pair, headers=admin).status_code == 201


def _start(api: Api, session: str) -> None:
    started = api.client.post(f"/api/v1/sessions/{session}/start", headers=api.headers(Role.admin))
    assert started.status_code == 200, started.text


def _stop(api: Api, session: str) -> None:
    """Stopped before the control plane goes (its screens would outlive it)."""
    admin = api.headers(Role.admin)
    api.client.post(f"/api/v1/sessions/{session}/stop", json={"force": True}, headers=admin)
    eventually(
        lambda: (
            api.client.get(f"/api/v1/sessions/{session}", headers=admin).json()["state"]
            in ("stopped", "exited")
        ),
        timeout=10,
    )


def test_programs_run_as_the_configured_user_and_reach_only_their_spool(
    world_reachable: Path,
) -> None:
    data_dir = world_reachable / "data"
    with _programs_as_nobody(world_reachable, "probe", PROBE) as api:
        probe = world_reachable / "programs" / "probe"
        _add(api, {"probe": [str(probe), str(data_dir), str(os.getpid())]})
        _start(api, SESSION)
        found = _probed(data_dir / "sessions" / f"{SESSION}.log")
        _stop(api, SESSION)
    assert found == {
        "uid": 65534,
        "home": "/nonexistent",
        "config_db": False,
        "metrics_db": False,
        "secret_key": False,
        "session_log": False,
        "data_dir_listed": False,
        "control_plane_environ": False,
    }
    spool = data_dir / "spool" / SESSION
    assert spool.stat().st_uid == 65534
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    assert (spool / "probe.json").exists()


# Two sessions' programs, each asked to reach the other's: its worker token (in its
# environment) and its spool. They probe once the test says both run (`go`).
NEIGHBOUR_PROBE = f"""#!{SYSTEM_PYTHON}
import json, os, pathlib, sys, time

other, go = sys.argv[1], pathlib.Path(sys.argv[2])
spool = pathlib.Path(os.environ["SMSFLEET_SPOOL_DIR"])
(spool / "mine.txt").write_text("private")
while not go.exists():
    time.sleep(0.05)
tokens = 0
for environ in pathlib.Path("/proc").glob("[0-9]*/environ"):
    try:
        items = environ.read_bytes().split(b"\\0")
    except OSError:
        continue
    if b"SMSFLEET_SESSION=" + other.encode() in items:
        tokens += any(item.startswith(b"SMSFLEET_WORKER_TOKEN=") for item in items)
try:
    (spool.parent / other / "mine.txt").read_text()
    read_spool = True
except OSError:
    read_spool = False
found = {{"uid": os.getuid(), "gid": os.getgid(), "home": os.environ.get("HOME"),
          "others_tokens": tokens, "others_spool": read_spool}}
print("PROBE " + json.dumps(found), flush=True)
time.sleep(600)
"""
UIDS = (61000, 61009)


def _probed(log: Path) -> dict[str, Any]:
    """What a probe found, once its log says."""
    eventually(lambda: log.exists() and "PROBE " in log.read_text(), timeout=20)
    line = next(x for x in log.read_text().splitlines() if "PROBE " in x)
    found: dict[str, Any] = json.loads(line.split("PROBE ", 1)[1])
    return found


def test_with_a_range_of_uids_each_program_runs_as_its_own_and_reaches_no_other(
    world_reachable: Path,
) -> None:
    go = world_reachable / "go"
    data_dir = world_reachable / "data"
    sessions = {"left_UZ_uzmobile": "right_UZ_uzmobile", "right_UZ_uzmobile": "left_UZ_uzmobile"}
    found: dict[str, dict[str, Any]] = {}
    with _programs_as_nobody(
        world_reachable, "neighbour", NEIGHBOUR_PROBE, run_as_uids=UIDS
    ) as api:
        probe = str(world_reachable / "programs" / "neighbour")
        _add(api, {s.split("_", 1)[0]: [probe, other, str(go)] for s, other in sessions.items()})
        for session in sessions:
            _start(api, session)
        spools = [data_dir / "spool" / session / "mine.txt" for session in sessions]
        eventually(lambda: all(spool.exists() for spool in spools), timeout=20)
        go.write_text("")
        go.chmod(0o644)
        for session in sessions:
            found[session] = _probed(data_dir / "sessions" / f"{session}.log")
        for session in sessions:
            _stop(api, session)
    uids = {session: figures.pop("uid") for session, figures in found.items()}
    assert len(set(uids.values())) == 2, uids
    assert all(UIDS[0] <= uid <= UIDS[1] for uid in uids.values()), uids
    nobody = 65534
    assert found == {
        session: {
            "gid": nobody,
            "home": str(data_dir / "spool" / session),
            "others_tokens": 0,
            "others_spool": False,
        }
        for session in sessions
    }
    for session, uid in uids.items():
        assert (data_dir / "spool" / session).stat().st_uid == uid


def test_a_uid_is_cleared_of_what_a_program_left_and_never_shared(tmp_path: Path) -> None:
    """A program its runner's kill -9 left behind keeps its uid: the next runner to take
    that uid ends it first. A uid whose runner lives is never taken by another."""
    uid = UIDS[1]
    locks = tmp_path / "uids"
    leftover = subprocess.Popen(["sleep", "60"], user=uid, group=65534)

    def runner(name: str) -> tuple[int, dict[str, object], str]:
        status, log = tmp_path / f"{name}.json", tmp_path / f"{name}.log"
        options = ["--status-file", str(status), "--log-file", str(log), "--run-as", "nobody"]
        options += ["--run-as-uids", f"{uid}-{uid}", "--uid-locks", str(locks)]
        done = subprocess.run(
            [sys.executable, RUNNER_PATH, *options, "--", "/usr/bin/id", "-u"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        return done.returncode, json.loads(status.read_text()), log.read_text()

    try:
        code, _, log = runner("first")
        assert code == 0 and f" {uid}\n" in log
        assert leftover.wait(timeout=5) == -signal.SIGKILL
        # A runner still holding the uid (its lock) keeps it its own.
        with open(locks / str(uid), "rb+") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            code, status, _ = runner("second")
        assert code == 127
        assert f"every uid of {uid}-{uid} runs a session" in str(status["error"])
    finally:
        leftover.kill()
        leftover.wait()


def test_a_set_uid_file_left_by_a_uid_gives_no_other_program_that_uid(
    world_reachable: Path,
) -> None:
    """A program may leave a set-uid copy of a binary while its uid is its own; once that
    uid is another session's, a program running it must not become that uid (and read
    that session's environment, its worker token): no exec gains privileges."""
    planted_uid, own_uid = UIDS
    planted = world_reachable / "planted-id"
    shutil.copy("/usr/bin/id", planted)
    os.chown(planted, planted_uid, 65534)
    planted.chmod(0o4755)
    status, log = world_reachable / "run.json", world_reachable / "run.log"
    options = ["--status-file", str(status), "--log-file", str(log), "--run-as", "nobody"]
    options += ["--run-as-uids", f"{own_uid}-{own_uid}"]
    options += ["--uid-locks", str(world_reachable / "uids")]
    done = subprocess.run(
        [sys.executable, RUNNER_PATH, *options, "--", str(planted)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (done.stderr, status.read_text())
    said = log.read_text()
    assert f"uid={own_uid}" in said
    # Without the runner's guard: "euid=61000", the planted file's owner.
    assert "euid=" not in said, said
