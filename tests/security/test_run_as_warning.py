"""`smsfleet serve` says so when its programs would run as itself (no SMSFLEET_RUN_AS)."""

from __future__ import annotations

from pathlib import Path

from smsfleet.cli import RUN_AS_WARNING
from tests.support.live_server import live_server


def test_serve_warns_when_programs_would_run_as_the_control_plane(tmp_path: Path) -> None:
    for each in ("supervising", "not-supervising"):
        (tmp_path / each).mkdir()
    with live_server(tmp_path / "supervising", SMSFLEET_SUPERVISE="true") as server:
        assert RUN_AS_WARNING in server.log.read_text()
    with live_server(tmp_path / "not-supervising") as server:  # no programs to start here
        assert RUN_AS_WARNING not in server.log.read_text()
