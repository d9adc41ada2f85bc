"""Programs reach the control plane that started them.

Unless SMSFLEET_PUBLIC_URL says otherwise, `smsfleet serve --port N` tells its programs
`SMSFLEET_URL=http://127.0.0.1:N`: a control plane off the default port still gets its
programs' leases. A program that reaches another control plane is refused there, and
its SDK exits on the refusal rather than sending anything.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from smsfleet.api import create_app
from smsfleet.core.settings import DEFAULT_PORT, Settings, listen_url
from tests.support.backends import free_port
from tests.support.fleet import (
    PHONES,
    REPO,
    SESSIONS,
    SIMULATOR_CONFIG,
    STOP_TIMEOUT,
    Process,
    admin_client,
    clean_environment,
    quit_screens,
    seed,
    short_dir,
    smsfleet_command,
    stop_sessions,
)
from tests.support.servers import ThreadedServer
from tests.support.tokens import issued_token_in
from tests.support.waiting import eventually

EXIT_REFUSED = 3  # the SDK's exit code when the control plane refuses its session


def leased_attempts(data_dir: Path) -> int:
    path = data_dir / "metrics.db"
    if not path.exists():
        return 0
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM attempts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not migrated yet
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),  # noqa: S104 (a name, not a bind)
        ("localhost", "http://localhost:9000"),
        ("::", "http://[::1]:9000"),
        ("::1", "http://[::1]:9000"),
    ],
)
def test_the_public_url_is_where_the_server_listens(host: str, url: str) -> None:
    assert listen_url(host, 9000) == url
    settings = Settings(public_url=None)
    assert settings.listening_on(host, 9000).resolved_public_url == url
    assert settings.resolved_public_url == f"http://127.0.0.1:{DEFAULT_PORT}"
    # Said outright (a proxy, another host), it is kept.
    told = Settings(public_url="https://fleet.example:8443")
    assert told.listening_on(host, 9000).resolved_public_url == "https://fleet.example:8443"


def test_serve_on_another_port_gets_its_programs_leases_and_another_refuses_them(
    tmp_path: Path,
) -> None:
    if shutil.which("screen") is None:
        pytest.fail("GNU screen is missing: install it with `apt-get install -y screen`")
    screen_dir = short_dir()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    simulator_port, port = free_port(), free_port()
    assert port != DEFAULT_PORT
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "simulator.toml"
    config.write_text(
        SIMULATOR_CONFIG.format(
            truth_log=tmp_path / "truth.jsonl", phones=str(PHONES).replace("'", '"')
        )
    )
    config_args = ["--config", str(config)]
    base = clean_environment()  # no SMSFLEET_PUBLIC_URL among them
    simulator = Process(
        "the gateway simulator",
        [sys.executable, "-m", "smsfleet.simulator", "--port", str(simulator_port), *config_args],
        base,
        tmp_path,
        tmp_path / "simulator.log",
        f"{simulator_url}/healthz",
    )
    password = "Public-url-test-password-0123"
    control_plane = Process(
        "the control plane",
        [smsfleet_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        {
            **base,
            "SMSFLEET_DATA_DIR": str(data_dir),
            "SMSFLEET_ADMIN_PASSWORD": password,
            "SMSFLEET_SCREEN_DIR": str(screen_dir),
            "SMSFLEET_SIMULATOR_URL": simulator_url,
            "SMSFLEET_PROGRAMS_DIR": str(REPO),
        },
        tmp_path,
        tmp_path / "control-plane.log",
        f"{url}/healthz",
    )
    try:
        simulator.start()
        control_plane.start()
        with admin_client(url, password) as client:
            seed(client)
            eventually(lambda: leased_attempts(data_dir) >= 2, 60, "the programs' leases")
            stop_sessions(client, timeout=STOP_TIMEOUT)

        # The same program, sent to another control plane (its own secret key): refused.
        secret = (data_dir / "secret_key").read_text().strip()
        other_dir = tmp_path / "other"
        other = ThreadedServer(create_app(Settings(data_dir=other_dir, supervise=False)))
        other.start()
        try:
            session = SESSIONS[0]
            program = subprocess.run(
                [sys.executable, str(REPO / "programs" / "program1.py")],
                env={
                    **base,
                    "SMSFLEET_URL": other.url,
                    "SMSFLEET_SESSION": session,
                    "SMSFLEET_WORKER_TOKEN": issued_token_in(
                        data_dir, secret=secret, session=session
                    ),
                    "SMSFLEET_SIMULATOR_URL": simulator_url,
                    "SMSFLEET_SPOOL_DIR": str(tmp_path / "spool"),
                },
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            other.stop()
        output = program.stdout + program.stderr
        assert program.returncode == EXIT_REFUSED, output
        assert f"did not start session '{session}'" in output
        assert "SMSFLEET_URL" in output
        assert leased_attempts(other_dir) == 0
    finally:
        control_plane.stop()
        simulator.stop()
        quit_screens(screen_dir)
        shutil.rmtree(screen_dir, ignore_errors=True)
