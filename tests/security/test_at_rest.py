"""What the control plane writes is private to it, and its generated key is never weak.

`smsfleet serve` in a subprocess (the command a host runs), with a real session in GNU
screen: every file and folder it and its program wrote in the data dir is closed to the
group and to others (umask 077); a `secret_key` file found empty is replaced by a strong
one before anything is signed with it.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path

import httpx
import pytest

from smsfleet.core.settings import MIN_SECRET_LENGTH, SECRET_FILE_NAME
from tests.support.fleet import (
    Rig,
    seed,
    sessions_running,
    started_rig,
)
from tests.support.waiting import START_TIMEOUT, eventually


def _open_to_others(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        try:
            status = path.lstat()
        except FileNotFoundError:  # a spool's temporary file, renamed since it was listed
            continue
        if stat.S_ISLNK(status.st_mode) or stat.S_ISSOCK(status.st_mode):
            continue
        mode = stat.S_IMODE(status.st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found


def test_the_data_dir_is_private(tmp_path: Path) -> None:
    with started_rig(tmp_path) as rig, rig.admin() as client:
        seed(client)
        eventually(lambda: sessions_running(client), START_TIMEOUT, "the sessions running")
        eventually(lambda: bool(rig.attempts()), START_TIMEOUT, "an attempt")
        time.sleep(1)  # logs, status files and spools written
        assert (rig.data_dir / "sessions").is_dir()
        assert _open_to_others(rig.data_dir) == []


@pytest.mark.parametrize("content", ["", "short\n"], ids=["empty", "short"])
def test_a_weak_generated_key_is_replaced_before_use(tmp_path: Path, content: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key = data_dir / SECRET_FILE_NAME
    key.write_text(content)
    rig: Rig
    with started_rig(tmp_path) as rig:
        replaced = key.read_text().strip()
        assert len(replaced) >= MIN_SECRET_LENGTH
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        # Tokens are signed with the new key: a login works, and keeps working.
        with rig.admin() as client:
            assert client.get("/api/v1/auth/me").status_code == 200
        forged = httpx.get(
            f"{rig.url}/api/v1/auth/me", headers={"Authorization": "Bearer x.y.z"}, timeout=10
        )
        assert forged.status_code == 401
