"""Programs run as an unprivileged user (`SMSFLEET_RUN_AS`): they reach their own spool
folder and nothing else of the control plane's, neither its files nor its /proc.

A real control plane with its supervisor on GNU screen (as root, as the tests run),
programs as `nobody`. The program is a probe that reports what it could reach.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.auth.models import Role
from smsfleet.core.clock import SystemClock
from smsfleet.core.settings import Settings
from smsfleet.stores import open_config_store
from tests.support.api import Api, add_users
from tests.support.fleet import short_dir
from tests.support.sessions import require_screen
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


def test_programs_run_as_the_configured_user_and_reach_only_their_spool(
    world_reachable: Path,
) -> None:
    require_screen()
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.fail(f"{SYSTEM_PYTHON} is missing: install Debian's python3")
    programs = world_reachable / "programs"
    programs.mkdir()
    programs.chmod(0o755)  # whatever umask an earlier test of this process left
    probe = programs / "probe"
    probe.write_text(PROBE)
    probe.chmod(0o755)
    data_dir = world_reachable / "data"
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
    )
    # As every `smsfleet` command (and the systemd unit) runs: what it writes is private.
    umask = os.umask(0o077)
    store = open_config_store(settings.resolved_config_url)
    clock = SystemClock()
    add_users(store, clock)
    log = data_dir / "sessions" / f"{SESSION}.log"
    try:
        with TestClient(create_app(settings, store=store, clock=clock)) as client:
            api = Api(client=client, store=store, clock=clock, settings=settings)
            admin = api.headers(Role.admin)
            command = [str(probe), str(data_dir), str(os.getpid())]
            made = client.post(
                "/api/v1/programs", json={"name": "probe", "command": command}, headers=admin
            )
            assert made.status_code == 201, made.text
            pair = {"country": "UZ", "operator": "UzMobile", "programs": ["probe"]}
            assert client.post("/api/v1/pairs", json=pair, headers=admin).status_code == 201
            started = client.post(f"/api/v1/sessions/{SESSION}/start", headers=admin)
            assert started.status_code == 200, started.text
            eventually(lambda: log.exists() and "PROBE " in log.read_text(), timeout=20)
            line = next(x for x in log.read_text().splitlines() if "PROBE " in x)
            found = json.loads(line.split("PROBE ", 1)[1])
            client.post(f"/api/v1/sessions/{SESSION}/stop", json={"force": True}, headers=admin)
    finally:
        os.umask(umask)
        store.close()
        shutil.rmtree(screen_dir, ignore_errors=True)
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
