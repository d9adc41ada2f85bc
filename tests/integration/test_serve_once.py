"""One control plane per data dir and port: a second `smsfleet serve` that would share
either ends before it starts anything, and the first goes on as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.backends import free_port
from tests.support.fleet import clean_environment
from tests.support.live_server import live_server


def test_a_second_control_plane_on_the_same_data_dir_or_port_starts_nothing(
    tmp_path: Path,
) -> None:
    with live_server(tmp_path) as first:
        port = first.url.rsplit(":", 1)[1]
        env = {
            **clean_environment(),
            "SMSFLEET_DATA_DIR": str(tmp_path / "data"),
            "SMSFLEET_SUPERVISE": "false",
        }
        tries = {
            port: f"cannot listen on 127.0.0.1:{port}",
            str(free_port()): f"another control plane (pid {first.pid}) runs on the data dir",
        }
        for taken_or_free, said in tries.items():
            serve = ["-c", "from smsfleet.cli import app; app()", "serve", "--port", taken_or_free]
            second = subprocess.run(
                [sys.executable, *serve],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 2, second.stderr
            assert said in second.stderr and "nothing was started" in second.stderr
        assert httpx.get(f"{first.url}/healthz").status_code == 200
