"""`smsfleet serve` says so when its programs would run as itself (no SMSFLEET_RUN_AS), or
all as one user (no SMSFLEET_RUN_AS_UIDS)."""

from __future__ import annotations

from pathlib import Path

from smsfleet.cli import RUN_AS_WARNING, SHARED_USER_WARNING
from tests.support.live_server import live_server


def test_serve_warns_when_programs_would_run_as_the_control_plane(tmp_path: Path) -> None:
    for each in ("supervising", "not-supervising"):
        (tmp_path / each).mkdir()
    with live_server(tmp_path / "supervising", SMSFLEET_SUPERVISE="true") as server:
        assert RUN_AS_WARNING in server.log.read_text()
    with live_server(tmp_path / "not-supervising") as server:  # no programs to start here
        assert RUN_AS_WARNING not in server.log.read_text()


def test_serve_warns_when_programs_would_share_one_user(tmp_path: Path) -> None:
    for each in ("shared", "own-uids"):
        (tmp_path / each).mkdir()
    shared = {"SMSFLEET_SUPERVISE": "true", "SMSFLEET_RUN_AS": "nobody"}
    with live_server(tmp_path / "shared", **shared) as server:
        log = server.log.read_text()
        assert SHARED_USER_WARNING in log and RUN_AS_WARNING not in log
    own = {**shared, "SMSFLEET_RUN_AS_UIDS": "61000-61099"}
    with live_server(tmp_path / "own-uids", **own) as server:
        assert SHARED_USER_WARNING not in server.log.read_text()
