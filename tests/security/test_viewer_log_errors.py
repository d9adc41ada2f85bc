"""A session's log that cannot be read: operators are told why, in the host's own words
(which may carry paths or whatever its login printed); a viewer only that the host does
not answer, as the hosts list tells them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.auth.models import Role
from smsfleet.core.clock import SystemClock
from smsfleet.core.settings import Settings, SshHost
from smsfleet.sessions.service import sync_specs
from smsfleet.stores import open_config_store
from tests.support.api import Api, add_users, program_dir
from tests.support.programs import install_program
from tests.support.sessions import TICKING
from tests.support.sqlite_schemas import migrated_stores

NAME = "ticker_UZ_uzmobile"
# What a host's login may print before its agent speaks: never a viewer's to read.
BANNER = "Welcome to edge1 (root password hint: tulip)"


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    # An `ssh` whose every answer is a login banner, not the agent's JSON.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(f"#!{sys.executable}\nprint({BANNER!r})\n")
    ssh.chmod(0o700)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    settings = Settings(
        data_dir=tmp_path / "data",
        web_dir=tmp_path / "no-web",
        supervise=False,
        hosts={"edge1": SshHost(ssh="fleet@edge1.internal")},
        program_dirs=[program_dir(tmp_path)],
    )
    store = open_config_store(migrated_stores(settings).resolved_config_url)
    add_users(store, SystemClock())
    try:
        with TestClient(create_app(settings, store=store, clock=SystemClock())) as client:
            yield Api(client=client, store=store, clock=SystemClock(), settings=settings)
    finally:
        store.close()


def test_a_viewer_is_told_the_host_does_not_answer_and_no_more(api: Api) -> None:
    command = install_program(api.settings.program_dirs[0], "ticker", TICKING)
    program = {"name": "ticker", "command": command}
    admin = api.headers(Role.admin)
    assert api.client.post("/api/v1/programs", json=program, headers=admin).status_code == 201
    pair = {
        "country": "UZ",
        "operator": "uzmobile",
        "programs": ["ticker"],
        "phone_numbers": ["+998901234567"],
        "host": "edge1",
    }
    assert api.client.post("/api/v1/pairs", json=pair, headers=admin).status_code == 201
    sync_specs(store=api.store, clock=api.clock)  # its session, as the supervisor makes it

    said = {}
    for role in (Role.viewer, Role.operator):
        response = api.client.get(f"/api/v1/sessions/{NAME}/logs", headers=api.headers(role))
        assert response.status_code == 503, response.text
        said[role] = response.json()["error"]["message"]
    assert said[Role.viewer] == f"the log of {NAME} cannot be read now: host edge1 does not answer"
    assert "tulip" in said[Role.operator]
