"""What the browser tests share with their fixtures (tests/e2e/conftest.py): the running
control plane's description, where screenshots go, the states of a session at rest, and
alerts raised by hand."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.programs import install_program

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
# States in which a session has no process left.
AT_REST = {"stopped", "exited", "fatal"}


@dataclass(frozen=True)
class ControlPlane:
    url: str
    admin_password: str
    screen_dir: Path
    data_dir: Path
    # Host `edge1` of its inventory: a loopback sshd with screens of its own.
    edge_screen_dir: Path
    # A program directory of its own (beside the checkout's), where tests install programs.
    programs_dir: Path

    def install(self, name: str, source: str) -> list[str]:
        """Install `source` as a program, as an admin would; the command that runs it."""
        return install_program(self.programs_dir, name, source)


@contextmanager
def raised_alerts(api: httpx.Client, messages: Iterable[str]) -> Iterator[list[str]]:
    """Alerts raised by hand (the seed's `POST /alert`, critical), their ids; acknowledged,
    so resolved, afterwards."""
    ids = []
    try:
        for message in messages:
            response = api.post("/alert", json={"message": message})
            assert response.status_code == 202, response.text
            ids.append(response.json()["alert_id"])
        yield ids
    finally:
        for alert_id in ids:
            api.post(f"/api/v1/alerts/{alert_id}/ack", json={})
