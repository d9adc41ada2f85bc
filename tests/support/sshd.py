"""A real OpenSSH server on loopback, for sessions on "remote" hosts of this machine.

It accepts one generated client key for the current user; the client checks its
generated host key strictly through a known_hosts file of its own.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from smsfleet.core.settings import SshHost

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


@dataclass
class SshServer:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def client_key(self) -> Path:
        return self.directory / "client_key"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    def start(self) -> None:
        with (self.directory / "sshd.log").open("ab") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.directory / "sshd_config")],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    said = (self.directory / "sshd.log").read_text(errors="replace")
                    pytest.fail(f"sshd did not start on port {self.port}: {said[-2000:]}")
                time.sleep(0.05)

    def stop(self) -> None:
        """The host goes away: the server and every connection it holds."""
        if self.process is None:
            return
        # Each login is a child process that outlives the listener: end them too.
        listener = psutil.Process(self.process.pid)
        for process in [*listener.children(recursive=True), listener]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.process.wait(10)
        self.process = None

    def host(self, data_dir: Path, screen_dir: Path, **overrides: object) -> SshHost:
        """An inventory entry for a host of this server, with its own data and screens."""
        fields: dict[str, object] = {
            "ssh": f"{getpass.getuser()}@127.0.0.1",
            "port": self.port,
            "identity_file": self.client_key,
            "known_hosts_file": self.known_hosts,
            "python": sys.executable,
            "data_dir": str(data_dir),
            "screen_dir": str(screen_dir),
            "connect_timeout_seconds": 3,
        }
        return SshHost.model_validate({**fields, **overrides})


def start_sshd(directory: Path) -> SshServer:
    if not Path(SSHD).exists() or shutil.which("ssh") is None:
        pytest.fail(
            "OpenSSH is not installed: `make test` installs it"
            " (or apt-get install openssh-server openssh-client)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    _keygen(directory / "host_key")
    server = SshServer(directory=directory, port=port)
    _keygen(server.client_key)
    shutil.copy(directory / "client_key.pub", directory / "authorized_keys")
    host_key = (directory / "host_key.pub").read_text().split()[:2]
    server.known_hosts.write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege-separation dir
    # A home of the host's own, with no shell start-up files: a login runs no one's
    # ~/.bashrc (a `pyenv init` there, killed mid-login as `stop` ends a host, left a lock
    # that held every later login for a minute).
    home = directory / "home"
    home.mkdir(exist_ok=True)
    (directory / "sshd_config").write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {directory / "host_key"}
AuthorizedKeysFile {directory / "authorized_keys"}
PidFile {directory / "sshd.pid"}
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxSessions 100
MaxStartups 100:30:200
SetEnv HOME={home}
"""
    )
    server.start()
    return server
